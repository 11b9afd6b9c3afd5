package guestbuild

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/wasmactor/wasmactor/internal/atomicfile"
)

// buildCommand is how errors name the command, in the words a user would
// type to run it themselves.
const buildCommand = "GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared"

// compiles counts real invocations of the go command; tests use it to tell a
// cache hit from a build.
var compiles atomic.Int64

// Option adjusts one [Build].
type Option func(*options)

type options struct {
	output string
	cache  string
	stderr io.Writer
}

// WithOutput writes the module to path as well (mode 0644), replacing it
// atomically; the directory must exist. The module is written even when it
// came from the cache.
func WithOutput(path string) Option { return func(o *options) { o.output = path } }

// WithCache looks the build up in dir, and stores it there, keyed as the
// package doc describes. dir is created if needed; a cache that cannot be
// written only costs time.
func WithCache(dir string) Option { return func(o *options) { o.cache = dir } }

// WithStderr sends the go command's output to w as it runs, untouched, since
// compiler diagnostics are only useful whole. Without it, the output is part
// of the error.
func WithStderr(w io.Writer) Option { return func(o *options) { o.stderr = w } }

// Build compiles the Go guest package in dir (relative to the working
// directory, or absolute) and returns the module bytes. Each call returns
// memory of its own, so callers may modify it.
//
// # Errors
//
// An error wraps [exec.ErrNotFound] when the go command is not on PATH, and
// an [*exec.ExitError] when the go command failed (the package did not
// compile). ctx stops the go command.
func Build(ctx context.Context, dir string, opts ...Option) ([]byte, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	abs, err := packageDir(dir)
	if err != nil {
		return nil, err
	}
	var wasm []byte
	if o.cache == "" {
		wasm, err = compile(ctx, abs, o.stderr)
	} else {
		wasm, err = cached(ctx, o.cache, abs, o.stderr)
		wasm = bytes.Clone(wasm) // cached bytes are shared
	}
	if err != nil {
		return nil, err
	}
	if o.output != "" {
		if err := atomicfile.Write(o.output, wasm, 0o644); err != nil {
			return nil, fmt.Errorf("guestbuild: writing %s: %w", o.output, err)
		}
	}
	return wasm, nil
}

func packageDir(dir string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("guestbuild: empty package directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("guestbuild: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("guestbuild: package directory: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("guestbuild: %s is not a directory", abs)
	}
	return abs, nil
}

// compile runs the go command in dir. It builds into a directory of its own
// so that a failed or cancelled build never leaves a partial module where a
// caller looks.
func compile(ctx context.Context, dir string, stderr io.Writer) ([]byte, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("guestbuild: %w", err)
	}
	tmp, err := os.MkdirTemp("", "guestbuild-*")
	if err != nil {
		return nil, fmt.Errorf("guestbuild: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "guest.wasm")

	cmd := exec.CommandContext(ctx, goTool, "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	var captured bytes.Buffer
	if stderr == nil {
		stderr = &captured
	}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	compiles.Add(1)
	if err := cmd.Run(); err != nil {
		err = fmt.Errorf("guestbuild: %s in %s: %w", buildCommand, dir, err)
		if msg := strings.TrimSpace(captured.String()); msg != "" {
			err = fmt.Errorf("%w\n%s", err, msg)
		}
		return nil, err
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("guestbuild: %w", err)
	}
	return wasm, nil
}
