package guestbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// keyScheme changes whenever the key or the build command changes, so old
// cache entries are never mistaken for new ones.
const keyScheme = "wasmactor-guestbuild-v1"

// buildTimeout bounds one compilation; a cold wasm build of the SDK takes a
// few seconds, so this only trips on a wedged toolchain.
const buildTimeout = 5 * time.Minute

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error

	goVersionOnce sync.Once
	goVersion     string
	goVersionErr  error

	// mu guards mem and inflight. Builds of different keys run in parallel;
	// builds of one key within a process run once.
	mu       sync.Mutex
	mem      = map[string][]byte{}
	inflight = map[string]*sync.Mutex{}

	// compiles counts real invocations of the go command; tests use it to
	// tell a cache hit from a build.
	compiles atomic.Int64
)

// Build compiles the guest package at pkgDir (see the package doc for how
// paths resolve) and returns the module bytes, failing tb on any error.
// Each call returns a fresh copy, so callers may modify it.
func Build(tb testing.TB, pkgDir string) []byte {
	tb.Helper()
	wasm, err := BuildErr(pkgDir)
	if err != nil {
		tb.Fatalf("guestbuild: %v", err)
	}
	return wasm
}

// BuildErr is [Build] for callers without a testing.TB.
func BuildErr(pkgDir string) ([]byte, error) {
	wasm, err := build(pkgDir)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(wasm), nil
}

// build returns the cached module bytes, shared; callers copy.
func build(pkgDir string) ([]byte, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	abs, err := resolve(root, pkgDir)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("package %s is outside the module at %s", abs, root)
	}
	rel = filepath.ToSlash(rel)

	key, err := cacheKey(root, rel)
	if err != nil {
		return nil, err
	}

	mu.Lock()
	if b, ok := mem[key]; ok {
		mu.Unlock()
		return b, nil
	}
	keyMu, ok := inflight[key]
	if !ok {
		keyMu = new(sync.Mutex)
		inflight[key] = keyMu
	}
	mu.Unlock()

	keyMu.Lock()
	defer keyMu.Unlock()
	mu.Lock()
	if b, ok := mem[key]; ok {
		mu.Unlock()
		return b, nil
	}
	mu.Unlock()

	dir := cacheDir()
	file := filepath.Join(dir, key+".wasm")
	wasm, err := os.ReadFile(file)
	if err != nil || len(wasm) == 0 {
		wasm, err = compile(root, rel)
		if err != nil {
			return nil, err
		}
		// A cache that cannot be written only costs time; the build result is
		// still good.
		_ = writeAtomic(dir, file, wasm)
	}

	mu.Lock()
	mem[key] = wasm
	mu.Unlock()
	return wasm, nil
}

// RepoRoot returns the directory holding the wasmactor module's go.mod,
// asking `go env GOMOD` first and walking up from the working directory if
// that fails.
func RepoRoot() (string, error) {
	rootOnce.Do(func() { rootDir, rootErr = findRoot() })
	return rootDir, rootErr
}

func findRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		gomod := strings.TrimSpace(string(out))
		if gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("guestbuild: finding the module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("guestbuild: no go.mod above the working directory")
		}
		dir = parent
	}
}

func resolve(root, pkgDir string) (string, error) {
	if pkgDir == "" {
		return "", errors.New("guestbuild: empty package directory")
	}
	var abs string
	switch {
	case filepath.IsAbs(pkgDir):
		abs = pkgDir
	case pkgDir == "." || pkgDir == ".." ||
		strings.HasPrefix(pkgDir, "./") || strings.HasPrefix(pkgDir, "../"):
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("guestbuild: %w", err)
		}
		abs = filepath.Join(wd, pkgDir)
	default:
		abs = filepath.Join(root, pkgDir)
	}
	abs = filepath.Clean(abs)
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("guestbuild: package directory: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("guestbuild: %s is not a directory", abs)
	}
	return abs, nil
}

// CompileCacheDir is where tests keep wazero's compilation cache, shared by
// every test process on the machine (engines use it when
// $WASMACTOR_COMPILE_CACHE names it). A Go guest takes seconds to compile,
// and half a minute under the race detector; compiled once, it loads in
// milliseconds.
func CompileCacheDir() string {
	return filepath.Join(filepath.Dir(cacheDir()), "compiled")
}

// ShareCompileCache points $WASMACTOR_COMPILE_CACHE at CompileCacheDir for
// this process and the node processes it starts; call it from TestMain.
func ShareCompileCache() {
	if os.Getenv("WASMACTOR_COMPILE_CACHE") == "" {
		_ = os.Setenv("WASMACTOR_COMPILE_CACHE", CompileCacheDir())
	}
}

func cacheDir() string {
	if d := os.Getenv("WASMACTOR_GUEST_CACHE"); d != "" {
		return d
	}
	base, err := os.UserCacheDir()
	if err != nil || base == "" {
		base = os.TempDir()
	}
	return filepath.Join(base, "wasmactor", "guests")
}

func toolVersion() (string, error) {
	goVersionOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOVERSION").Output()
		if err != nil {
			goVersionErr = fmt.Errorf("guestbuild: go env GOVERSION: %w", err)
			return
		}
		goVersion = strings.TrimSpace(string(out))
	})
	return goVersion, goVersionErr
}

// cacheKey hashes everything that decides the output: see the package doc.
func cacheKey(root, rel string) (string, error) {
	ver, err := toolVersion()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	field := func(name string, data []byte) {
		// Length-prefixed fields: no two different inputs hash alike by
		// shifting bytes between a name and its content.
		fmt.Fprintf(h, "%d:%s%d:", len(name), name, len(data))
		h.Write(data)
	}
	field("scheme", []byte(keyScheme))
	field("go", []byte(ver))
	field("goflags", []byte(os.Getenv("GOFLAGS")))
	field("pkg", []byte(rel))
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("guestbuild: %w", err)
		}
		field(f, b)
	}
	if err := hashGoFiles(field, root, rel, false); err != nil {
		return "", err
	}
	if err := hashGoFiles(field, root, "guest-sdk", true); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashGoFiles feeds the non-test .go files under root/rel (recursively when
// deep) into field, in a fixed order.
func hashGoFiles(field func(string, []byte), root, rel string, deep bool) error {
	base := filepath.Join(root, filepath.FromSlash(rel))
	var files []string
	err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != base && (!deep || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil && !(deep && errors.Is(err, fs.ErrNotExist)) {
		return fmt.Errorf("guestbuild: %w", err)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("guestbuild: %w", err)
		}
		r, _ := filepath.Rel(root, f)
		field(filepath.ToSlash(r), b)
	}
	return nil
}

func compile(root, rel string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "guestbuild-*")
	if err != nil {
		return nil, fmt.Errorf("guestbuild: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "guest.wasm")

	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", out, "./"+rel)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	compiles.Add(1)
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("guestbuild: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared ./%s: %w\n%s",
			rel, err, strings.TrimSpace(stderr.String()))
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("guestbuild: %w", err)
	}
	return wasm, nil
}

func writeAtomic(dir, file string, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*.wasm")
	if err != nil {
		return err
	}
	name := f.Name()
	_ = f.Chmod(0o644) // CreateTemp makes 0600; other users of a shared cache read it
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Rename(name, file); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}
