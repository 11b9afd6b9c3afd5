package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/guestbuild"
)

func needGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("these tests build guests with the go command, which is not on PATH: %v", err)
	}
}

func TestBuildCounter(t *testing.T) {
	needGo(t)
	out := filepath.Join(t.TempDir(), "counter.wasm")
	f := newFake(t)
	r := f.run(t, "build", "../../examples/counter", "-o", out, "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var rep buildJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	wasm, err := os.ReadFile(out)
	require.NoError(t, err)
	sum := sha256.Sum256(wasm)
	require.Equal(t, buildJSON{File: out, Size: int64(len(wasm)), Hash: hex.EncodeToString(sum[:]), Factories: []string{"Counter"}}, rep)
	require.Equal(t, wasmMagic, wasm[:8])

	r = f.run(t, "build", "../../examples/counter", "-o", out)
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `^built .*counter\.wasm: \d+\.\d MiB, sha256 [0-9a-f]{12}\nfactories: Counter\n$`, r.stdout)
	require.Empty(t, f.dialed, "build needs no node")
}

// Without -o, the module is named after the package directory, in the
// current directory, as go build names binaries.
func TestBuildDefaultOutput(t *testing.T) {
	needGo(t)
	wd, err := os.Getwd()
	require.NoError(t, err)
	pkg := filepath.Join(wd, "..", "..", "examples", "counter")
	t.Chdir(t.TempDir())
	f := newFake(t)
	r := f.run(t, "build", pkg)
	require.Equal(t, 0, r.code, r.stderr)
	_, err = os.Stat("counter.wasm")
	require.NoError(t, err)
}

func TestBuildFailures(t *testing.T) {
	needGo(t)
	dir := t.TempDir()
	f := newFake(t)

	r := f.run(t, "build", "testdata/notactor", "-o", filepath.Join(dir, "x.wasm"))
	require.Equal(t, exitRejected, r.code)
	require.Contains(t, r.stderr, "compiled, but a node would refuse it: bad module: missing export wasmactor_abi_version (does the package import guest-sdk/actor")

	// The compiler's own diagnostics come first, then one wasmactor line.
	var out, errb strings.Builder
	code := runWith(t.Context(), []string{"build", "testdata/broken", "-o", filepath.Join(dir, "y.wasm")}, &out, &errb, f.deps())
	require.Equal(t, exitFailure, code)
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	require.Contains(t, errb.String(), "undefined: undefinedFunction")
	require.True(t, strings.HasPrefix(lines[len(lines)-1], "wasmactor: build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared in "), lines[len(lines)-1])
	require.Equal(t, 1, strings.Count(errb.String(), "wasmactor: "))
}

func TestInspectRejectsGarbage(t *testing.T) {
	_, err := inspect(t.Context(), []byte("\x00asm\x01\x00\x00\x00garbage"))
	require.ErrorIs(t, err, wasmactor.ErrBadModule)
}

// TestCLIDoesNotLinkTesting keeps test support out of the binary users run:
// the CLI builds guests with internal/guestbuild, whose test helpers live in
// guestbuildtest so that package testing (and its flags and init work) is
// not linked in.
func TestCLIDoesNotLinkTesting(t *testing.T) {
	needGo(t)
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, "go list -deps:\n%s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/wasmactor/wasmactor/internal/guestbuild", "go list saw the guest builder")
	for _, dep := range deps {
		if dep == "testing" || strings.HasPrefix(dep, "testing/") ||
			strings.HasPrefix(dep, "github.com/stretchr/testify") ||
			strings.HasSuffix(dep, "/guestbuildtest") {
			t.Errorf("the wasmactor binary links %s", dep)
		}
	}
}

// installWasmOpt installs binaryen's wasm-opt with the project's script
// (from npm, into the checkout's .cache/tools; a second run reuses it) and
// points build --optimize at it.
func installWasmOpt(t *testing.T) {
	t.Helper()
	out, err := exec.Command("bash", "../../scripts/install-wasm-opt.sh").Output()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		t.Fatalf("scripts/install-wasm-opt.sh: %v\n%s", err, exitErr.Stderr)
	}
	require.NoError(t, err)
	t.Setenv(guestbuild.WasmOptEnv, strings.TrimSpace(string(out)))
}

// build --optimize writes wasm-opt's output: smaller than the go build's,
// and still a module a node deploys, with the same factories.
func TestBuildOptimize(t *testing.T) {
	needGo(t)
	installWasmOpt(t)
	out := filepath.Join(t.TempDir(), "counter.wasm")
	f := newFake(t)
	r := f.run(t, "build", "../../examples/counter", "--out", out, "--optimize", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var rep buildJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	wasm, err := os.ReadFile(out)
	require.NoError(t, err)
	require.EqualValues(t, len(wasm), rep.Size)
	require.Less(t, rep.Size, rep.UnoptimizedSize, "wasm-opt made the module no smaller")
	require.Equal(t, []string{"Counter"}, rep.Factories)

	r = f.run(t, "build", "../../examples/counter", "--out", out, "--optimize")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `^built .*counter\.wasm: \d+\.\d MiB \(optimized from \d+\.\d MiB\), sha256 [0-9a-f]{12}\nfactories: Counter\n$`, r.stdout)
}

// Without wasm-opt, build --optimize fails at once with one line that says
// how to install it, and writes nothing.
func TestBuildOptimizeWithoutWasmOpt(t *testing.T) {
	t.Setenv(guestbuild.WasmOptEnv, filepath.Join(t.TempDir(), "no-wasm-opt"))
	out := filepath.Join(t.TempDir(), "counter.wasm")
	f := newFake(t)
	r := f.run(t, "build", "../../examples/counter", "--out", out, "--optimize")
	require.Equal(t, exitFailure, r.code)
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	require.Contains(t, r.stderr, "wasmactor: build --optimize: ")
	require.Contains(t, r.stderr, "wasm-opt is not installed")
	require.Contains(t, r.stderr, "scripts/install-wasm-opt.sh")
	_, err := os.Stat(out)
	require.ErrorIs(t, err, os.ErrNotExist)
}
