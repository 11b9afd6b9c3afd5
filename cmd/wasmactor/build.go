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
	"github.com/wasmactor/wasmactor/internal/guestbuild"
	"github.com/wasmactor/wasmactor/registry"
)

type buildJSON struct {
	File      string   `json:"file"`
	Size      int64    `json:"size"`
	Hash      string   `json:"hash"`
	Factories []string `json:"factories"`
}

func (a *app) buildCmd() *cobra.Command {
	var (
		outFile string
		asJSON  bool
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
line.`,
		Example: `  wasmactor build ./examples/counter -o counter.wasm
  wasmactor build                 # the package in the current directory
  wasmactor build ./myactor --out actor.wasm -o json`,
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
			wasm, err := guestbuild.Build(cmd.Context(), abs, guestbuild.WithOutput(outAbs), guestbuild.WithStderr(a.stderr))
			if err != nil {
				return buildFailure(abs, err)
			}
			info, err := inspect(cmd.Context(), wasm)
			if err != nil {
				return fail(exitRejected, err, "build: %s compiled, but a node would refuse it: %v", outFile, oneLineBare(err))
			}
			rep := buildJSON{File: outFile, Size: info.Size, Hash: info.Hash.String(), Factories: info.Factories}
			if asJSON {
				return writeJSON(a.stdout, rep)
			}
			fmt.Fprintf(a.stdout, "built %s: %s, sha256 %s\nfactories: %s\n", rep.File, humanSize(rep.Size), shortHash(rep.Hash), strings.Join(rep.Factories, ", "))
			return nil
		},
	}
	addBuildOutputFlags(cmd, &outFile, &asJSON)
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
