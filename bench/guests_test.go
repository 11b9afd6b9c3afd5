package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Guest modules are compiled with the go command, because the main module's
// internal/guestbuild is out of reach from this module. Results are cached
// in os.UserCacheDir()/wasmactor/bench-guests, keyed by a hash of everything
// that decides the output.

// guestKeyScheme changes whenever the key or the build command changes.
const guestKeyScheme = "wasmactor-bench-guests-v1"

var (
	guestMu  sync.Mutex
	guestMem = map[string][]byte{}
)

// benchGuest is the main module's testdata/guests/bench (Sink, Source,
// Echo, ...).
func benchGuest(tb testing.TB) []byte {
	return buildGuest(tb, "..", "testdata/guests/bench")
}

// askerGuest is this module's guests/asker.
func askerGuest(tb testing.TB) []byte {
	return buildGuest(tb, ".", "guests/asker")
}

// buildGuest compiles the guest package pkg (a path relative to the module
// root modRoot, which is relative to this package's directory) and returns
// a copy of the module bytes.
func buildGuest(tb testing.TB, modRoot, pkg string) []byte {
	tb.Helper()
	root, err := filepath.Abs(modRoot)
	if err != nil {
		tb.Fatal(err)
	}
	guestMu.Lock()
	defer guestMu.Unlock()
	key, err := guestKey(root, pkg)
	if err != nil {
		tb.Fatalf("bench guest %s: %v", pkg, err)
	}
	if b, ok := guestMem[key]; ok {
		return bytes.Clone(b)
	}
	dir := guestCacheDir()
	file := filepath.Join(dir, key+".wasm")
	wasm, err := os.ReadFile(file)
	if err != nil || len(wasm) == 0 {
		if wasm, err = compileGuest(root, pkg); err != nil {
			tb.Fatalf("bench guest %s: %v", pkg, err)
		}
		// A cache that cannot be written only costs time next run.
		_ = writeAtomic(dir, file, wasm)
	}
	guestMem[key] = wasm
	return bytes.Clone(wasm)
}

func guestCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil || base == "" {
		base = os.TempDir()
	}
	return filepath.Join(base, "wasmactor", "bench-guests")
}

// guestKey hashes the go version, GOFLAGS, the package path, the module's
// go.mod and go.sum, the package's non-test .go files and every non-test .go
// file of the main module's guest-sdk.
func guestKey(root, pkg string) (string, error) {
	ver, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	h := sha256.New()
	field := func(name string, data []byte) {
		// Length-prefixed, so no two inputs hash alike by shifting bytes
		// between a name and its content.
		fmt.Fprintf(h, "%d:%s%d:", len(name), name, len(data))
		h.Write(data)
	}
	field("scheme", []byte(guestKeyScheme))
	field("go", bytes.TrimSpace(ver))
	field("goflags", []byte(os.Getenv("GOFLAGS")))
	field("root", []byte(root))
	field("pkg", []byte(pkg))
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil && !os.IsNotExist(err) {
			return "", err
		}
		field(f, b)
	}
	sdk, err := filepath.Abs(filepath.Join("..", "guest-sdk"))
	if err != nil {
		return "", err
	}
	for _, dir := range []string{filepath.Join(root, filepath.FromSlash(pkg)), sdk} {
		if err := hashGoFiles(field, dir); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashGoFiles(field func(string, []byte), dir string) error {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != dir && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		field(filepath.ToSlash(f), b)
	}
	return nil
}

func compileGuest(root, pkg string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "bench-guest-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "guest.wasm")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", out, "./"+pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared ./%s: %w\n%s",
			pkg, err, strings.TrimSpace(stderr.String()))
	}
	return os.ReadFile(out)
}

// writeAtomic writes to a temporary name and renames, so parallel runs
// never read a partial module.
func writeAtomic(dir, file string, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*.wasm")
	if err != nil {
		return err
	}
	name := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(name, file)
	}
	if werr != nil {
		os.Remove(name)
	}
	return werr
}

// withCustomSection returns wasm with a custom section appended (id 0, the
// LEB128 size of the rest, the name, then the bytes). Runtimes skip custom
// sections, so the module stays valid and behaves the same, but its bytes,
// and so its hash, change.
func withCustomSection(wasm []byte, name string, data []byte) []byte {
	body := appendULEB(nil, uint64(len(name)))
	body = append(body, name...)
	body = append(body, data...)
	out := append(bytes.Clone(wasm), 0)
	out = appendULEB(out, uint64(len(body)))
	return append(out, body...)
}

func appendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}
