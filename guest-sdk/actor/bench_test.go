//go:build !wasip1

package actor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// tellBatch is 64 tells of 100 bytes to actor 1, the shape the design's
// measurements use.
func tellBatch() []byte {
	payload := make([]byte, 100)
	var b []byte
	for i := range 64 {
		b = appendRecord(b, tellRec(1, PID{Incarnation: miniNode, Serial: uint64(i + 2)}, payload))
	}
	return b
}

// BenchmarkDeliverNative is the SDK's dispatch loop compiled natively: the
// floor under what a guest spends per message.
func BenchmarkDeliverNative(b *testing.B) { deliverNative(b, &countActor{}, tellBatch()) }

// deliverNative delivers batch (64 records) to actor a, started as actor 1,
// over and over, and reports ns/msg.
func deliverNative(b *testing.B, a Actor, batch []byte) {
	ti := newTestInstance(map[string]func() Actor{"C": func() Actor { return a }})
	ti.host.record = false
	require.Equal(b, int32(0), ti.run(startRec(1, "C", nil)))
	copy(ti.inboxFor(uint32(len(batch))), batch)
	b.ReportAllocs()
	for b.Loop() {
		if ti.deliver(uint32(len(batch))) != 0 {
			b.Fatal(ti.host.failure)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/msg")
}

// BenchmarkDeliverWasm delivers the same batches to the bench guest's Sink
// under wazero (with interruption on, as nodes run): the SDK's real cost
// per message, host write and call included.
func BenchmarkDeliverWasm(b *testing.B) {
	deliverWasm(b, "testdata/guests/bench", "Sink", tellBatch())
}

// deliverWasm delivers batch (64 records) to a factory of the guest in
// pkgDir, started as actor 1, over and over, and reports ns/msg.
func deliverWasm(b *testing.B, pkgDir, factory string, batch []byte) {
	env := newWasmEnvB(b, pkgDir)
	g := env.newGuest()
	require.Equal(b, int32(0), g.deliver(startRec(1, factory, nil)))
	fn := g.mod.ExportedFunction("wasmactor_deliver")
	ptr := uint32(g.call("wasmactor_inbox", uint64(len(batch))))
	for b.Loop() {
		g.mod.Memory().Write(ptr, batch)
		res, err := fn.Call(g.ctx, uint64(len(batch)))
		if err != nil || res[0] != 0 {
			b.Fatal(err, env.host.failure)
		}
	}
	require.Empty(b, env.host.take(), "the guest logged or sent nothing: no message was refused")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/msg")
}

// echoActor is the bench guest's Echo: no state, nothing to construct.
type echoActor struct{}

func (echoActor) Receive(*Context, Message) {}

// BenchmarkStartNative is the SDK's side of a spawn compiled natively:
// turns of 64 STARTs of new stateless actors into one instance, whose
// population grows with b.N as a node's does under a spawn storm. Its
// allocs/op (per turn of 64) and B/op are what a START leaves for the
// guest's GC.
func BenchmarkStartNative(b *testing.B) {
	ti := newTestInstance(map[string]func() Actor{"Echo": func() Actor { return echoActor{} }})
	ti.host.record = false
	const perTurn = 64
	var batch []byte
	id := uint64(1)
	payload := startPayload("Echo", nil)
	b.ReportAllocs()
	for b.Loop() {
		batch = batch[:0]
		for range perTurn {
			batch = appendRecord(batch, record{kind: kindStart, actor: id, payload: payload})
			id++
		}
		if ti.runBytes(batch) != 0 {
			b.Fatal(ti.host.failure)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perTurn), "ns/start")
}
