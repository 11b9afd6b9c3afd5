//go:build !wasip1

package actor

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseRecordRoundTrip(t *testing.T) {
	in := record{kind: kindAsk, status: 3, actor: 1 << 40, from: PID{Incarnation: 7, Serial: 8}, ref: 99, payload: []byte("hello")}
	b := appendRecord(nil, in)
	b = appendRecord(b, record{kind: kindTell, actor: 2})
	require.Len(t, b, 56+48)
	require.Equal(t, uint32(56), binary.LittleEndian.Uint32(b), "padded to 8")

	got, next, err := parseRecord(b, 0)
	require.NoError(t, err)
	require.Equal(t, in, got)
	require.Equal(t, 56, next)
	got, next, err = parseRecord(b, next)
	require.NoError(t, err)
	require.Equal(t, uint16(kindTell), got.kind)
	require.Empty(t, got.payload)
	require.Equal(t, len(b), next)
}

func TestParseRecordMalformed(t *testing.T) {
	good := appendRecord(nil, record{kind: kindTell, actor: 1, payload: []byte("abc")}) // size 56
	set32 := func(off int, v uint32) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	for name, tc := range map[string]struct {
		batch []byte
		want  string
	}{
		"truncated header":  {good[:47], "truncated header (47 bytes left)"},
		"size below header": {set32(0, 40), "size 40 is smaller than the header"},
		"size zero":         {set32(0, 0), "size 0 is smaller than the header"},
		"size unaligned":    {set32(0, 52), "size 52 is not a multiple of 8"},
		"size past batch":   {set32(0, 64), "size 64 runs past the end of the batch"},
		"size huge":         {set32(0, 0xfffffff8), "runs past the end of the batch"},
		"payload past size": {set32(40, 9), "payload length 9 runs past the record"},
		"payload huge":      {set32(40, 0xffffffff), "payload length 4294967295 runs past the record"},
		"trailing garbage":  {append(append([]byte(nil), good...), 1, 2, 3), "record at offset 56: truncated header"},
		"truncated record":  {good[:50], "size 56 runs past the end of the batch"},
		"truncated payload": {good[:52], "size 56 runs past the end of the batch"},
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			for off := 0; off < len(tc.batch) && err == nil; {
				_, off, err = parseRecord(tc.batch, off)
			}
			require.ErrorContains(t, err, tc.want)

			// Delivered whole, the batch fails the instance cleanly.
			ti := newTestInstance(map[string]func() Actor{"N": func() Actor { return nopActor{} }})
			require.Equal(t, int32(1), ti.runBytes(tc.batch))
			require.Contains(t, ti.host.failure, "wasmactor: malformed batch")
			require.Equal(t, int32(1), ti.runBytes(good), "a failed instance stays failed")
		})
	}
}

func TestMalformedStart(t *testing.T) {
	for name, payload := range map[string][]byte{
		"empty":         nil,
		"one byte":      {3},
		"name past end": {10, 0, 'a', 'b'},
		"empty name":    {0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			ti := newTestInstance(map[string]func() Actor{"": func() Actor { return nopActor{} }})
			rc := ti.run(record{kind: kindStart, actor: 1, payload: payload})
			if name == "empty name" {
				// Well-formed but names no factory the module has.
				require.Equal(t, int32(0), rc)
				return
			}
			require.Equal(t, int32(1), rc)
			require.Contains(t, ti.host.failure, "START payload too short")
		})
	}

	ti := newTestInstance(map[string]func() Actor{"N": func() Actor { return nopActor{} }})
	require.Equal(t, int32(1), ti.run(startRec(1, "N", nil), startRec(1, "N", nil)))
	require.Contains(t, ti.host.failure, "already running")
}

func TestEmptyBatch(t *testing.T) {
	ti := newTestInstance(nil)
	require.Equal(t, int32(0), ti.run())
	require.Empty(t, ti.host.calls, "an empty batch does not even ask for self_node")
}

// TestReceiveDoesNotAllocate is the promise behind the SDK's receive path:
// delivering a batch of tells to an actor that does nothing allocates
// nothing, so guest GC stays out of the way of throughput.
func TestReceiveDoesNotAllocate(t *testing.T) {
	ti := newTestInstance(map[string]func() Actor{"N": func() Actor { return nopActor{} }, "C": func() Actor { return &countActor{} }})
	ti.host.record = false
	require.Equal(t, int32(0), ti.run(startRec(1, "N", nil), startRec(2, "C", nil)))

	var batch []byte
	payload := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd")
	for i := range 64 {
		batch = appendRecord(batch, tellRec(uint64(1+i%2), PID{Incarnation: 0xabc, Serial: uint64(i)}, payload))
	}
	inbox := ti.inboxFor(uint32(len(batch)))
	copy(inbox, batch)

	allocs := testing.AllocsPerRun(200, func() {
		if rc := ti.deliver(uint32(len(batch))); rc != 0 {
			panic(ti.host.failure)
		}
	})
	require.Zero(t, allocs)
	require.Equal(t, 32*201, ti.actors.get(2).actor.(*countActor).n, "the batches were really delivered")
}

type countActor struct{ n int }

func (a *countActor) Receive(*Context, Message) { a.n++ }

// FuzzDeliver feeds arbitrary batches to an instance holding a few actors.
// Whatever the bytes, delivery must return 0 or 1 without panicking; a 1
// must come with a failure reason.
func FuzzDeliver(f *testing.F) {
	f.Add([]byte{})
	f.Add(appendRecord(nil, tellRec(1, parent, []byte("hi"))))
	f.Add(appendRecord(appendRecord(nil, startRec(3, "N", []byte{0xa0})), askRec(3, parent, 1, []byte{0x01})))
	f.Add(appendRecord(nil, record{kind: kindStop, actor: 1, payload: []byte("killed")}))
	f.Add(appendRecord(nil, replyRec(2, 1, codeTimeout, nil)))
	f.Add(appendRecord(nil, record{kind: kindRestore, actor: 4, payload: startPayload("N", []byte{1})}))
	f.Add(appendRecord(nil, record{kind: kindDown, actor: 1, ref: 1, payload: []byte("x")})[:40])
	f.Fuzz(func(t *testing.T, batch []byte) {
		ti := newTestInstance(map[string]func() Actor{
			"N": func() Actor { return nopActor{} },
			"P": func() Actor {
				return &probe{events: new([]string), onMsg: func(ctx *Context, msg Message) {
					_ = ctx.AskRaw(msg.From(), msg.Bytes(), 0, func(*Context, Message, error) {})
					var v any
					_ = msg.Decode(&v)
					if msg.IsAsk() {
						_ = ctx.ReplyRaw(msg.Bytes())
					}
				}}
			},
		})
		require.Equal(t, int32(0), ti.run(startRec(1, "P", nil), startRec(2, "N", nil)))
		// A REPLY with ref 1 matches the first ask of actor 1.
		require.Equal(t, int32(0), ti.run(tellRec(1, parent, nil)))

		rc := ti.runBytes(batch)
		switch rc {
		case 0:
			require.Empty(t, ti.host.failure)
		case 1:
			require.NotEmpty(t, ti.host.failure)
		default:
			t.Fatalf("deliver returned %d", rc)
		}
	})
}

// TestSpawnAllocations bounds what a spawn costs the guest heap: the
// Context and nothing else for an actor that is a zero-size value (the
// factory name is shared, not copied). Spawn speed matters: the platform
// aims at microsecond spawns and guest allocation is slow and erratic.
func TestSpawnAllocations(t *testing.T) {
	ti := newTestInstance(map[string]func() Actor{"N": func() Actor { return nopActor{} }})
	ti.host.record = false
	var batch []byte
	batch = appendRecord(batch, startRec(1, "N", nil))
	batch = appendRecord(batch, record{kind: kindStop, actor: 1, payload: []byte("normal")})
	inbox := ti.inboxFor(uint32(len(batch)))
	allocs := testing.AllocsPerRun(100, func() {
		copy(inbox, batch)
		if rc := ti.deliver(uint32(len(batch))); rc != 0 {
			panic(ti.host.failure)
		}
	})
	require.Equal(t, 1.0, allocs)
}
