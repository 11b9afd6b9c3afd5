package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmactor/wasmactor"
)

// Config configures an [Engine]. The zero value of every field means its
// default; New works on a private copy.
type Config struct {
	// MemoryLimitPages caps each instance's linear memory, in 64 KiB pages.
	// Default 1024 (64 MiB); at most 65535.
	MemoryLimitPages uint32
	// MaxModuleSize caps the bytes Compile accepts. Default 64 MiB.
	MaxModuleSize int
	// MaxMessageSize caps a payload a guest passes to an import; over it the
	// import returns TOO_LARGE. Default 1 MiB.
	MaxMessageSize int
	// CompileTimeout bounds Compile. Default 60s.
	CompileTimeout time.Duration
	// CallTimeout is the deadline of every call into a guest (one Deliver
	// turn, Snapshot, instance initialisation). Default 5s.
	CallTimeout time.Duration
	// CacheDir holds wazero's on-disk compilation cache. "" uses the
	// directory named by $WASMACTOR_COMPILE_CACHE if set, else an in-memory
	// cache shared by every engine of the process.
	CacheDir string
	// Logger receives guest stdout and stderr and the log import. Default
	// slog.Default().
	Logger *slog.Logger
	// Interpreter runs guests on wazero's interpreter instead of its
	// optimizing compiler: a module is ready sooner, and runs slower. The
	// compilation cache does not apply (the interpreter's code lives in
	// memory only).
	Interpreter bool
}

// Defaults, as documented on [Config].
const (
	DefaultMemoryLimitPages = 1024
	DefaultMaxModuleSize    = 64 << 20
	DefaultMaxMessageSize   = 1 << 20
	DefaultCompileTimeout   = 60 * time.Second
	DefaultCallTimeout      = 5 * time.Second
)

func (c Config) withDefaults() (Config, error) {
	if c.MemoryLimitPages == 0 {
		c.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if c.MemoryLimitPages > 65535 {
		return c, fmt.Errorf("engine: MemoryLimitPages %d is over 65535", c.MemoryLimitPages)
	}
	if c.MaxModuleSize <= 0 {
		c.MaxModuleSize = DefaultMaxModuleSize
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.CompileTimeout <= 0 {
		c.CompileTimeout = DefaultCompileTimeout
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// Engine compiles and runs guest modules under one wazero runtime: one
// memory limit, one compilation cache, one instance of the wasmactor and WASI
// host modules shared by every guest.
//
// An Engine is safe for concurrent use.
type Engine struct {
	cfg     Config
	rt      wazero.Runtime
	cache   wazero.CompilationCache
	modCfg  wazero.ModuleConfig
	nextID  atomic.Uint64
	closing atomic.Bool
	// compiling tracks compilations still running (some abandoned at their
	// deadline): the runtime must outlive them, or wazero writes into a
	// closed engine.
	compiling sync.WaitGroup
	ownCache  bool // the cache is this engine's to close (not the shared one)

	mu        sync.Mutex
	instances map[*Instance]struct{} // live ones, for Close
}

// New starts an engine.
//
// # Errors
//
// An invalid Config, or a CacheDir that cannot be created.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cache, own := sharedCache(), false
	if cfg.CacheDir == "" {
		cfg.CacheDir = os.Getenv("WASMACTOR_COMPILE_CACHE")
	}
	if cfg.CacheDir != "" {
		if cache, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir); err != nil {
			return nil, fmt.Errorf("engine: compilation cache: %w", err)
		}
		own = true
	}
	rtCfg := wazero.NewRuntimeConfigCompiler()
	if cfg.Interpreter {
		rtCfg = wazero.NewRuntimeConfigInterpreter()
	}
	rtCfg = rtCfg.WithCloseOnContextDone(true).
		// The limitAllocator enforces MemoryLimitPages, so that the engine sees
		// a refused memory.grow and can call the failure "oom". For that every
		// grow must reach it: the runtime's own limit is the wasm32 maximum.
		WithMemoryLimitPages(65536).
		WithCompilationCache(cache)
	rt := wazero.NewRuntimeWithConfig(ctx, rtCfg)
	e := &Engine{cfg: cfg, rt: rt, cache: cache, ownCache: own, instances: make(map[*Instance]struct{})}
	if err := e.instantiateHostModules(ctx); err != nil {
		_ = rt.Close(ctx)
		if own {
			_ = cache.Close(ctx)
		}
		return nil, err
	}
	// No filesystem, network, environment or arguments: the zero module
	// config has none. Clocks and random are real; sleep is not (a guest
	// must not block its instance), so a sleeping guest spins to its
	// deadline.
	e.modCfg = wazero.NewModuleConfig().
		WithName(""). // anonymous, so many instances can coexist
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader)
	return e, nil
}

func (e *Engine) instantiateHostModules(ctx context.Context) error {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, e.rt); err != nil {
		return fmt.Errorf("engine: wasi: %w", err)
	}
	b := e.rt.NewHostModuleBuilder(hostModule)
	for _, imp := range imports {
		b.NewFunctionBuilder().
			WithGoModuleFunction(wrapImport(imp), imp.params, imp.results).
			WithName(imp.name).
			Export(imp.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("engine: host module: %w", err)
	}
	return nil
}

// Instances is how many instances of the engine are open.
func (e *Engine) Instances() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.instances)
}

// Config returns the engine's configuration with defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Close stops every running guest (its instance fails with reason
// "shutdown"), closes every instance and module and releases the runtime.
// It is safe to call more than once and finishes even if ctx is cancelled.
func (e *Engine) Close(ctx context.Context) error {
	if !e.closing.CompareAndSwap(false, true) {
		return nil
	}
	e.mu.Lock()
	live := make([]*Instance, 0, len(e.instances))
	for i := range e.instances {
		live = append(live, i)
	}
	e.mu.Unlock()
	for _, i := range live {
		i.interrupt(causeShutdown)
	}
	for _, i := range live {
		_ = i.Close(ctx)
	}
	ctx = context.WithoutCancel(ctx)
	// Compile adds to compiling under e.mu after checking closing; Close
	// took e.mu above after setting closing, so no Add can follow this Wait.
	e.compiling.Wait()
	err := e.rt.Close(ctx)
	if e.ownCache {
		err = errors.Join(err, e.cache.Close(ctx))
	}
	return err
}

// sharedCache is the in-memory compilation cache of every engine in the
// process that has no CacheDir: several nodes in one process (tests, the
// demo, embedders) then compile each module once, not once per node.
// wazero keys it by module and runtime configuration, so sharing is safe.
var sharedCache = sync.OnceValue(wazero.NewCompilationCache)

func (e *Engine) errClosed() error {
	return fmt.Errorf("engine: %w", wasmactor.ErrClosed)
}

// hostModule is the import module name of the ABI.
const hostModule = "wasmactor"

// importDef is one import of docs/abi.md.
type importDef struct {
	name            string
	params, results []api.ValueType
	fn              func(i *Instance, m api.Module, stack []uint64)
}

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)
