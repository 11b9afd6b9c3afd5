package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/engine"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
)

// Deploy validates and compiles a module, stores it content-addressed, and
// indexes its factories. A factory name deployed again by a newer module
// becomes the default for new spawns; running actors keep their version.
// Deploying the same bytes twice is a no-op that returns the same info,
// except that a stored copy that no longer matches its hash is replaced.
//
// # Errors
//
// [wasmactor.ErrTooLarge] over Config.MaxModuleSize; [wasmactor.ErrBadModule]
// for bytes that are not WASM, do not speak the ABI, or fail to compile.
func (n *Node) Deploy(ctx context.Context, wasm []byte) (ModuleInfo, error) {
	if n.tracer == nil {
		return n.deploy(ctx, wasm)
	}
	ctx, span := n.startSpan(ctx, spanDeploy, trace.SpanKindInternal)
	info, err := n.deploy(ctx, wasm)
	if err == nil {
		span.SetAttributes(attrModule.String(info.Hash.Short()))
	}
	endSpan(span, err)
	return info, err
}

func (n *Node) deploy(ctx context.Context, wasm []byte) (ModuleInfo, error) {
	if err := n.checkOpen(); err != nil {
		return registry.ModuleInfo{}, err
	}
	if err := checkSize(n.cfg, wasm); err != nil {
		return registry.ModuleInfo{}, err
	}
	h := registry.HashOf(wasm)
	// Only a module this node checked counts as deployed here: a peer's
	// announcement of the same hash is no reason to skip storing it, and its
	// factory list is replaced by the one derived below.
	if info, ok := n.factories.Lookup(h); ok && n.factories.Checked(h) {
		// The store checks the copy it has and replaces one that rotted.
		if err := n.store.Put(info, wasm); err != nil {
			return registry.ModuleInfo{}, err
		}
		return info, nil
	}
	start := time.Now()
	compiled, info, err := compileModule(ctx, n.eng, wasm)
	observeSince(n.metrics.compile, start)
	if err != nil {
		return registry.ModuleInfo{}, err
	}
	info.DeployedAt = n.deployStamp()
	n.unburyOnDeploy(h)
	if err := n.store.Put(info, wasm); err != nil {
		_ = compiled.Close(ctx)
		return registry.ModuleInfo{}, err
	}
	n.modMu.Lock()
	if _, ok := n.modules[h]; !ok {
		n.modules[h] = newModule(info, compiled)
	} else {
		_ = compiled.Close(ctx)
	}
	n.modMu.Unlock()
	n.factories.Add(info)
	n.metrics.deploys.Inc()
	n.log.Info("module deployed", "hash", h.Short(), "size", len(wasm), "factories", info.Factories)
	n.broadcast(proto.KindModule, proto.Module{Info: info})
	return info, nil
}

// InspectModule gives the verdict [Node.Deploy] of a node started with cfg
// would give wasm, without a node: it runs the same checks with the same
// engine settings, and returns the info Deploy would store (DeployedAt left
// zero). `wasmactor build` checks what it builds with it. Guest output while
// the module initialises goes to cfg.Logger.
//
// # Errors
//
// Those of Deploy, and those of [Start] for an invalid cfg.
func InspectModule(ctx context.Context, cfg Config, wasm []byte) (ModuleInfo, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return ModuleInfo{}, err
	}
	if err := checkSize(cfg, wasm); err != nil {
		return ModuleInfo{}, err
	}
	eng, err := engine.New(ctx, engineConfig(cfg, cfg.Logger))
	if err != nil {
		return ModuleInfo{}, err
	}
	defer eng.Close(context.WithoutCancel(ctx))
	compiled, info, err := compileModule(ctx, eng, wasm)
	if err != nil {
		return ModuleInfo{}, err
	}
	_ = compiled.Close(ctx)
	return info, nil
}

// engineConfig is the engine a node with cfg runs.
func engineConfig(cfg Config, log *slog.Logger) engine.Config {
	ecfg := engine.Config{
		MemoryLimitPages: cfg.MemoryLimitPages,
		MaxModuleSize:    cfg.MaxModuleSize,
		MaxMessageSize:   cfg.MaxMessageSize,
		CompileTimeout:   cfg.CompileTimeout,
		CallTimeout:      cfg.GuestTimeout,
		Logger:           log,
	}
	// $WASMACTOR_COMPILE_CACHE, when set, shares compiled code between the
	// nodes of one machine instead (the engine reads it).
	if cfg.DataDir != "" && os.Getenv("WASMACTOR_COMPILE_CACHE") == "" {
		ecfg.CacheDir = filepath.Join(cfg.DataDir, "compiled")
	}
	return ecfg
}

// checkSize refuses a module over the cap before it is hashed or compiled.
func checkSize(cfg Config, wasm []byte) error {
	if len(wasm) > cfg.MaxModuleSize {
		return fmt.Errorf("%w: module is %d bytes, the cap is %d", wasmactor.ErrTooLarge, len(wasm), cfg.MaxModuleSize)
	}
	return nil
}

// compileModule is the check Deploy makes of a module: the engine validates
// and compiles it, checks that it speaks the ABI and instantiates it once to
// list its factories. It returns the compiled module and its info without
// DeployedAt.
func compileModule(ctx context.Context, eng *engine.Engine, wasm []byte) (*engine.Module, ModuleInfo, error) {
	compiled, err := eng.Compile(ctx, wasm)
	if err != nil {
		return nil, ModuleInfo{}, err
	}
	info := ModuleInfo{Hash: registry.Hash(compiled.Hash()), Size: int64(compiled.Size()), Factories: compiled.Factories()}
	return compiled, info, nil
}

// Modules lists the deployed modules, newest first.
func (n *Node) Modules() []ModuleInfo { return n.factories.Modules() }

// module returns the compiled module for info, pulling it from a peer (hint,
// if not "", first) and compiling it on first use (wazero's compilation
// cache makes that cheap after a restart). The pull and the compile hold
// only m.load, never m.mu, so listing and placing actors never wait for the
// network or the compiler; callers waiting for m.load give up with ctx.
//
// A pulled module's factory list is derived from its bytes after the hash
// check, stored with it and indexed in place of what peers announced.
func (n *Node) module(ctx context.Context, info registry.ModuleInfo, hint string) (*module, error) {
	if n.buried(info) {
		return nil, fmt.Errorf("%w: module %s was undeployed", wasmactor.ErrModuleUnavailable, info.Hash.Short())
	}
	n.modMu.Lock()
	m, ok := n.modules[info.Hash]
	if !ok {
		m = newModule(info, nil)
		n.modules[info.Hash] = m
	}
	n.modMu.Unlock()
	if m.ready() {
		return m, nil
	}
	if err := m.load.lock(ctx); err != nil {
		return nil, fmt.Errorf("%w: waiting for module %s to load: %w", wasmactor.ErrTimeout, info.Hash.Short(), err)
	}
	handed := false // the gate went to the background compile (coldstart.go)
	defer func() {
		if !handed {
			m.load.unlock()
		}
	}()
	if m.ready() {
		return m, nil
	}
	var compiled *engine.Module
	if _, ok := n.store.Info(info.Hash); ok {
		wasm, err := n.store.Get(info.Hash)
		if err != nil {
			return nil, err
		}
		if compiled, err = n.compile(ctx, wasm); err != nil {
			return nil, err
		}
	} else {
		wasm, err := n.pull(ctx, info, hint)
		if err != nil {
			return nil, err
		}
		// A module never seen here is not in the compile cache: the
		// interpreter, if the node runs one, gets it going sooner.
		if handed, err = n.loadPulled(ctx, m, wasm); err != nil {
			return nil, err
		}
		if !handed {
			if compiled, err = n.compile(ctx, wasm); err != nil {
				return nil, err
			}
		}
		built := compiled
		if handed {
			built = m.build()
		}
		factories := built.Factories()
		derived := ModuleInfo{Hash: info.Hash, Size: int64(len(wasm)), Factories: factories, DeployedAt: info.DeployedAt}
		if err := n.store.Put(derived, wasm); err != nil {
			if !handed {
				_ = compiled.Close(ctx)
			}
			// An interpreted build stays: the module runs, it is just not
			// stored, and the background compile proceeds.
			return nil, err
		}
		n.factories.Add(derived)
		if announced, ok := n.factories.Lookup(info.Hash); ok {
			derived.DeployedAt = announced.DeployedAt
		}
		n.broadcast(proto.KindModule, proto.Module{Info: derived})
	}
	if !handed {
		m.mu.Lock()
		m.compiled = compiled
		m.mu.Unlock()
	}
	return m, nil
}

// loadFactory loads the module a factory reference resolved to (factory in
// info). When the index had only announced the module's factory list, loading
// it derives the real one; if the factory is not in it, the reference is
// resolved again against the corrected index, a few times at most.
func (n *Node) loadFactory(ctx context.Context, ref, factory string, info registry.ModuleInfo, hint string) (string, *module, error) {
	for tries := 0; ; tries++ {
		checked := n.factories.Checked(info.Hash)
		m, err := n.module(ctx, info, hint)
		if err != nil {
			return "", nil, err
		}
		if checked || m.exports(factory) {
			return factory, m, nil
		}
		n.log.Warn("module announced with a factory it does not export", "module", info.Hash.Short(), "factory", factory)
		if tries == 3 {
			return "", nil, fmt.Errorf("%w: %q: the modules announced as exporting it do not", wasmactor.ErrUnknownFactory, ref)
		}
		if factory, info, err = n.factories.ResolveShared(ref); err != nil {
			return "", nil, err
		}
	}
}

type pullCall struct {
	done chan struct{}
	wasm []byte
	err  error
}

// learnModule records a peer's announcement that it holds a module. The
// announced factory list is a hint (registry.Factories.Announce): it never
// changes a list derived here, and a pull replaces it. Each peer is recorded
// as holding at most maxModulesPerPeer modules.
func (n *Node) learnModule(holder string, info registry.ModuleInfo) {
	if err := info.Validate(); err != nil {
		n.log.Warn("bad module announcement ignored", "peer", holder, "err", err)
		return
	}
	if n.buried(info) {
		n.log.Debug("announcement of an undeployed module ignored", "peer", holder, "module", info.Hash.Short())
		return
	}
	n.cl.mu.Lock()
	defer n.cl.mu.Unlock()
	hs := n.cl.holders[info.Hash]
	if !hs[holder] {
		if n.cl.held[holder] >= maxModulesPerPeer {
			n.log.Warn("module announcement over the limit ignored", "peer", holder, "module", info.Hash.Short(), "limit", maxModulesPerPeer)
			return
		}
		if hs == nil {
			hs = make(map[string]bool)
			n.cl.holders[info.Hash] = hs
		}
		hs[holder] = true
		n.cl.held[holder]++
	}
	// Under cl.mu, so that forgetHolder cannot drop the module in between.
	n.factories.Announce(info)
}

// forgetHolder drops what a peer that went down announced: it no longer
// holds anything, and a module only it announced, which this node never
// stored, leaves the factory index.
func (n *Node) forgetHolder(peer string) {
	n.cl.mu.Lock()
	defer n.cl.mu.Unlock()
	if n.cl.held[peer] == 0 {
		return
	}
	delete(n.cl.held, peer)
	for h, hs := range n.cl.holders {
		if !hs[peer] {
			continue
		}
		delete(hs, peer)
		if len(hs) > 0 {
			continue
		}
		delete(n.cl.holders, h)
		if _, stored := n.store.Info(h); !stored {
			n.factories.Forget(h)
		}
	}
}

// pull fetches a module this node lacks from a node that holds it (hint,
// if not "", first) and checks its hash. Concurrent pulls of one module
// share one transfer.
func (n *Node) pull(ctx context.Context, info registry.ModuleInfo, hint string) ([]byte, error) {
	n.cl.pullMu.Lock()
	if p, ok := n.cl.pulling[info.Hash]; ok {
		n.cl.pullMu.Unlock()
		select {
		case <-p.done:
			return p.wasm, p.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p := &pullCall{done: make(chan struct{})}
	n.cl.pulling[info.Hash] = p
	n.cl.pullMu.Unlock()

	p.wasm, p.err = n.fetch(ctx, info, hint)
	n.cl.pullMu.Lock()
	delete(n.cl.pulling, info.Hash)
	n.cl.pullMu.Unlock()
	close(p.done)
	return p.wasm, p.err
}

func (n *Node) fetch(ctx context.Context, info registry.ModuleInfo, hint string) ([]byte, error) {
	if n.tracer == nil {
		return n.fetchFrom(ctx, info, hint)
	}
	ctx, span := n.startSpan(ctx, spanPull, trace.SpanKindClient, attrModule.String(info.Hash.Short()))
	b, err := n.fetchFrom(ctx, info, hint)
	endSpan(span, err)
	return b, err
}

// fetchFrom transfers a module from the first holder that has it, in
// chunks (transfer.go).
func (n *Node) fetchFrom(ctx context.Context, info registry.ModuleInfo, hint string) ([]byte, error) {
	if n.cl.tr == nil {
		return nil, fmt.Errorf("%w: module %s is not stored here", wasmactor.ErrModuleUnavailable, info.Hash.Short())
	}
	if info.Size > int64(n.cfg.MaxModuleSize) {
		return nil, fmt.Errorf("%w: module %s is %d bytes, the cap is %d", wasmactor.ErrTooLarge, info.Hash.Short(), info.Size, n.cfg.MaxModuleSize)
	}
	n.cl.mu.RLock()
	var holders []string
	for h := range n.cl.holders[info.Hash] {
		if h != hint {
			holders = append(holders, h)
		}
	}
	_, hintUp := n.cl.peers[hint]
	n.cl.mu.RUnlock()
	sort.Strings(holders)
	if hintUp {
		holders = append([]string{hint}, holders...)
	}
	if len(holders) == 0 {
		return nil, fmt.Errorf("%w: no connected node holds module %s", wasmactor.ErrModuleUnavailable, info.Hash.Short())
	}
	var last error
	for _, h := range holders {
		b, err := n.pullChunks(ctx, h, info)
		if err != nil {
			last = fmt.Errorf("fetching module %s from %s: %w", info.Hash.Short(), h, err)
			if errors.Is(err, wasmactor.ErrBadModule) {
				n.log.Warn("module transfer failed its checks", "peer", h, "module", info.Hash.Short(), "err", err)
			}
			continue
		}
		n.cl.pulls.Add(1)
		n.log.Info("module pulled", "module", info.Hash.Short(), "from", h, "size", len(b))
		return b, nil
	}
	return nil, last
}

// holderOf names a node that holds the module: this one if it does, else a
// connected holder, else "".
func (n *Node) holderOf(h registry.Hash) string {
	if _, ok := n.store.Info(h); ok {
		return n.cfg.Name
	}
	n.cl.mu.RLock()
	defer n.cl.mu.RUnlock()
	for name := range n.cl.holders[h] {
		return name
	}
	return ""
}

// Pulls is how many modules this node has fetched from peers since it started.
func (n *Node) Pulls() uint64 { return n.cl.pulls.Load() }

// compile compiles a module, timing it for the metrics.
func (n *Node) compile(ctx context.Context, wasm []byte) (*engine.Module, error) {
	defer observeSince(n.metrics.compile, time.Now())
	return n.eng.Compile(ctx, wasm)
}

// holdersOf lists, sorted, the nodes known to hold module h: this one if it
// stores it, and the connected peers that announced it.
func (n *Node) holdersOf(h registry.Hash) []string {
	var out []string
	if _, ok := n.store.Info(h); ok {
		out = append(out, n.cfg.Name)
	}
	n.cl.mu.RLock()
	for name := range n.cl.holders[h] {
		out = append(out, name)
	}
	n.cl.mu.RUnlock()
	sort.Strings(out)
	return out
}

// deployStamp is the DeployedAt of a deploy here: the time, but always
// after the previous deploy's, so that of two deploys on one node the later
// is the newer even within one tick of the clock (the newest version is
// the one a factory name picks).
func (n *Node) deployStamp() int64 {
	for {
		last := n.lastDeploy.Load()
		t := max(time.Now().UnixNano(), last+1)
		if n.lastDeploy.CompareAndSwap(last, t) {
			return t
		}
	}
}
