//go:build !wasip1

package actor

import (
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/guest-sdk/internal/testproto"
	"github.com/wasmactor/wasmactor/guest-sdk/typed"
)

// The decode benchmarks take one ~100-byte Order per message, as the
// design's measurements do, and report ns/msg:
//
//	go test -run '^$' -bench 'Decode(Generated|Reflect)|Deliver(Typed|Reflect)' ./guest-sdk/actor/
//
// Generated is the codec `wasmactor gen` writes; Reflect is actor.Decode
// (fxamacker/cbor reflection) into the same struct without the generated
// methods. The Deliver pairs run the SDK's whole receive path, 64 tells
// per batch: natively, and inside a wasm guest under wazero with
// interruption on, as nodes run guests.

// plainOrder is testproto.Order without its generated methods.
type plainOrder testproto.Order

func benchOrder() testproto.Order {
	return testproto.Order{ID: 123456789, Customer: "customer-0042", Item: "blue widget, large", Quantity: 12, Price: 199999, Express: true, Note: "leave at the door"}
}

func TestBenchOrderIsAbout100Bytes(t *testing.T) {
	n := len(typed.Marshal(benchOrder()))
	require.InDelta(t, 100, n, 10, "%d bytes", n)
	plain, err := cbor.Marshal(plainOrder(benchOrder()))
	require.NoError(t, err)
	require.Equal(t, plain, benchOrder().AppendCBOR(nil), "both decoders read the same body")
}

func BenchmarkDecodeGenerated(b *testing.B) {
	body := benchOrder().AppendCBOR(nil)
	var o testproto.Order
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.ReadCBOR(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeReflect(b *testing.B) {
	msg := Message{data: benchOrder().AppendCBOR(nil), kind: kindTell}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode[plainOrder](msg); err != nil {
			b.Fatal(err)
		}
	}
}

// orderBatch is 64 tells of an Order to actor 1, typed or not.
func orderBatch(tagged bool) []byte {
	payload := benchOrder().AppendCBOR(nil)
	if tagged {
		payload = typed.Marshal(benchOrder())
	}
	var b []byte
	for i := range 64 {
		b = appendRecord(b, tellRec(1, PID{Incarnation: miniNode, Serial: uint64(i + 2)}, payload))
	}
	return b
}

type typedSink struct{ qty int64 }

func (s *typedSink) Order(_ *Context, o testproto.Order) { s.qty += int64(o.Quantity) }

type reflectSink struct{ qty int64 }

func (s *reflectSink) Receive(_ *Context, msg Message) {
	o, err := Decode[plainOrder](msg)
	if err != nil {
		panic(err)
	}
	s.qty += int64(o.Quantity)
}

func BenchmarkDeliverTypedNative(b *testing.B) {
	s := &typedSink{}
	r := NewRouter(HandleTell((*typedSink).Order))
	deliverNative(b, routed[*typedSink]{r: r, a: s}, orderBatch(true))
}

func BenchmarkDeliverReflectNative(b *testing.B) { deliverNative(b, &reflectSink{}, orderBatch(false)) }

type routed[A any] struct {
	r *Router[A]
	a A
}

func (x routed[A]) Receive(ctx *Context, msg Message) { x.r.Receive(x.a, ctx, msg) }

const typedBenchGuest = "guest-sdk/actor/testdata/typedbench"

func BenchmarkDeliverTypedWasm(b *testing.B) {
	deliverWasm(b, typedBenchGuest, "Typed", orderBatch(true))
}

func BenchmarkDeliverReflectWasm(b *testing.B) {
	deliverWasm(b, typedBenchGuest, "Reflect", orderBatch(false))
}
