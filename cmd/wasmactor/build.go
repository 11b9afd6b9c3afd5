package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/atomicfile"
	"github.com/wasmactor/wasmactor/internal/guestbuild"
	"github.com/wasmactor/wasmactor/registry"
)

type buildJSON struct {
	File      string   `json:"file"`
	Size      int64    `json:"size"`
	Hash      string   `json:"hash"`
	Factories []string `json:"factories"`
	// UnoptimizedSize is the module's size before wasm-opt (--optimize).
	UnoptimizedSize int64 `json:"unoptimized_size,omitempty"`
}

func (a *app) buildCmd() *cobra.Command {
	var (
		outFile  string
		asJSON   bool
		optimize bool
	)
	cmd := &cobra.Command{
		Use:   "build [PKG_DIR]",
		Short: "Compile a Go actor package to WebAssembly; report size and factories",
		Long: `Compile the Go package in PKG_DIR (default ".") with the standard toolchain,
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared, then check the module
with the code a node's deploy runs (no node needed): it must pass the checks
deploy makes, and its hash and the factories it exports are listed.

--out names the output file (default PKG_DIR's base name plus .wasm, in the
current directory). -o json prints the report as JSON, as on every command;
-o with any value but text or json names the output file, as in go build.
Compiler errors are the go command's own output, followed by one wasmactor
line.

--optimize runs binaryen's wasm-opt over the module before the check: a
smaller module that a node compiles sooner on a cold spawn (figures in
docs/figures-perf.md). wasm-opt is $WASMACTOR_WASM_OPT, else wasm-opt on
PATH; scripts/install-wasm-opt.sh installs it from npm. Without it,
--optimize fails before building.`,
		Example: `  wasmactor build ./examples/counter -o counter.wasm
  wasmactor build                 # the package in the current directory
  wasmactor build ./myactor --out actor.wasm -o json
  wasmactor build --optimize      # smaller, quicker to compile on a node`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("build takes at most one PKG_DIR, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return fail(exitUsage, err, "build: %v", err)
			}
			if st, err := os.Stat(abs); err != nil || !st.IsDir() {
				return fail(exitUsage, err, "build: %s is not a directory holding a Go package", dir)
			}
			if outFile == "" {
				outFile = filepath.Base(abs) + ".wasm"
			}
			outAbs, err := filepath.Abs(outFile)
			if err != nil {
				return fail(exitUsage, err, "build: %v", err)
			}
			bopts := []guestbuild.Option{guestbuild.WithStderr(a.stderr)}
			if optimize {
				// Before the go build, so a missing tool costs no wait.
				if _, err := guestbuild.WasmOpt(); err != nil {
					return fail(exitFailure, err, "build --optimize: %v", oneLineBare(err))
				}
			} else {
				bopts = append(bopts, guestbuild.WithOutput(outAbs))
			}
			wasm, err := guestbuild.Build(cmd.Context(), abs, bopts...)
			if err != nil {
				return buildFailure(abs, err)
			}
			var unoptimized int64
			if optimize {
				unoptimized = int64(len(wasm))
				if wasm, err = guestbuild.Optimize(cmd.Context(), wasm); err != nil {
					return fail(exitFailure, err, "build --optimize: %v", oneLineBare(err))
				}
				if err := atomicfile.Write(outAbs, wasm, 0o644); err != nil {
					return fail(exitFailure, err, "build: writing %s: %v", outFile, err)
				}
			}
			info, err := inspect(cmd.Context(), wasm)
			if err != nil {
				return fail(exitRejected, err, "build: %s compiled, but a node would refuse it: %v", outFile, oneLineBare(err))
			}
			rep := buildJSON{File: outFile, Size: info.Size, Hash: info.Hash.String(), Factories: info.Factories, UnoptimizedSize: unoptimized}
			if asJSON {
				return writeJSON(a.stdout, rep)
			}
			size := humanSize(rep.Size)
			if optimize {
				size += " (optimized from " + humanSize(unoptimized) + ")"
			}
			fmt.Fprintf(a.stdout, "built %s: %s, sha256 %s\nfactories: %s\n", rep.File, size, shortHash(rep.Hash), strings.Join(rep.Factories, ", "))
			return nil
		},
	}
	addBuildOutputFlags(cmd, &outFile, &asJSON)
	cmd.Flags().BoolVar(&optimize, "optimize", false, "run binaryen's wasm-opt over the module ($WASMACTOR_WASM_OPT or wasm-opt on PATH)")
	return cmd
}

// buildFailure words a failed guestbuild.Build. The go command's own
// diagnostics are already on stderr, untouched, since compiler errors are
// only useful whole; this is the one wasmactor line after them.
func buildFailure(dir string, err error) error {
	var exitErr *exec.ExitError
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return fail(exitFailure, err, "build: the go command is not on PATH; install Go 1.26 or newer")
	case errors.As(err, &exitErr):
		return fail(exitFailure, err, "build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared in %s failed: %v", dir, exitErr)
	}
	return fail(exitFailure, err, "build: %v", oneLineBare(err))
}

// inspect gives the verdict Deploy on a node with the default config would
// give, through the same function (host.InspectModule). Guest output while
// the module initialises is not the build's business.
func inspect(ctx context.Context, wasm []byte) (registry.ModuleInfo, error) {
	// A build waits for its check however busy the machine is: the
	// compile deadline of a node (a minute) is for modules sent to it.
	info, err := host.InspectModule(ctx, host.Config{Logger: slog.New(slog.DiscardHandler), CompileTimeout: 10 * time.Minute}, wasm)
	if err != nil && strings.Contains(err.Error(), "wasmactor_abi_version") {
		return info, fmt.Errorf("%w (does the package import guest-sdk/actor and register a factory?)", err)
	}
	return info, err
}
