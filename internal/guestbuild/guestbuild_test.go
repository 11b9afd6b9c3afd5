package guestbuild

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "internal", "guestbuild"))
	require.NoError(t, err)
}

// TestBuildCaches builds a guest into an empty cache directory twice, through
// two path spellings, and checks that the go command ran once; then drops the
// in-memory cache and checks that the disk cache answers too.
func TestBuildCaches(t *testing.T) {
	t.Setenv("WASMACTOR_GUEST_CACHE", t.TempDir())
	before := compiles.Load()

	first := Build(t, "./testdata/trivial")
	require.Equal(t, []byte("\x00asm"), first[:4], "not a wasm module")
	require.Equal(t, int64(1), compiles.Load()-before)

	second := Build(t, "internal/guestbuild/testdata/trivial")
	require.Equal(t, first, second)
	require.Equal(t, int64(1), compiles.Load()-before, "second build was not a cache hit")

	mu.Lock()
	clear(mem)
	mu.Unlock()
	third := Build(t, "./testdata/trivial")
	require.Equal(t, first, third)
	third[0] = 'X'
	require.Equal(t, first, Build(t, "./testdata/trivial"), "callers get copies")
	require.Equal(t, int64(1), compiles.Load()-before, "disk cache was not used")

	entries, err := filepath.Glob(filepath.Join(os.Getenv("WASMACTOR_GUEST_CACHE"), "*.wasm"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "one cache entry, no temporary files left behind")
}

func TestBuildErrors(t *testing.T) {
	t.Setenv("WASMACTOR_GUEST_CACHE", t.TempDir())

	_, err := BuildErr("")
	require.Error(t, err)
	_, err = BuildErr("./testdata/does-not-exist")
	require.Error(t, err)
	_, err = BuildErr(os.TempDir())
	require.ErrorContains(t, err, "outside the module")

	// A package that does not compile reports the compiler's message.
	dir := t.TempDir()
	bad := filepath.Join("testdata", "broken-"+filepath.Base(dir))
	require.NoError(t, os.MkdirAll(bad, 0o755))
	t.Cleanup(func() { os.RemoveAll(bad) })
	require.NoError(t, os.WriteFile(filepath.Join(bad, "main.go"),
		[]byte("package main\n\nfunc main() { undefinedThing() }\n"), 0o644))
	_, err = BuildErr("./" + bad)
	require.ErrorContains(t, err, "undefinedThing")
}
