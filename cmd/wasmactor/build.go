package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmactor/wasmactor/internal/engine"
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
with the node's own engine (no node needed): it must pass the checks deploy
makes, and the factories it exports are listed.

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
			if err := a.goBuild(cmd.Context(), abs, outAbs); err != nil {
				return err
			}
			wasm, err := os.ReadFile(outAbs)
			if err != nil {
				return fail(exitFailure, err, "build: %v", err)
			}
			factories, err := inspectFactories(cmd.Context(), wasm)
			if err != nil {
				return fail(exitRejected, err, "build: %s compiled, but a node would refuse it: %v", outFile, oneLineBare(err))
			}
			sum := sha256.Sum256(wasm)
			rep := buildJSON{File: outFile, Size: int64(len(wasm)), Hash: hex.EncodeToString(sum[:]), Factories: factories}
			if asJSON {
				return writeJSON(a.stdout, rep)
			}
			fmt.Fprintf(a.stdout, "built %s: %s, sha256 %s\nfactories: %s\n", rep.File, humanSize(rep.Size), shortHash(rep.Hash), strings.Join(factories, ", "))
			return nil
		},
	}
	addBuildOutputFlags(cmd, &outFile, &asJSON)
	return cmd
}

// goBuild runs the go command; its diagnostics go to our stderr untouched,
// since compiler errors are only useful whole.
func (a *app) goBuild(ctx context.Context, dir, out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fail(exitFailure, err, "build: the go command is not on PATH; install Go 1.26 or newer")
	}
	c := exec.CommandContext(ctx, goTool, "build", "-buildmode=c-shared", "-o", out, ".")
	c.Dir = dir
	c.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	c.Stdout = a.stderr
	c.Stderr = a.stderr
	if err := c.Run(); err != nil {
		return fail(exitFailure, err, "build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared in %s failed: %v", dir, err)
	}
	return nil
}

// inspectFactories lists a module's factories without a node, with the
// node's own engine: it validates and compiles the module, checks the ABI
// (version, exports, imports a node provides) and instantiates it once to
// read the list, so build gives the verdict deploy would.
func inspectFactories(ctx context.Context, wasm []byte) ([]string, error) {
	eng, err := engine.New(ctx, engine.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	defer eng.Close(context.Background())
	m, err := eng.Compile(ctx, wasm)
	if err != nil {
		if strings.Contains(err.Error(), "wasmactor_abi_version") {
			return nil, fmt.Errorf("%w (does the package import guest-sdk/actor and register a factory?)", err)
		}
		return nil, err
	}
	defer m.Close(context.Background())
	return m.Factories(), nil
}
