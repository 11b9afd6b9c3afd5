package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// TestRun runs the example against the counter guest, as its doc says.
func TestRun(t *testing.T) {
	wasm := guestbuildtest.Build(t, "examples/counter")
	path := filepath.Join(t.TempDir(), "counter.wasm")
	require.NoError(t, os.WriteFile(path, wasm, 0o644))
	// Generous: under -race, wazero takes tens of seconds to compile a Go guest.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	require.NoError(t, run(ctx, path))
}
