package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
)

// The exports of docs/abi.md.
const (
	exportInitialize = "_initialize"
	exportVersion    = "wasmactor_abi_version"
	exportFactories  = "wasmactor_factories"
	exportInbox      = "wasmactor_inbox"
	exportDeliver    = "wasmactor_deliver"
	exportSnapshot   = "wasmactor_snapshot"
	// exportSnapshotters lists the factories whose actors snapshot. Optional
	// (guests of earlier SDKs lack it: none of their factories is known to).
	exportSnapshotters = "wasmactor_snapshotters"
)

type signature struct {
	params, results []api.ValueType
	required        bool
}

var exports = []struct {
	name string
	signature
}{
	{exportInitialize, signature{nil, nil, false}},
	{exportVersion, signature{nil, []api.ValueType{i32}, true}},
	{exportFactories, signature{nil, []api.ValueType{i64}, true}},
	{exportInbox, signature{[]api.ValueType{i32}, []api.ValueType{i32}, true}},
	{exportDeliver, signature{[]api.ValueType{i32}, []api.ValueType{i32}, true}},
	{exportSnapshot, signature{[]api.ValueType{i64}, []api.ValueType{i64}, false}},
	{exportSnapshotters, signature{nil, []api.ValueType{i64}, false}},
}

// Module is a compiled guest module that passed the ABI checks. Instantiate
// it any number of times.
type Module struct {
	e         *Engine
	compiled  wazero.CompiledModule
	hash      [32]byte
	prefix    string // hex of the first 6 bytes of hash, for logs
	size      int
	factories []string
	snaps     []string // factories whose actors snapshot (wasmactor_snapshotters)
	hasInit   bool
	hasSnap   bool
	hasSnaps  bool
	interp    bool
	closed    atomic.Bool
}

// Hash is the SHA-256 of the module's bytes.
func (m *Module) Hash() [32]byte { return m.hash }

// Factories are the factory names the module exports, in its order.
func (m *Module) Factories() []string { return slices.Clone(m.factories) }

// Snapshotters are the factories whose actors the module says it can
// snapshot (the optional wasmactor_snapshotters export; none without it or
// without wasmactor_snapshot).
func (m *Module) Snapshotters() []string { return slices.Clone(m.snaps) }

// Interpreted reports whether the module runs on wazero's interpreter
// (Config.Interpreter).
func (m *Module) Interpreted() bool { return m.interp }

// Size is the module's size in bytes.
func (m *Module) Size() int { return m.size }

// Close releases the compiled code. Close the module's instances first.
// It is safe to call more than once.
func (m *Module) Close(ctx context.Context) error {
	if !m.closed.CompareAndSwap(false, true) {
		return nil
	}
	return m.compiled.Close(context.WithoutCancel(ctx))
}

var wasmMagic = []byte("\x00asm")

// Compile validates and compiles a module, checks that it speaks the ABI
// (version, exports and their signatures, imports this node provides) and
// reads its factory list by instantiating it once.
//
// # Errors
//
// Errors wrap wasmactor.ErrTooLarge (over MaxModuleSize, or a minimum memory
// over MemoryLimitPages) or wasmactor.ErrBadModule (everything else: not
// WebAssembly, invalid, unsupported ABI version, a missing or mistyped
// export, an import the node does not provide, a bad factory list, a trap
// while initialising, compilation past CompileTimeout), and
// wasmactor.ErrClosed once the engine is closed.
func (e *Engine) Compile(ctx context.Context, wasm []byte) (*Module, error) {
	if e.closing.Load() {
		return nil, e.errClosed()
	}
	if len(wasm) > e.cfg.MaxModuleSize {
		return nil, fmt.Errorf("%w: module of %d bytes is over the %d-byte cap", wasmactor.ErrTooLarge, len(wasm), e.cfg.MaxModuleSize)
	}
	if !bytes.HasPrefix(wasm, wasmMagic) {
		return nil, fmt.Errorf("%w: not a WebAssembly module", wasmactor.ErrBadModule)
	}
	compiled, err := e.compile(ctx, wasm)
	if err != nil {
		return nil, err
	}
	m := &Module{e: e, compiled: compiled, hash: sha256.Sum256(wasm), size: len(wasm), interp: e.cfg.Interpreter}
	m.prefix = hex.EncodeToString(m.hash[:6])
	if err := m.check(); err != nil {
		_ = compiled.Close(ctx)
		return nil, err
	}
	if err := m.probe(ctx); err != nil {
		_ = compiled.Close(ctx)
		return nil, err
	}
	return m, nil
}

// compile runs wazero's compiler, one worker per core (GOMAXPROCS), under
// CompileTimeout. wazero does not stop
// compiling when its context is done, so past the deadline the compilation
// is abandoned to finish (and be released) in the background.
func (e *Engine) compile(ctx context.Context, wasm []byte) (wazero.CompiledModule, error) {
	type result struct {
		cm  wazero.CompiledModule
		err error
	}
	done := make(chan result) // unbuffered: a result nobody takes is released below
	abandoned := make(chan struct{})
	// Add under e.mu, checked against closing, so it never races Close's Wait.
	e.mu.Lock()
	if e.closing.Load() {
		e.mu.Unlock()
		return nil, e.errClosed()
	}
	e.compiling.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.compiling.Done()
		// Functions are compiled on one goroutine per core: the same
		// compiler and output, in a fraction of the time on a multi-core
		// node (a cold spawn is compile-bound).
		cctx := experimental.WithCompilationWorkers(context.WithoutCancel(ctx), runtime.GOMAXPROCS(0))
		cm, err := e.rt.CompileModule(cctx, wasm)
		select {
		case done <- result{cm, err}:
		case <-abandoned:
			if err == nil {
				_ = cm.Close(context.Background())
			}
		}
	}()
	timer := time.NewTimer(e.cfg.CompileTimeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			if strings.Contains(r.err.Error(), "pages") && strings.Contains(r.err.Error(), "over limit") {
				return nil, fmt.Errorf("%w: %v", wasmactor.ErrTooLarge, r.err)
			}
			return nil, fmt.Errorf("%w: %v", wasmactor.ErrBadModule, r.err)
		}
		return r.cm, nil
	case <-timer.C:
		close(abandoned)
		return nil, fmt.Errorf("%w: compilation took longer than %v", wasmactor.ErrBadModule, e.cfg.CompileTimeout)
	case <-ctx.Done():
		close(abandoned)
		return nil, fmt.Errorf("engine: compile: %w", context.Cause(ctx))
	}
}

// check validates imports, exports and memory against the ABI without
// running anything.
func (m *Module) check() error {
	for _, def := range m.compiled.ImportedFunctions() {
		mod, name, _ := def.Import()
		switch mod {
		case hostModule:
			i := slices.IndexFunc(imports, func(d importDef) bool { return d.name == name })
			if i < 0 {
				return fmt.Errorf("%w: imports %s.%s which this node does not provide", wasmactor.ErrBadModule, mod, name)
			}
			if !slices.Equal(def.ParamTypes(), imports[i].params) || !slices.Equal(def.ResultTypes(), imports[i].results) {
				return fmt.Errorf("%w: imports %s.%s with signature %s, want %s", wasmactor.ErrBadModule, mod, name,
					sigString(def.ParamTypes(), def.ResultTypes()), sigString(imports[i].params, imports[i].results))
			}
		case "wasi_snapshot_preview1":
			// wazero checks names and signatures against its WASI at instantiation.
		default:
			return fmt.Errorf("%w: imports %s.%s which this node does not provide", wasmactor.ErrBadModule, mod, name)
		}
	}
	if mems := m.compiled.ImportedMemories(); len(mems) > 0 {
		mod, name, _ := mems[0].Import()
		return fmt.Errorf("%w: imports memory %s.%s which this node does not provide", wasmactor.ErrBadModule, mod, name)
	}
	for _, mem := range m.compiled.ExportedMemories() {
		if mem.Min() > m.e.cfg.MemoryLimitPages {
			return fmt.Errorf("%w: module needs %d pages of memory, the limit is %d", wasmactor.ErrTooLarge, mem.Min(), m.e.cfg.MemoryLimitPages)
		}
	}
	defs := m.compiled.ExportedFunctions()
	for _, x := range exports {
		def, ok := defs[x.name]
		if !ok {
			if x.required {
				return fmt.Errorf("%w: missing export %s", wasmactor.ErrBadModule, x.name)
			}
			continue
		}
		if !slices.Equal(def.ParamTypes(), x.params) || !slices.Equal(def.ResultTypes(), x.results) {
			return fmt.Errorf("%w: export %s has signature %s, want %s", wasmactor.ErrBadModule, x.name,
				sigString(def.ParamTypes(), def.ResultTypes()), sigString(x.params, x.results))
		}
		switch x.name {
		case exportInitialize:
			m.hasInit = true
		case exportSnapshot:
			m.hasSnap = true
		case exportSnapshotters:
			m.hasSnaps = true
		}
	}
	return nil
}

// probe instantiates the module once without a Host: it runs _initialize,
// checks the ABI version and reads the factory list.
func (m *Module) probe(ctx context.Context) error {
	i, err := m.e.instantiate(ctx, m, nil)
	if err != nil {
		return err
	}
	defer i.Close(ctx)
	if err := i.begin(ctx); err != nil {
		return err
	}
	version, err := i.call(i.mod.ExportedFunction(exportVersion), 0)
	if f := i.end(err); f != nil {
		return fmt.Errorf("%w: %s: %v", wasmactor.ErrBadModule, exportVersion, f.Reason)
	}
	if int32(version) != abi.Version {
		return fmt.Errorf("%w: unsupported ABI version %d (this node implements %d)", wasmactor.ErrBadModule, int32(version), abi.Version)
	}
	if m.factories, err = i.readFactories(ctx); err != nil {
		return err
	}
	if m.hasSnap && m.hasSnaps {
		snaps, err := i.readNames(ctx, exportSnapshotters)
		if err != nil {
			return err
		}
		for _, f := range snaps {
			if !slices.Contains(m.factories, f) {
				return fmt.Errorf("%w: %s names %q, which is not a factory of the module", wasmactor.ErrBadModule, exportSnapshotters, f)
			}
		}
		m.snaps = snaps
	}
	return nil
}

func sigString(params, results []api.ValueType) string {
	var b strings.Builder
	b.WriteByte('(')
	for j, p := range params {
		if j > 0 {
			b.WriteString(", ")
		}
		b.WriteString(api.ValueTypeName(p))
	}
	b.WriteString(") -> (")
	for j, r := range results {
		if j > 0 {
			b.WriteString(", ")
		}
		b.WriteString(api.ValueTypeName(r))
	}
	b.WriteByte(')')
	return b.String()
}
