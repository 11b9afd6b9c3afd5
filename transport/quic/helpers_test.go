package quic

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/transport"
)

var testCookie = []byte("0123456789abcdef0123456789abcdef")

// nodeEvent is a NodeUp or NodeDown seen by a testHandler.
type nodeEvent struct {
	up     bool
	peer   transport.NodeInfo
	reason error
}

// testHandler records what a transport delivers. Hooks, when set, replace
// the default behaviour.
type testHandler struct {
	events chan nodeEvent
	casts  chan transport.Control
	envs   chan []transport.Envelope

	onEnvelopes func(from transport.NodeInfo, envs []transport.Envelope)
	onCast      func(msg transport.Control) // before the cast is recorded

	mu     sync.Mutex
	blobs  map[string][]byte
	onCall func(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error)
}

func newHandler() *testHandler {
	return &testHandler{
		events: make(chan nodeEvent, 1000),
		casts:  make(chan transport.Control, 1000),
		envs:   make(chan []transport.Envelope, 10000),
		blobs:  map[string][]byte{},
	}
}

func (h *testHandler) HandleEnvelopes(from transport.NodeInfo, envs []transport.Envelope) {
	if h.onEnvelopes != nil {
		h.onEnvelopes(from, envs)
		return
	}
	h.envs <- envs
}

func (h *testHandler) setCall(f func(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error)) {
	h.mu.Lock()
	h.onCall = f
	h.mu.Unlock()
}

func (h *testHandler) HandleCast(from transport.NodeInfo, msg transport.Control) {
	if h.onCast != nil {
		h.onCast(msg)
	}
	h.casts <- msg
}

func (h *testHandler) HandleCall(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error) {
	h.mu.Lock()
	f := h.onCall
	h.mu.Unlock()
	if f != nil {
		return f(ctx, from, req)
	}
	return append([]byte("echo:"), req.Body...), nil
}

func (h *testHandler) ServeBlob(ctx context.Context, from transport.PeerInfo, key string) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.blobs[key]
	if !ok {
		return nil, &transport.RemoteError{Code: 7, Message: "no blob " + key}
	}
	return b, nil
}

func (h *testHandler) NodeUp(peer transport.NodeInfo) { h.events <- nodeEvent{up: true, peer: peer} }
func (h *testHandler) NodeDown(peer transport.NodeInfo, reason error) {
	h.events <- nodeEvent{peer: peer, reason: reason}
}

// nextEvent waits (bounded) for the next up/down event.
func (h *testHandler) nextEvent(t testing.TB, within time.Duration) nodeEvent {
	t.Helper()
	select {
	case ev := <-h.events:
		return ev
	case <-time.After(within):
		t.Fatalf("no node event within %v", within)
	}
	return nodeEvent{}
}

func testLogger() *slog.Logger {
	if os.Getenv("WASMACTOR_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func testConfig(name string) Config {
	return Config{
		Name:             name,
		Listen:           "127.0.0.1:0",
		Cookie:           testCookie,
		IdleTimeout:      2 * time.Second,
		HandshakeTimeout: 2 * time.Second,
		ReconnectMin:     20 * time.Millisecond,
		ReconnectMax:     200 * time.Millisecond,
		Logger:           testLogger(),
	}
}

// startNode creates and starts a transport on 127.0.0.1:0, closed when the
// test ends.
func startNode(t testing.TB, cfg Config, h transport.Handler) *Transport {
	t.Helper()
	tr, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { tr.Close() })
	require.NoError(t, tr.Start(context.Background(), h))
	return tr
}

func joinCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond (bounded) until it holds.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
