package proto

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/registry"
)

func TestRoundTrip(t *testing.T) {
	in := Spawn{Factory: "Counter@ab12", Args: []byte{0xa0}, Name: "c", Isolated: true, Node: "n2",
		Restart: wasmactor.Restart{Policy: wasmactor.Permanent, MaxRestarts: 2}}
	var out Spawn
	require.NoError(t, Unmarshal(Marshal(in), &out))
	require.Equal(t, in, out)
}

func TestStrict(t *testing.T) {
	var s Spawn
	// Indefinite-length map.
	require.ErrorIs(t, Unmarshal([]byte{0xbf, 0x01, 0x61, 'x', 0xff}, &s), wasmactor.ErrBadArgument)
	// Duplicate key.
	require.ErrorIs(t, Unmarshal([]byte{0xa2, 0x01, 0x61, 'x', 0x01, 0x61, 'y'}, &s), wasmactor.ErrBadArgument)
	// Tag.
	require.ErrorIs(t, Unmarshal([]byte{0xc1, 0x00}, &s), wasmactor.ErrBadArgument)
	// A huge declared length must not allocate it.
	require.ErrorIs(t, Unmarshal([]byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, &[]Watch{}), wasmactor.ErrBadArgument)
}

// Listings of a whole node are far longer than an envelope batch may be:
// the shared strict mode must not cap them at wire.MaxBatch.
func TestListingsLongerThanABatchDecode(t *testing.T) {
	ps := make([]ActorInfo, 20_000)
	for i := range ps {
		ps[i] = ActorInfo{PID: wasmactor.PID{Node: "n1", Incarnation: 1, Serial: uint64(i + 1)}, Factory: "Counter"}
	}
	var back []ActorInfo
	require.NoError(t, Unmarshal(Marshal(ps), &back))
	require.Equal(t, ps, back)
}

func FuzzControlBodies(f *testing.F) {
	f.Add(Marshal(Spawn{Factory: "Counter"}))
	f.Add(Marshal(Sync{Names: nil}))
	f.Add(Marshal(Down{Ref: 1, Reason: "noconnection"}))
	f.Add(Marshal(NameRef{Name: "svc", PID: wasmactor.PID{Node: "n1", Incarnation: 1, Serial: 2}}))
	f.Add(Marshal(map[int]any{1: "svc", 2: wasmactor.PID{Node: "n1", Incarnation: 1, Serial: 2}, 3: int64(1)})) // a claim with a time
	f.Add(Marshal(SpawnRequest{Req: 1, Spawn: Spawn{Factory: "Counter"}, Link: true, MonitorRef: 2}))
	f.Add(Marshal(Spawned{Req: 1, Code: 3, Message: "unknown factory"}))
	f.Add(Marshal(GroupChange{Group: "g", Leave: true}))
	f.Add(Marshal(PsPage{Actors: []ActorInfo{{Factory: "F", NamesTotal: 40}}, Next: &PsCursor{Node: "n2", Serial: 3}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Every body a peer's cast or call can carry.
		for _, v := range []any{&Spawn{}, &Sync{}, &Down{}, &Message{}, &Watch{}, &Exit{}, &Module{},
			&NameRef{}, &GroupRef{}, &registry.Claim{}, &Link{}, &Target{}, &ActorRef{},
			&SpawnRequest{}, &Spawned{}, &GroupChange{}, &NodeEventsRequest{}, &GroupsRequest{}, &GroupMessage{},
			&PsRequest{}, &PsPage{}, &NodesReply{}} {
			_ = Unmarshal(b, v) // must not panic or blow up memory
		}
	})
}

func TestPageBytes(t *testing.T) {
	for _, tc := range []struct{ asked, got int }{
		{0, DefaultPageBytes},
		{1, MinPageBytes},
		{MinPageBytes + 1, MinPageBytes + 1},
		{DefaultPageBytes * 8, DefaultPageBytes},
		{-5, MinPageBytes},
	} {
		require.Equal(t, tc.got, PsRequest{MaxBytes: tc.asked}.PageBytes(), "asked %d", tc.asked)
	}
}
