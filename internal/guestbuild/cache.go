package guestbuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/wasmactor/wasmactor/internal/atomicfile"
)

// keyScheme changes whenever the key or the build command changes, so old
// cache entries are never mistaken for new ones.
const keyScheme = "wasmactor-guestbuild-v2"

// wasmactorModule is the module whose guest-sdk/ goes into the key of every
// guest built inside its source tree.
const wasmactorModule = "github.com/wasmactor/wasmactor"

var (
	goVersionOnce sync.Once
	goVersion     string
	goVersionErr  error

	// mu guards mem and locks. mem is keyed by cache directory and key, so a
	// test with a cache directory of its own sees its own builds.
	mu    sync.Mutex
	mem   = map[string][]byte{}
	locks = map[string]chan struct{}{}
)

// DefaultCacheDir is the cache the tests, the benchmarks and `wasmactor
// demo` share: $WASMACTOR_GUEST_CACHE if set, else
// os.UserCacheDir()/wasmactor/guests (os.TempDir() without a user cache
// directory).
func DefaultCacheDir() string {
	if d := os.Getenv("WASMACTOR_GUEST_CACHE"); d != "" {
		return d
	}
	base, err := os.UserCacheDir()
	if err != nil || base == "" {
		base = os.TempDir()
	}
	return filepath.Join(base, "wasmactor", "guests")
}

// RepoRoot returns the root of the wasmactor source tree holding the working
// directory: the nearest directory above it whose go.mod declares module
// github.com/wasmactor/wasmactor (so from the bench module too, whose own
// go.mod is nearer).
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("guestbuild: %w", err)
	}
	root, _, err := findModule(wd, wasmactorModule)
	return root, err
}

// cached returns the module for the package in dir from the cache in
// cacheDir, building and storing it on a miss. The bytes are shared; callers
// copy.
func cached(ctx context.Context, cacheDir, dir string, stderr io.Writer) ([]byte, error) {
	key, err := cacheKey(dir)
	if err != nil {
		return nil, err
	}
	memKey := cacheDir + "\x00" + key

	// One build per key at a time in this process; the others wait for its
	// result. A channel, not a mutex, so a waiter can give up with ctx.
	mu.Lock()
	if b, ok := mem[memKey]; ok {
		mu.Unlock()
		return b, nil
	}
	lock, ok := locks[memKey]
	if !ok {
		lock = make(chan struct{}, 1)
		locks[memKey] = lock
	}
	mu.Unlock()
	select {
	case lock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("guestbuild: waiting for another build of %s: %w", dir, context.Cause(ctx))
	}
	defer func() { <-lock }()
	mu.Lock()
	b, ok := mem[memKey]
	mu.Unlock()
	if ok {
		return b, nil
	}

	file := filepath.Join(cacheDir, key+".wasm")
	wasm, err := os.ReadFile(file)
	if err != nil || len(wasm) == 0 {
		if wasm, err = compile(ctx, dir, stderr); err != nil {
			return nil, err
		}
		if os.MkdirAll(cacheDir, 0o755) == nil {
			// 0644: a cache shared between users is read by all of them.
			_ = atomicfile.Write(file, wasm, 0o644)
		}
	}
	mu.Lock()
	mem[memKey] = wasm
	mu.Unlock()
	return wasm, nil
}

// cacheKey hashes everything that decides the output: see the package doc.
func cacheKey(dir string) (string, error) {
	ver, err := toolVersion()
	if err != nil {
		return "", err
	}
	modRoot, modPath, err := findModule(dir, "")
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(modRoot, dir)
	if err != nil {
		return "", fmt.Errorf("guestbuild: %w", err)
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
	field("gotoolchain", []byte(os.Getenv("GOTOOLCHAIN")))
	// The import path, not the directory: checkouts of one tree in several
	// places (git worktrees) share their entries.
	field("pkg", []byte(path.Join(modPath, filepath.ToSlash(rel))))
	if err := hashModFiles(field, modRoot, modPath); err != nil {
		return "", err
	}
	if err := hashGoFiles(field, dir, dir, false); err != nil {
		return "", err
	}
	// A guest in a wasmactor tree builds against that tree's SDK (the main
	// module's own, or through the bench module's replace directive).
	if sdkRoot, _, err := findModule(dir, wasmactorModule); err == nil {
		if sdkRoot != modRoot {
			if err := hashModFiles(field, sdkRoot, wasmactorModule); err != nil {
				return "", err
			}
		}
		if err := hashGoFiles(field, sdkRoot, filepath.Join(sdkRoot, "guest-sdk"), true); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
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

// findModule walks up from dir to the nearest go.mod that declares module
// want (any module when want is ""), and returns its directory and module
// path.
func findModule(dir, want string) (root, modPath string, err error) {
	for d := dir; ; {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			if p := modulePath(b); want == "" || p == want {
				return d, p, nil
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", "", fmt.Errorf("guestbuild: %w", err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			if want == "" {
				return "", "", fmt.Errorf("guestbuild: no go.mod above %s", dir)
			}
			return "", "", fmt.Errorf("guestbuild: no go.mod of module %s above %s", want, dir)
		}
		d = parent
	}
}

// modulePath reads the module directive of a go.mod file.
func modulePath(gomod []byte) string {
	for line := range strings.Lines(string(gomod)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], "\"`")
		}
	}
	return ""
}

// hashModFiles feeds the go.mod and go.sum of the module at root into field.
func hashModFiles(field func(string, []byte), root, modPath string) error {
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("guestbuild: %w", err)
		}
		field(modPath+"@"+f, b)
	}
	return nil
}

// hashGoFiles feeds the non-test .go files in base (and below it when deep,
// skipping testdata and dot directories) into field, named relative to root,
// in a fixed order. A missing base hashes as empty.
func hashGoFiles(field func(string, []byte), root, base string, deep bool) error {
	var files []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != base && (!deep || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
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
