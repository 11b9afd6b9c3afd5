package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

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
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared, then load the module
locally (no node needed) to list the factories it exports.

-o names the output file, as in go build (default PKG_DIR's base name plus
.wasm, in the current directory); --json prints the report as JSON. Compiler
errors are the go command's own output, followed by one wasmactor line.`,
		Example: `  wasmactor build ./examples/counter -o counter.wasm
  wasmactor build                 # the package in the current directory
  wasmactor build ./myactor --json`,
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
				return fail(exitRejected, err, "build: %s compiled, but is not a wasmactor module: %v", outFile, oneLineBare(err))
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
	cmd.Flags().StringVarP(&outFile, "out", "o", "", "output file (default PKG_DIR's base name + .wasm)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
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

// inspectTimeout bounds loading a module to list its factories: a Go guest
// compiles and initialises in about a second.
const inspectTimeout = 60 * time.Second

// inspectFactories lists a module's factories without a node: it
// instantiates the module under wazero with WASI and with every "wasmactor"
// import stubbed (the ABI forbids calling them outside a delivery), runs
// _initialize, checks the ABI version and calls wasmactor_factories.
func inspectFactories(ctx context.Context, wasm []byte) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	defer r.Close(context.Background())
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("invalid WebAssembly: %w", err)
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		return nil, err
	}
	stubs := r.NewHostModuleBuilder("wasmactor")
	for _, def := range compiled.ImportedFunctions() {
		mod, name, _ := def.Import()
		switch mod {
		case "wasmactor":
			results := def.ResultTypes()
			stubs.NewFunctionBuilder().
				WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
					for i := range results {
						stack[i] = 0
					}
				}), def.ParamTypes(), results).
				Export(name)
		case wasi_snapshot_preview1.ModuleName:
		default:
			return nil, fmt.Errorf("imports %s.%s, which nodes do not provide", mod, name)
		}
	}
	if _, err := stubs.Instantiate(ctx); err != nil {
		return nil, err
	}
	m, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithStartFunctions().WithName("guest"))
	if err != nil {
		return nil, err
	}
	if init := m.ExportedFunction("_initialize"); init != nil {
		if _, err := init.Call(ctx); err != nil {
			return nil, fmt.Errorf("_initialize: %w", err)
		}
	}
	ver := m.ExportedFunction("wasmactor_abi_version")
	if ver == nil {
		return nil, errors.New("no wasmactor_abi_version export (does the package import guest-sdk/actor?)")
	}
	res, err := ver.Call(ctx)
	if err != nil {
		return nil, fmt.Errorf("wasmactor_abi_version: %w", err)
	}
	if len(res) != 1 || uint32(res[0]) != 1 {
		return nil, fmt.Errorf("speaks guest ABI version %d; this wasmactor speaks version 1", int32(res[0]))
	}
	fn := m.ExportedFunction("wasmactor_factories")
	if fn == nil {
		return nil, errors.New("no wasmactor_factories export")
	}
	res, err = fn.Call(ctx)
	if err != nil {
		return nil, fmt.Errorf("wasmactor_factories: %w", err)
	}
	if len(res) != 1 {
		return nil, errors.New("wasmactor_factories returned no value")
	}
	ptr, n := uint32(res[0]>>32), uint32(res[0])
	view, ok := m.Memory().Read(ptr, n)
	if !ok {
		return nil, fmt.Errorf("wasmactor_factories returned %d bytes at %#x, outside memory", n, ptr)
	}
	var names []string
	if n > 0 {
		names = strings.Split(string(view), "\n") // string() copies out of the guest's memory
	}
	info := registry.ModuleInfo{Hash: registry.HashOf(wasm), Factories: names}
	if err := info.Validate(); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, errors.New("exports no factories (register one with actor.Register in an init function)")
	}
	return names, nil
}
