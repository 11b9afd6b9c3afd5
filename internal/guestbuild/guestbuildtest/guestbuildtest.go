package guestbuildtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmactor/wasmactor/internal/guestbuild"
)

// buildTimeout bounds one compilation; a cold wasm build of the SDK takes a
// few seconds, half a minute under load, so this only trips on a wedged
// toolchain.
const buildTimeout = 5 * time.Minute

// Build compiles the guest package at pkgDir (see the package doc for how
// paths resolve) and returns the module bytes, failing tb on any error.
func Build(tb testing.TB, pkgDir string) []byte {
	tb.Helper()
	dir, err := resolve(pkgDir)
	if err != nil {
		tb.Fatalf("guestbuild: %v", err)
	}
	ctx, cancel := context.WithTimeout(tb.Context(), buildTimeout)
	defer cancel()
	wasm, err := guestbuild.Build(ctx, dir, guestbuild.WithCache(guestbuild.DefaultCacheDir()))
	if err != nil {
		tb.Fatal(err)
	}
	return wasm
}

func resolve(pkgDir string) (string, error) {
	switch {
	case pkgDir == "":
		return "", fmt.Errorf("empty package directory")
	case filepath.IsAbs(pkgDir):
		return pkgDir, nil
	case pkgDir == "." || pkgDir == ".." ||
		strings.HasPrefix(pkgDir, "./") || strings.HasPrefix(pkgDir, "../"):
		return filepath.Abs(pkgDir)
	}
	root, err := guestbuild.RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, filepath.FromSlash(pkgDir)), nil
}

// CompileCacheDir is where tests keep wazero's compilation cache, shared by
// every test process on the machine (engines use it when
// $WASMACTOR_COMPILE_CACHE names it). A Go guest takes seconds to compile,
// and half a minute under the race detector; compiled once, it loads in
// milliseconds.
func CompileCacheDir() string {
	return filepath.Join(filepath.Dir(guestbuild.DefaultCacheDir()), "compiled")
}

// ShareCompileCache points $WASMACTOR_COMPILE_CACHE at CompileCacheDir for
// this process and the node processes it starts, unless it is set already;
// call it from TestMain.
func ShareCompileCache() {
	if os.Getenv("WASMACTOR_COMPILE_CACHE") == "" {
		_ = os.Setenv("WASMACTOR_COMPILE_CACHE", CompileCacheDir())
	}
}
