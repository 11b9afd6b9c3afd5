package guestbuildtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/guestbuild"
)

func TestPathsResolveAgainstTheWorkingDirectoryOrTheRepository(t *testing.T) {
	root, err := guestbuild.RepoRoot()
	require.NoError(t, err)
	wd, err := os.Getwd()
	require.NoError(t, err)
	for _, tc := range []struct{ in, want string }{
		{"examples/counter", filepath.Join(root, "examples", "counter")},
		{"./testdata/x", filepath.Join(wd, "testdata", "x")},
		{"../testdata/trivial", filepath.Join(root, "internal", "guestbuild", "testdata", "trivial")},
		{".", wd},
		{root, root},
	} {
		got, err := resolve(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	_, err = resolve("")
	require.Error(t, err)
}

// TestBuildReturnsCopies builds the trivial guest through both path forms;
// the second comes from the cache, and each caller owns its bytes.
func TestBuildReturnsCopies(t *testing.T) {
	first := Build(t, "../testdata/trivial")
	require.Equal(t, []byte("\x00asm"), first[:4], "not a wasm module")
	first[0] = 'X'
	second := Build(t, "internal/guestbuild/testdata/trivial")
	require.Equal(t, []byte("\x00asm"), second[:4], "callers get copies")
}
