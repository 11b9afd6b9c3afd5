package host

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/transport"
)

// stubTransport keeps the last envelopes sent in a reused slice, so that
// sending through it allocates nothing of its own.
type stubTransport struct {
	transport.Transport
	sent []transport.Envelope
}

func (s *stubTransport) Send(_ string, envs ...transport.Envelope) error {
	s.sent = append(s.sent[:0], envs...)
	return nil
}

// stubNode is a node with one peer, n2 (incarnation 7), reached through a
// stubTransport, and no tracer: just what the envelope path touches.
func stubNode() (*Node, *stubTransport) {
	tr := &stubTransport{sent: make([]transport.Envelope, 0, 4)}
	n := &Node{log: slog.New(slog.NewTextHandler(io.Discard, nil)), incarnation: 1, life: context.Background()}
	n.actors.init()
	n.cl.init()
	n.cl.tr = tr
	n.cl.peers["n2"] = transport.NodeInfo{Name: "n2", Incarnation: 7}
	n.cl.byInc[7] = "n2"
	return n, tr
}

// TestTracingOffAddsNoAllocationsOnTheEnvelopePath: with no tracer, a
// message costs no allocation for tracing on its way out or in, traced or
// not: the trace context travels as a view of the bytes that carried it.
func TestTracingOffAddsNoAllocationsOnTheEnvelopePath(t *testing.T) {
	n, tr := stubNode()
	from, to := abi.PID{Incarnation: 1, Serial: 5}, abi.PID{Incarnation: 7, Serial: 3}
	msg := make([]byte, 100)
	traced := make([]byte, traceLen)
	traced[1], traced[17], traced[25] = 1, 1, 1
	tc := parseTrace(traced)
	require.NotNil(t, tc)

	// Out: what the call into the transport costs by itself (the variadic
	// slice escapes through the interface), then the same through the host,
	// untraced and forwarding a trace context.
	direct := testing.AllocsPerRun(1000, func() {
		_ = n.cl.tr.Send("n2", transport.Envelope{Kind: uint8(abi.KindAsk), ToIncarnation: 7, To: 3, From: 5, Ref: 9, Payload: msg})
	})
	for _, tc := range []*traceCtx{nil, tc} {
		out := testing.AllocsPerRun(1000, func() {
			if e := n.tellTraced(from, to, abi.KindAsk, 9, msg, tc); e != abi.OK {
				t.Fatal(e)
			}
		})
		require.Equal(t, direct, out, "traced: %v", tc != nil)
		require.Equal(t, tc.bytes(), tr.sent[0].Trace)
	}

	// In: envelopes for actors that are not there and a stray reply, as
	// the handler sees them, with and without a trace context.
	// (A tell to a missing actor is refused back to its sender, which
	// allocates the refusal: compare the same envelopes with and without a
	// trace context.)
	peer := transport.NodeInfo{Name: "n2", Incarnation: 7}
	plain := []transport.Envelope{
		{Kind: uint8(abi.KindTell), ToIncarnation: 1, To: 99, From: 3, Payload: msg},
		{Kind: uint8(abi.KindReply), ToIncarnation: 1, To: 0, From: 3, Ref: 12345, Payload: msg},
	}
	withTrace := []transport.Envelope{
		{Kind: uint8(abi.KindTell), ToIncarnation: 1, To: 99, From: 3, Payload: msg, Trace: traced},
		{Kind: uint8(abi.KindReply), ToIncarnation: 1, To: 0, From: 3, Ref: 12345, Payload: msg, Trace: traced},
	}
	require.Equal(t, testing.AllocsPerRun(1000, func() { handler{n}.HandleEnvelopes(peer, plain) }),
		testing.AllocsPerRun(1000, func() { handler{n}.HandleEnvelopes(peer, withTrace) }))
	require.Zero(t, testing.AllocsPerRun(1000, func() { handler{n}.HandleEnvelopes(peer, withTrace[1:]) }), "a traced reply")

	// A turn's bookkeeping and a guest ask's span, with tracing off.
	var tt turnTrace
	tt.note(5, tc) // the map is made once per instance
	tt.reset()
	require.Zero(t, testing.AllocsPerRun(1000, func() {
		tt.note(5, tc)
		if tt.of(5) != tc || tt.of(6) != nil {
			t.Fatal("turnTrace")
		}
		tt.reset()
		span, got := n.startAsk(tc, from, to)
		endAsk(span, abi.OK)
		if span != nil || got != tc || n.traceFrom(context.Background()) != nil {
			t.Fatal("tracing is off")
		}
	}))
	require.Nil(t, tt.of(5))
}

// A trace context survives the trip through its binary form, and what is
// not one is ignored.
func TestTraceContextRoundTrip(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	_, span := tp.Tracer("test").Start(context.Background(), "x")
	sc := span.SpanContext()
	tc := traceOf(sc)
	require.Len(t, tc.bytes(), traceLen)
	got := parseTrace(tc.bytes()).spanContext()
	require.True(t, got.IsRemote())
	require.Equal(t, sc.TraceID(), got.TraceID())
	require.Equal(t, sc.SpanID(), got.SpanID())
	require.Equal(t, sc.TraceFlags(), got.TraceFlags())
	require.Equal(t, sc.TraceID().String(), tc.traceID())

	longer := append(append([]byte{}, tc.bytes()...), 1, 2, 3)
	longer[0] = 1 // a later version may append fields
	require.Equal(t, sc.TraceID(), parseTrace(longer).spanContext().TraceID())
	for _, bad := range [][]byte{nil, {}, tc.bytes()[:traceLen-1], append([]byte{0xff}, tc.bytes()[1:]...)} {
		require.Nil(t, parseTrace(bad))
	}
	require.False(t, parseTrace(make([]byte, traceLen)).spanContext().IsValid(), "all-zero ids")
	require.Nil(t, traceOf(trace.SpanContext{}))
	require.Nil(t, (*traceCtx)(nil).clone())
}
