package engine

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/abi"
)

// sendEntry is one send_batch entry (docs/abi.md, "Batched sends").
func sendEntry(to abi.PID, payload string) []byte {
	size := (SendEntryHeader + len(payload) + 7) &^ 7
	b := make([]byte, size)
	le := binary.LittleEndian
	le.PutUint32(b, uint32(size))
	le.PutUint64(b[8:], to.Incarnation)
	le.PutUint64(b[16:], to.Serial)
	le.PutUint32(b[24:], uint32(len(payload)))
	copy(b[SendEntryHeader:], payload)
	return b
}

// send_batch sends its entries in order, each as send would; the host's
// refusals and TOO_LARGE come back in the entries' status fields and in
// the count, and a malformed batch, or one outside wasmactor_deliver, is
// refused whole with nothing sent.
func TestSendBatch(t *testing.T) {
	e := newEngine(t, Config{MaxMessageSize: 4}, nil)
	h := &fakeHost{refuse: map[uint64]bool{9: true}}
	inst, err := e.Instantiate(context.Background(), compileFixture(t, e, "minimal_actor.wasm"), h)
	require.NoError(t, err)
	defer inst.Close(context.Background())
	mem := inst.mod.Memory()
	const at = 1024
	var batch []byte
	batch = append(batch, sendEntry(abi.PID{Incarnation: 7, Serial: 8}, "a")...)
	batch = append(batch, sendEntry(abi.PID{Incarnation: 7, Serial: 9}, "b")...)     // refused by the host
	batch = append(batch, sendEntry(abi.PID{Incarnation: 7, Serial: 8}, "large")...) // over MaxMessageSize
	batch = append(batch, sendEntry(abi.PID{Incarnation: 7, Serial: 8}, "c")...)
	require.True(t, mem.Write(at, batch))
	call := func(b []byte) uint64 {
		require.True(t, mem.Write(at, b))
		stack := []uint64{5, at, uint64(len(b))}
		importSendBatch(inst, inst.mod, stack)
		return stack[0]
	}

	require.Equal(t, uint64(2), call(batch), "two entries refused")
	var got []string
	for _, c := range h.Calls("send") {
		require.Equal(t, uint64(5), c.Actor)
		got = append(got, string(c.Msg))
	}
	require.Equal(t, []string{"a", "b", "c"}, got, "in order, the large one never reaching the host")
	status := func(k int) abi.Errno {
		v, ok := mem.ReadUint16Le(at + uint32(k)*40 + 4) // each entry here is 40 bytes
		require.True(t, ok)
		return abi.Errno(v)
	}
	require.Equal(t, []abi.Errno{abi.OK, abi.NoProc, abi.TooLarge, abi.OK}, []abi.Errno{status(0), status(1), status(2), status(3)})

	// Malformed: a size that is not a multiple of 8, then one past the end.
	for _, bad := range [][]byte{
		func() []byte { b := slices.Clone(batch); binary.LittleEndian.PutUint32(b[40:], 41); return b }(),
		batch[:len(batch)-8],
	} {
		before := len(h.Calls("send"))
		require.Equal(t, int64(-4), int64(call(bad)), "-BAD_ARGUMENT")
		require.Len(t, h.Calls("send"), before, "nothing sent")
	}
	// Outside memory.
	stack := []uint64{5, uint64(mem.Size()) - 8, 64}
	importSendBatch(inst, inst.mod, stack)
	require.Equal(t, batchRefused(abi.BadArgument), stack[0])

	// Outside wasmactor_deliver the import refuses the batch whole.
	i := slices.IndexFunc(imports, func(d importDef) bool { return d.name == "send_batch" })
	stack = []uint64{5, at, uint64(len(batch))}
	before := len(h.Calls("send"))
	wrapImport(imports[i])(context.WithValue(context.Background(), instKey{}, inst), inst.mod, stack)
	require.Equal(t, batchRefused(abi.BadArgument), stack[0])
	require.Len(t, h.Calls("send"), before)
}
