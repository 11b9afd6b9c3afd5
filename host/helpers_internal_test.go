package host

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/registry"
)

// echoAlone starts a node with no network that holds the Echo module
// (testdata/minimal_actor.wasm), closed when the test ends, and returns it
// with a context bounding the test and the module's bytes and info.
func echoAlone(t *testing.T) (context.Context, *Node, []byte, registry.ModuleInfo) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	n, err := Start(ctx, Config{Name: "n1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	wasm, err := os.ReadFile("../testdata/minimal_actor.wasm")
	require.NoError(t, err)
	info, err := n.Deploy(ctx, wasm)
	require.NoError(t, err)
	return ctx, n, wasm, info
}
