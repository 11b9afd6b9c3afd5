package host

import (
	"context"
	"encoding/hex"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wasmactor/wasmactor/internal/abi"
)

// Tracing (Config.TracerProvider). A node with no provider has n.tracer
// nil: the message path then checks that and a record's trace pointer, and
// does nothing else. Trace contexts that arrive in messages are passed on
// all the same, so a node without tracing does not cut a trace in two.

// tracerName names the node's spans' instrumentation scope.
const tracerName = "github.com/wasmactor/wasmactor/host"

// Span names.
const (
	spanCall   = "wasmactor.call"
	spanAsk    = "wasmactor.ask"
	spanSpawn  = "wasmactor.spawn"
	spanDeploy = "wasmactor.deploy"
	spanPull   = "wasmactor.pull"
)

// traceLen is the size of a trace context as envelopes and spawn requests
// carry it: the W3C traceparent in binary, version 0 (docs/protocol.md).
const traceLen = 1 + 16 + 8 + 1

// traceCtx is a W3C trace context: version (0), trace id, parent span id
// and trace flags, the fields of a traceparent header. It is never
// modified once made, so records and envelopes share it.
type traceCtx [traceLen]byte

// traceOf encodes a span context; nil if it is not valid.
func traceOf(sc trace.SpanContext) *traceCtx {
	if !sc.IsValid() {
		return nil
	}
	var t traceCtx
	tid, sid := sc.TraceID(), sc.SpanID()
	copy(t[1:17], tid[:])
	copy(t[17:25], sid[:])
	t[25] = byte(sc.TraceFlags())
	return &t
}

// parseTrace reads a trace context from a message: nil if b is empty or is
// not one. It shares b's memory. A version above 0 may append fields,
// which are ignored (W3C Trace Context, "versioning"); version 0xff is
// invalid.
func parseTrace(b []byte) *traceCtx {
	if len(b) < traceLen || b[0] == 0xff {
		return nil
	}
	return (*traceCtx)(b[:traceLen])
}

// clone copies t out of the message it may share memory with (a network
// read buffer), for records that outlive the turn: nil stays nil.
func (t *traceCtx) clone() *traceCtx {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// bytes is t as an envelope's Trace: nil for no trace context.
func (t *traceCtx) bytes() []byte {
	if t == nil {
		return nil
	}
	return t[:]
}

// spanContext is t as the remote parent of spans made here (invalid for
// nil or all-zero ids).
func (t *traceCtx) spanContext() trace.SpanContext {
	if t == nil {
		return trace.SpanContext{}
	}
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID(t[1:17]),
		SpanID:     trace.SpanID(t[17:25]),
		TraceFlags: trace.TraceFlags(t[25]),
		Remote:     true,
	})
}

// traceID is the hex trace id logs carry as trace_id.
func (t *traceCtx) traceID() string { return hex.EncodeToString(t[1:17]) }

// context is ctx with t as its remote parent span, for spans and for
// log handlers that read the span from the context.
func (t *traceCtx) context(ctx context.Context) context.Context {
	if sc := t.spanContext(); sc.IsValid() {
		return trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	return ctx
}

// traceIDAttr is the trace_id attribute of a log line.
func traceIDAttr(sc trace.SpanContext) slog.Attr {
	return slog.String("trace_id", sc.TraceID().String())
}

// startSpan starts a span under ctx when tracing is on; span is nil when
// it is off. End it with endSpan.
func (n *Node) startSpan(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if n.tracer == nil {
		return ctx, nil
	}
	return n.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// endSpan ends a span of startSpan (nil is a no-op), recording err.
func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// traceFrom is the trace context a request made under ctx carries:
// ctx's span, when tracing is on.
func (n *Node) traceFrom(ctx context.Context) *traceCtx {
	if n.tracer == nil {
		return nil
	}
	return traceOf(trace.SpanContextFromContext(ctx))
}

// Attribute keys of the node's spans.
const (
	attrTarget  = attribute.Key("wasmactor.target")  // the actor called or asked (a PID)
	attrActor   = attribute.Key("wasmactor.actor")   // the asking or spawned actor
	attrFactory = attribute.Key("wasmactor.factory") // the factory spawned
	attrNode    = attribute.Key("wasmactor.node")    // the node asked to spawn
	attrModule  = attribute.Key("wasmactor.module")  // a module's short hash
	attrStatus  = attribute.Key("wasmactor.status")  // an ask's ABI status
)

// turnTrace remembers, for one turn of an instance, the trace context of
// the traced records handed to each actor, so that what the actor sends
// during the turn travels in it. A turn hands several records to the
// guest in one call and the host does not see which one the guest is
// handling when it sends: an actor handed several traced records in one
// batch sends everything in the context of the last of them (see
// docs/RATIONALE.md). It is owned by the goroutine running the turn; the
// instance's imports read it during the guest call, on that goroutine.
type turnTrace struct {
	m map[uint64]*traceCtx // by actor serial; empty when the batch holds no traced record
}

func (tt *turnTrace) note(serial uint64, t *traceCtx) {
	if tt.m == nil {
		tt.m = make(map[uint64]*traceCtx)
	}
	tt.m[serial] = t
}

// of is the trace context actor serial handles in this turn, or nil.
func (tt *turnTrace) of(serial uint64) *traceCtx {
	if len(tt.m) == 0 {
		return nil
	}
	return tt.m[serial]
}

// reset forgets the turn's contexts once its guest call is over.
func (tt *turnTrace) reset() {
	if len(tt.m) > 0 {
		clear(tt.m)
	}
}

// startAsk starts the span of a guest's ask made in trace context parent
// (nil if the turn is untraced or tracing is off) and returns the context
// the ask travels in: the span's, or parent unchanged when no span was
// started.
func (n *Node) startAsk(parent *traceCtx, from, to abi.PID) (trace.Span, *traceCtx) {
	if n.tracer == nil || parent == nil {
		return nil, parent
	}
	sc := parent.spanContext()
	if !sc.IsValid() {
		return nil, parent
	}
	_, span := n.tracer.Start(trace.ContextWithRemoteSpanContext(n.life, sc), spanAsk,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrActor.String(n.pidOfABI(from).String()), attrTarget.String(n.pidOfABI(to).String())))
	return span, traceOf(span.SpanContext())
}

// endAsk ends the span of an ask (nil: none) with its outcome.
func endAsk(span trace.Span, status abi.Errno) {
	if span == nil {
		return
	}
	if status != abi.OK {
		span.SetAttributes(attrStatus.Int(int(status)))
		span.SetStatus(codes.Error, status.Err().Error())
	}
	span.End()
}
