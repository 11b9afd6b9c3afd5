package host_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/memtransport"
	"github.com/wasmactor/wasmactor/transport"
)

// hookTransport wraps a node's transport so a test can fail its casts and
// step into what the node receives. Every hook is optional and set before the
// node starts.
type hookTransport struct {
	transport.Transport
	// castErr, if it returns an error, fails the Cast without sending.
	castErr func(node string, msg transport.Control) error
	// beforeCast and afterCast run around the node's HandleCast.
	beforeCast, afterCast func(from transport.NodeInfo, msg transport.Control)
	// call, if it returns handled, answers a request in the node's place.
	call func(from transport.PeerInfo, req transport.Control) (b []byte, err error, handled bool)
}

func (t *hookTransport) Start(ctx context.Context, h transport.Handler) error {
	return t.Transport.Start(ctx, hookHandler{Handler: h, t: t})
}

func (t *hookTransport) Cast(node string, msg transport.Control) error {
	if t.castErr != nil {
		if err := t.castErr(node, msg); err != nil {
			return err
		}
	}
	return t.Transport.Cast(node, msg)
}

type hookHandler struct {
	transport.Handler
	t *hookTransport
}

func (h hookHandler) HandleCast(from transport.NodeInfo, msg transport.Control) {
	if h.t.beforeCast != nil {
		h.t.beforeCast(from, msg)
	}
	h.Handler.HandleCast(from, msg)
	if h.t.afterCast != nil {
		h.t.afterCast(from, msg)
	}
}

func (h hookHandler) HandleCall(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error) {
	if h.t.call != nil {
		if b, err, handled := h.t.call(from, req); handled {
			return b, err
		}
	}
	return h.Handler.HandleCall(ctx, from, req)
}

// newHookedCluster is newCluster with a per-node config and a wrapper
// around each node's transport (wrap may return tr unchanged).
func newHookedCluster(t *testing.T, size int, cfg func(i int) host.Config, wrap func(i int, tr transport.Transport) transport.Transport) *testCluster {
	t.Helper()
	c := &testCluster{net: memtransport.NewNetwork()}
	for i := range size {
		conf := cfg(i)
		conf.Name = fmt.Sprintf("n%d", i+1)
		conf.Transport = wrap(i, c.net.NewNode(conf.Name, uint64(i+1)))
		if i > 0 {
			conf.Join = []string{"n1"}
		}
		c.nodes = append(c.nodes, newNode(t, conf))
	}
	c.waitMesh(t)
	return c
}

// hookLog passes every record to a test's function, with the attributes
// the logger was given by With (the node's, an instance's), then on to a
// quiet handler.
type hookLog struct {
	on    func(r slog.Record, attrs []slog.Attr)
	attrs []slog.Attr
	next  slog.Handler
}

func newHookLogger(on func(r slog.Record, attrs []slog.Attr)) *slog.Logger {
	return slog.New(&hookLog{on: on, next: quietLogger().Handler()})
}

func (h *hookLog) Enabled(context.Context, slog.Level) bool { return true }

func (h *hookLog) Handle(ctx context.Context, r slog.Record) error {
	h.on(r, h.attrs)
	return h.next.Handle(ctx, r)
}

func (h *hookLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &hookLog{on: h.on, attrs: append(append([]slog.Attr(nil), h.attrs...), as...), next: h.next.WithAttrs(as)}
}

func (h *hookLog) WithGroup(name string) slog.Handler {
	return &hookLog{on: h.on, attrs: h.attrs, next: h.next.WithGroup(name)}
}

// attrsOf is a record's attributes and its logger's, by key (the last wins).
func attrsOf(r slog.Record, attrs []slog.Attr) map[string]slog.Value {
	m := make(map[string]slog.Value)
	for _, a := range attrs {
		m[a.Key] = a.Value
	}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value
		return true
	})
	return m
}

// closeOnce closes a channel the first time it is called.
func closeOnce(ch chan struct{}) func() {
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}
