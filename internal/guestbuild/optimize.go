package guestbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// WasmOptEnv names the environment variable that locates wasm-opt for
// [Optimize]; without it wasm-opt is looked up on PATH.
const WasmOptEnv = "WASMACTOR_WASM_OPT"

// ErrNoWasmOpt is returned by [Optimize] when wasm-opt cannot be found. It
// wraps [exec.ErrNotFound].
var ErrNoWasmOpt = fmt.Errorf("guestbuild: binaryen's wasm-opt is not installed "+
	"(run scripts/install-wasm-opt.sh in a wasmactor checkout and set %s to the path it prints, "+
	"or put wasm-opt on PATH: npm install -g binaryen): %w", WasmOptEnv, exec.ErrNotFound)

// OptimizeFlags are the wasm-opt passes [Optimize] runs. The features are
// the ones Go's wasip1 port emits (sign extension, non-trapping float to int
// conversions, mutable globals), plus bulk memory, which wazero runs and
// binaryen may use; nothing a node's runtime lacks. The level is the one
// measured in docs/figures-perf.md.
var OptimizeFlags = []string{
	"--mvp-features", "--enable-sign-ext", "--enable-nontrapping-float-to-int",
	"--enable-mutable-globals", "--enable-bulk-memory",
	"-O2", "--strip-debug", "--strip-producers",
}

// WasmOpt returns the wasm-opt that [Optimize] runs: $WASMACTOR_WASM_OPT if
// set, else wasm-opt on PATH.
//
// # Errors
//
// [ErrNoWasmOpt] when neither names an executable.
func WasmOpt() (string, error) {
	name := os.Getenv(WasmOptEnv)
	if name == "" {
		name = "wasm-opt"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", ErrNoWasmOpt
	}
	return path, nil
}

// Optimize runs binaryen's wasm-opt with [OptimizeFlags] over a module and
// returns the optimized module. It does not change what the module does;
// it makes it smaller and quicker for a node to compile (a cold spawn is
// compile-bound). The input is not modified.
//
// # Errors
//
// [ErrNoWasmOpt] when wasm-opt is missing; otherwise an error carrying
// wasm-opt's own output when it fails. ctx stops wasm-opt.
func Optimize(ctx context.Context, wasm []byte) ([]byte, error) {
	tool, err := WasmOpt()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "guestbuild-opt-*")
	if err != nil {
		return nil, fmt.Errorf("guestbuild: %w", err)
	}
	defer os.RemoveAll(tmp)
	in, out := filepath.Join(tmp, "in.wasm"), filepath.Join(tmp, "out.wasm")
	if err := os.WriteFile(in, wasm, 0o600); err != nil {
		return nil, fmt.Errorf("guestbuild: %w", err)
	}
	args := append(append([]string(nil), OptimizeFlags...), in, "-o", out)
	cmd := exec.CommandContext(ctx, tool, args...)
	var captured bytes.Buffer
	cmd.Stdout, cmd.Stderr = &captured, &captured
	if err := cmd.Run(); err != nil {
		err = fmt.Errorf("guestbuild: %s %s: %w", tool, strings.Join(OptimizeFlags, " "), err)
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("%w (%v)", ErrNoWasmOpt, err)
		}
		if msg := strings.TrimSpace(captured.String()); msg != "" {
			err = fmt.Errorf("%w\n%s", err, msg)
		}
		return nil, err
	}
	opt, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("guestbuild: %w", err)
	}
	return opt, nil
}
