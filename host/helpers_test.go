package host_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild"
)

// quietLogger keeps test output readable; set WASMACTOR_TEST_LOG=1 to see node logs.
func quietLogger() *slog.Logger {
	if os.Getenv("WASMACTOR_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newNode(t testing.TB, cfg host.Config) *host.Node {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.CompileTimeout == 0 {
		// A cold compile of a Go guest under the race detector on a loaded
		// 2-core machine can pass the default minute.
		cfg.CompileTimeout = 4 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := host.Start(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, n.Close()) })
	return n
}

func ctxT(t testing.TB) context.Context {
	// Generous: under the race detector on a loaded 2-core machine a first
	// compile of a Go guest takes half a minute.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// fixture reads a committed .wasm from the repository's testdata.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	root, err := guestbuild.RepoRoot()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "testdata", name))
	require.NoError(t, err)
	return b
}

func deploy(t testing.TB, n *host.Node, wasm []byte) string {
	t.Helper()
	info, err := n.Deploy(ctxT(t), wasm)
	require.NoError(t, err)
	return info.Hash.String()
}

type counterReply struct {
	Value   int64 `cbor:"value"`
	Version int64 `cbor:"version"`
}

func getCounter(t testing.TB, n *host.Node, pid host.PID) counterReply {
	t.Helper()
	r, err := n.Call(ctxT(t), pid, map[string]any{"op": "get"})
	require.NoError(t, err)
	var v counterReply
	require.NoError(t, r.Decode(&v))
	return v
}

// waitDown waits for a monitor to fire, failing the test after d.
func waitDown(t testing.TB, m *host.Monitor, d time.Duration) host.Down {
	t.Helper()
	select {
	case down := <-m.C:
		return down
	case <-time.After(d):
		t.Fatalf("no down within %v", d)
		return host.Down{}
	}
}

func noDown(t testing.TB, m *host.Monitor) {
	t.Helper()
	select {
	case down := <-m.C:
		t.Fatalf("unexpected down: %+v", down)
	default:
	}
}
