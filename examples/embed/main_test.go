package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/wasmactor/wasmactor/internal/guestbuild"
)

// TestRun runs the example against the counter guest, as its doc says.
func TestRun(t *testing.T) {
	wasm := guestbuild.Build(t, "examples/counter")
	path := filepath.Join(t.TempDir(), "counter.wasm")
	require.NoError(t, os.WriteFile(path, wasm, 0o644))
	require.NoError(t, run(path))
}
