package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// Real Go guests (GOOS=wasip1, -buildmode=c-shared, the guest SDK) through
// the engine: _initialize, factories, START with CBOR args, TELL, ASK and
// reply, snapshot.
func TestGoGuestCounter(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	wasm := guestbuildtest.Build(t, "examples/counter")
	h := &fakeHost{}
	e := newEngine(t, Config{CacheDir: guestCompileCache(t)}, nil)
	m, err := e.Compile(context.Background(), wasm)
	require.NoError(t, err)
	defer m.Close(context.Background())
	require.Contains(t, m.Factories(), "Counter")

	inst, err := e.Instantiate(context.Background(), m, h)
	require.NoError(t, err)
	defer inst.Close(context.Background())

	enc := func(v any) []byte {
		b, err := cbor.Marshal(v)
		require.NoError(t, err)
		return b
	}
	var b Batch
	b.Add(&Record{Kind: abi.KindStart, Actor: 1, Factory: "Counter", Payload: enc(map[string]int64{"start": 10})})
	b.Add(&Record{Kind: abi.KindTell, Actor: 1, From: abi.PID{Incarnation: 2, Serial: 3}, Payload: enc(map[string]any{"op": "inc", "by": 5})})
	b.Add(&Record{Kind: abi.KindAsk, Actor: 1, From: abi.PID{Incarnation: 2, Serial: 3}, Ref: 7, Payload: enc(map[string]any{"op": "get"})})
	require.NoError(t, inst.Deliver(context.Background(), &b))

	replies := h.Calls("reply")
	require.Len(t, replies, 1)
	require.Equal(t, abi.PID{Incarnation: 2, Serial: 3}, replies[0].To)
	require.Equal(t, uint64(7), replies[0].Ref)
	var got map[string]int64
	require.NoError(t, cbor.Unmarshal(replies[0].Msg, &got))
	require.Equal(t, map[string]int64{"value": 15}, got)

	state, ok, err := inst.Snapshot(context.Background(), 1)
	require.NoError(t, err)
	require.True(t, ok)
	require.NotEmpty(t, state)
	_, err = inst.SnapshotState(context.Background(), 99)
	var refusal *Refusal
	require.ErrorAs(t, err, &refusal)
	require.Equal(t, abi.SnapshotNoActor, refusal.Code)

	// A second instance of the same module, restored from the snapshot.
	other, err := e.Instantiate(context.Background(), m, h)
	require.NoError(t, err)
	defer other.Close(context.Background())
	b.Reset()
	b.Add(&Record{Kind: abi.KindRestore, Actor: 2, Factory: "Counter", Payload: state})
	b.Add(&Record{Kind: abi.KindAsk, Actor: 2, From: abi.PID{Incarnation: 2, Serial: 3}, Ref: 8, Payload: enc(map[string]any{"op": "get"})})
	require.NoError(t, other.Deliver(context.Background(), &b))
	replies = h.Calls("reply")
	require.Len(t, replies, 2)
	require.NoError(t, cbor.Unmarshal(replies[1].Msg, &got))
	require.Equal(t, map[string]int64{"value": 15}, got)
}

// BenchmarkDeliverGoGuest is BenchmarkDeliver into the bench guest's Echo
// actor (a Go guest built with the SDK): 64 100-byte records a turn.
func BenchmarkDeliverGoGuest(b *testing.B) {
	wasm := guestbuildtest.Build(b, "testdata/guests/bench")
	e := newEngine(b, Config{}, nil)
	m, err := e.Compile(context.Background(), wasm)
	require.NoError(b, err)
	defer m.Close(context.Background())
	inst, err := e.Instantiate(context.Background(), m, nopHost{})
	require.NoError(b, err)
	defer inst.Close(context.Background())
	require.NoError(b, inst.Deliver(context.Background(), startBatch(1, "Echo")))
	for _, kind := range []abi.Kind{abi.KindTell, abi.KindAsk} {
		b.Run(kind.String(), func(b *testing.B) { benchDeliver(b, inst, kind, 1) })
	}
}

// BenchmarkStartGoGuest is the guest's side of a spawn: turns of 64 STARTs
// of new Echo actors into one instance of the bench guest (a Go guest
// built with the SDK), which constructs and registers each actor. Its
// population grows with b.N, as a node's does under a spawn storm.
func BenchmarkStartGoGuest(b *testing.B) {
	wasm := guestbuildtest.Build(b, "testdata/guests/bench")
	e := newEngine(b, Config{}, nil)
	m, err := e.Compile(context.Background(), wasm)
	require.NoError(b, err)
	defer m.Close(context.Background())
	inst, err := e.Instantiate(context.Background(), m, nopHost{})
	require.NoError(b, err)
	defer inst.Close(context.Background())
	const perTurn = 64
	var batch Batch
	id := uint64(1)
	for b.Loop() {
		batch.Reset()
		for range perTurn {
			batch.Add(&Record{Kind: abi.KindStart, Actor: id, Factory: "Echo"})
			id++
		}
		if err := inst.Deliver(context.Background(), &batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perTurn), "ns/start")
}

// BenchmarkInstantiateGoGuest is a new instance of the bench guest, closed
// again: what an Isolated spawn of a Go guest costs.
func BenchmarkInstantiateGoGuest(b *testing.B) {
	wasm := guestbuildtest.Build(b, "testdata/guests/bench")
	benchAllocators(b, func(b *testing.B) {
		e := newEngine(b, Config{}, nil)
		m, err := e.Compile(context.Background(), wasm)
		require.NoError(b, err)
		defer m.Close(context.Background())
		benchInstantiate(b, m)
	})
}

// A Go panic in a guest's actor fails the instance with the SDK's reason.
func TestGoGuestPanic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	wasm := guestbuildtest.Build(t, "examples/crasher")
	e := newEngine(t, Config{CacheDir: guestCompileCache(t)}, nil)
	m, err := e.Compile(context.Background(), wasm)
	require.NoError(t, err)
	defer m.Close(context.Background())
	inst, err := e.Instantiate(context.Background(), m, &fakeHost{})
	require.NoError(t, err)

	crash, err := cbor.Marshal(map[string]string{"op": "crash"})
	require.NoError(t, err)
	var b Batch
	b.Add(&Record{Kind: abi.KindStart, Actor: 1, Factory: "Worker"})
	b.Add(&Record{Kind: abi.KindTell, Actor: 1, From: abi.PID{Incarnation: 2, Serial: 3}, Payload: crash})
	var f *Failure
	require.ErrorAs(t, inst.Deliver(context.Background(), &b), &f)
	require.Equal(t, "panic: worker crashed on request", f.Reason)
}

// guestCompileCache is an on-disk wazero cache kept across test runs:
// compiling a 3 MB Go guest takes about a second, and half a minute under
// the race detector.
func guestCompileCache(t testing.TB) string {
	if dir := os.Getenv("WASMACTOR_COMPILE_CACHE"); dir != "" {
		return dir
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "wasmactor", "wazero")
}
