package guestbuild

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "internal", "guestbuild"))
	require.NoError(t, err)

	// From the bench module, whose own go.mod is nearer, too.
	t.Chdir(filepath.Join(root, "bench"))
	fromBench, err := RepoRoot()
	require.NoError(t, err)
	require.Equal(t, root, fromBench)
}

// TestBuildCaches builds a guest into an empty cache directory twice, through
// two path spellings, and checks that the go command ran once; then drops the
// in-memory cache and checks that the disk cache answers too.
func TestBuildCaches(t *testing.T) {
	cache := t.TempDir()
	before := compiles.Load()

	first, err := Build(t.Context(), "./testdata/trivial", WithCache(cache))
	require.NoError(t, err)
	require.Equal(t, []byte("\x00asm"), first[:4], "not a wasm module")
	require.Equal(t, int64(1), compiles.Load()-before)

	abs, err := filepath.Abs("testdata/trivial")
	require.NoError(t, err)
	second, err := Build(t.Context(), abs, WithCache(cache))
	require.NoError(t, err)
	require.Equal(t, first, second)
	require.Equal(t, int64(1), compiles.Load()-before, "second build was not a cache hit")

	mu.Lock()
	clear(mem)
	mu.Unlock()
	third, err := Build(t.Context(), "./testdata/trivial", WithCache(cache))
	require.NoError(t, err)
	require.Equal(t, first, third)
	third[0] = 'X'
	fourth, err := Build(t.Context(), "./testdata/trivial", WithCache(cache))
	require.NoError(t, err)
	require.Equal(t, first, fourth, "callers get copies")
	require.Equal(t, int64(1), compiles.Load()-before, "disk cache was not used")

	entries, err := os.ReadDir(cache)
	require.NoError(t, err)
	require.Len(t, entries, 1, "one cache entry, no temporary files left behind")

	// A cache hit still writes the output file.
	out := filepath.Join(t.TempDir(), "trivial.wasm")
	_, err = Build(t.Context(), "./testdata/trivial", WithCache(cache), WithOutput(out))
	require.NoError(t, err)
	written, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, first, written)
	require.Equal(t, int64(1), compiles.Load()-before)
}

// TestCacheKeyFollowsSources checks the key without building: spellings of
// one directory agree, a source edit changes it, a test file does not.
func TestCacheKeyFollowsSources(t *testing.T) {
	mod := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		require.NoError(t, os.WriteFile(filepath.Join(mod, name), []byte(content), 0o644))
	}
	write("go.mod", "module example.com/guest\n\ngo 1.26\n")
	write("main.go", "package main\n\nfunc main() {}\n")
	k1, err := cacheKey(mod)
	require.NoError(t, err)

	write("main_test.go", "package main\n")
	k2, err := cacheKey(mod)
	require.NoError(t, err)
	require.Equal(t, k1, k2, "test files are not part of the guest")

	write("main.go", "package main\n\nfunc main() { println() }\n")
	k3, err := cacheKey(mod)
	require.NoError(t, err)
	require.NotEqual(t, k1, k3)

	write("go.mod", "module example.com/other\n\ngo 1.26\n")
	k4, err := cacheKey(mod)
	require.NoError(t, err)
	require.NotEqual(t, k3, k4, "the import path is part of the key")
}

func TestBuildErrors(t *testing.T) {
	ctx := t.Context()
	_, err := Build(ctx, "")
	require.Error(t, err)
	_, err = Build(ctx, "./testdata/does-not-exist")
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = Build(ctx, "doc.go")
	require.ErrorContains(t, err, "not a directory")
	_, err = Build(ctx, t.TempDir(), WithCache(t.TempDir()))
	require.ErrorContains(t, err, "no go.mod above")

	// A package that does not compile reports the compiler's message in the
	// error, or on the WithStderr writer alone.
	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "go.mod"), []byte("module example.com/bad\n\ngo 1.26\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(bad, "main.go"),
		[]byte("package main\n\nfunc main() { undefinedThing() }\n"), 0o644))
	_, err = Build(ctx, bad)
	require.ErrorContains(t, err, "undefinedThing")
	var exitErr *exec.ExitError
	require.True(t, errors.As(err, &exitErr), "%v", err)

	var stderr bytes.Buffer
	out := filepath.Join(t.TempDir(), "bad.wasm")
	_, err = Build(ctx, bad, WithStderr(&stderr), WithOutput(out))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "undefinedThing")
	require.Contains(t, stderr.String(), "undefinedThing")
	_, err = os.Stat(out)
	require.ErrorIs(t, err, os.ErrNotExist, "a failed build leaves no output")
}
