package host_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
	"github.com/wasmactor/wasmactor/internal/memtransport"
)

// spanRecorder is a tracer provider that keeps every ended span in memory.
func spanRecorder(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, sr
}

// spansNamed lists the ended spans called name.
func spansNamed(sr *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// oneSpan waits for exactly one ended span called name and returns it.
func oneSpan(t *testing.T, sr *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	require.Eventually(t, func() bool { return len(spansNamed(sr, name)) > 0 }, 10*time.Second, 5*time.Millisecond, "no %s span", name)
	got := spansNamed(sr, name)
	require.Len(t, got, 1, name)
	return got[0]
}

func pidArray(p host.PID) [2]uint64 { return [2]uint64{p.Incarnation, p.Serial} }

// TestTraceCrossesNodesThroughGuests follows one trace over QUIC: a Call
// on n1 to a guest there, whose ask goes to a guest on n2, whose ask comes
// back to a third guest on n1. Every hop's guest log line carries the
// Call's trace id, the reply turns too; the guests' asks are spans of that
// trace, each the child of the span the message it was handling travelled
// in. With tracing off on n2, the trace context still passes through it.
func TestTraceCrossesNodesThroughGuests(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n2Traced bool
	}{{"both nodes traced", true}, {"n2 untraced", false}} {
		t.Run(tc.name, func(t *testing.T) {
			cookie := make([]byte, 32)
			_, _ = rand.Read(cookie)
			tp1, sr1 := spanRecorder(t)
			tp2, sr2 := spanRecorder(t)
			logs1, logs2 := &logCapture{}, &logCapture{}
			cfg2 := host.Config{Name: "n2", Listen: "127.0.0.1:0", Cookie: cookie, Logger: slog.New(logs2)}
			if tc.n2Traced {
				cfg2.TracerProvider = tp2
			}
			n1 := newNode(t, host.Config{Name: "n1", Listen: "127.0.0.1:0", Cookie: cookie, Logger: slog.New(logs1), TracerProvider: tp1})
			cfg2.Join = []string{n1.Addr()}
			n2 := newNode(t, cfg2)
			require.Eventually(t, func() bool { return len(n1.Members()) == 1 && len(n2.Members()) == 1 }, 10*time.Second, 5*time.Millisecond)

			ctx := ctxT(t)
			deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/hop"))
			a, err := n1.Spawn(ctx, "Hop", host.SpawnOptions{Node: "n1"})
			require.NoError(t, err)
			b, err := n1.Spawn(ctx, "Hop", host.SpawnOptions{Node: "n2"})
			require.NoError(t, err)
			c, err := n1.Spawn(ctx, "Hop", host.SpawnOptions{Node: "n1"})
			require.NoError(t, err)

			hops := map[string]any{"hops": [][2]uint64{pidArray(b), pidArray(c)}}
			call := func(n *host.Node, ctx context.Context, text string) {
				hops["text"] = text
				reply, err := n.Call(ctx, a, hops)
				require.NoError(t, err)
				var s string
				require.NoError(t, reply.Decode(&s))
				require.Equal(t, "end", s)
			}
			// A Call from n2: a trace of its own if n2 traces, else none.
			call(n2, context.Background(), "plain")
			root, span := tp1.Tracer("test").Start(ctx, "request")
			call(n1, root, "traced")
			span.End()
			tid := span.SpanContext().TraceID()

			// Spans: the Call under the test's span, n1's ask under the Call,
			// n2's ask under n1's ask (a remote parent).
			inTrace := func(sr *tracetest.SpanRecorder, name string, id trace.TraceID) []sdktrace.ReadOnlySpan {
				var out []sdktrace.ReadOnlySpan
				for _, s := range spansNamed(sr, name) {
					if s.SpanContext().TraceID() == id {
						out = append(out, s)
					}
				}
				return out
			}
			calls := inTrace(sr1, "wasmactor.call", tid)
			require.Len(t, calls, 1)
			require.Equal(t, span.SpanContext().SpanID(), calls[0].Parent().SpanID())
			require.Equal(t, trace.SpanKindClient, calls[0].SpanKind())
			asks1 := inTrace(sr1, "wasmactor.ask", tid)
			require.Len(t, asks1, 1, "n1's guest asked once in the traced call")
			require.Equal(t, calls[0].SpanContext().SpanID(), asks1[0].Parent().SpanID())
			var plain trace.TraceID // the trace of n2's Call, if n2 traces
			if tc.n2Traced {
				asks2 := inTrace(sr2, "wasmactor.ask", tid)
				require.Len(t, asks2, 1)
				require.True(t, asks2[0].Parent().IsRemote())
				require.Equal(t, asks1[0].SpanContext().SpanID(), asks2[0].Parent().SpanID())
				c2 := spansNamed(sr2, "wasmactor.call")
				require.Len(t, c2, 1)
				plain = c2[0].SpanContext().TraceID()
				require.False(t, c2[0].Parent().IsValid(), "a root span")
				require.Len(t, inTrace(sr1, "wasmactor.ask", plain), 1, "n1's guest asked once in n2's call")
			} else {
				require.Empty(t, sr2.Ended())
				require.Len(t, spansNamed(sr1, "wasmactor.ask"), 1, "n1's guest asked in an untraced turn: no span")
			}

			// Logs: every hop of a traced call, and every reply turn,
			// carries the trace id, on every node.
			counts := map[string]int{}
			for _, logs := range []*logCapture{logs1, logs2} {
				for _, msg := range []string{"hop traced", "hop traced answered", "hop plain", "hop plain answered"} {
					for _, line := range logs.withMsg(msg) {
						counts[msg]++
						switch {
						case msg == "hop traced" || msg == "hop traced answered":
							require.Equal(t, tid.String(), line.attrs["trace_id"], "%q by %v", msg, line.attrs["actor"])
						case tc.n2Traced:
							require.Equal(t, plain.String(), line.attrs["trace_id"], "%q by %v", msg, line.attrs["actor"])
						default:
							require.NotContains(t, line.attrs, "trace_id", msg)
						}
					}
				}
			}
			require.Equal(t, map[string]int{"hop traced": 3, "hop traced answered": 2, "hop plain": 3, "hop plain answered": 2}, counts)
			for _, line := range logs2.withMsg("hop traced") {
				require.Equal(t, b.String(), line.attrs["actor"])
			}
		})
	}
}

// TestSpansForDeploySpawnAndPull: deploy and spawn are spans of the
// caller's trace; a spawn on another node is a span there too, child of
// the caller's, and the module pull it needs is its child.
func TestSpansForDeploySpawnAndPull(t *testing.T) {
	tp1, sr1 := spanRecorder(t)
	tp2, sr2 := spanRecorder(t)
	c := &testCluster{net: memtransport.NewNetwork()}
	n1 := c.start(t, 0, host.Config{TracerProvider: tp1}, 1)
	n2 := c.start(t, 1, host.Config{TracerProvider: tp2}, 2)
	c.nodes = []*host.Node{n1, n2}
	c.waitMesh(t)

	ctx := ctxT(t)
	root, span := tp1.Tracer("test").Start(ctx, "request")
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	_, err := n1.Deploy(root, guestbuildtest.Build(t, "testdata/guests/hop"))
	require.NoError(t, err)
	pid, err := n1.Spawn(root, "Hop", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	span.End()
	require.Equal(t, uint64(1), n2.Pulls())

	tid, sid := span.SpanContext().TraceID(), span.SpanContext().SpanID()
	var deploys []sdktrace.ReadOnlySpan
	for _, s := range spansNamed(sr1, "wasmactor.deploy") {
		if s.SpanContext().TraceID() == tid {
			deploys = append(deploys, s)
		}
	}
	require.Len(t, deploys, 1, "the deploy under ctx without a span is a trace of its own")
	require.Equal(t, sid, deploys[0].Parent().SpanID())
	require.Len(t, spansNamed(sr1, "wasmactor.deploy"), 2)

	spawn1 := oneSpan(t, sr1, "wasmactor.spawn")
	require.Equal(t, sid, spawn1.Parent().SpanID())
	require.Equal(t, trace.SpanKindClient, spawn1.SpanKind())
	require.Contains(t, spawn1.Attributes(), attribute.String("wasmactor.actor", pid.String()))

	spawn2 := oneSpan(t, sr2, "wasmactor.spawn")
	require.Equal(t, tid, spawn2.SpanContext().TraceID())
	require.True(t, spawn2.Parent().IsRemote())
	require.Equal(t, spawn1.SpanContext().SpanID(), spawn2.Parent().SpanID())
	require.Equal(t, trace.SpanKindServer, spawn2.SpanKind())

	pull := oneSpan(t, sr2, "wasmactor.pull")
	require.Equal(t, spawn2.SpanContext().SpanID(), pull.Parent().SpanID())
	require.Equal(t, tid, pull.SpanContext().TraceID())
	require.Empty(t, spansNamed(sr1, "wasmactor.pull"))
	require.True(t, slices.ContainsFunc(pull.Attributes(), func(kv attribute.KeyValue) bool { return kv.Key == "wasmactor.module" }))
}
