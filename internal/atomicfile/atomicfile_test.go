package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteReplacesWithModeAndLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.wasm")
	require.NoError(t, os.WriteFile(path, []byte("old content"), 0o600))

	require.NoError(t, Write(path, []byte("new"), 0o644))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "new", string(b))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm(), "the mode is exact, whatever the umask")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

func TestFailedWriteRemovesItsTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	// Renaming a file over a non-empty directory fails after the data is
	// written, the latest point a write can fail.
	target := filepath.Join(dir, "target")
	require.NoError(t, os.MkdirAll(filepath.Join(target, "inside"), 0o755))

	require.Error(t, Write(target, []byte("data"), 0o644))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the directory that was in the way")

	require.Error(t, Write(filepath.Join(dir, "missing", "f"), nil, 0o644), "the directory must exist")
}
