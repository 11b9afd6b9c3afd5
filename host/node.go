package host

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/engine"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/scheduler"
)

// Node is one wasmactor host: it stores modules, runs their instances and
// routes messages between actors. All methods are safe for concurrent use.
type Node struct {
	cfg         Config
	log         *slog.Logger
	incarnation uint64

	eng       *engine.Engine
	sched     *scheduler.Scheduler
	store     registry.Store
	factories *registry.Factories
	names     *registry.Names
	groups    *registry.Groups

	actors  table
	serials atomic.Uint64 // actor serials; also instance ids
	refs    atomic.Uint64 // call and monitor refs

	modMu   sync.Mutex
	modules map[registry.Hash]*module

	calls sync.Map // ref → *pendingCall: host-side Calls waiting for a reply
	asks  pendingAsks
	cl    cluster

	stats stats

	closed atomic.Bool
}

// Start creates a node and starts its workers.
//
// # Errors
//
// An invalid Config, an unusable DataDir, or a failure to set up the WASM
// runtime.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:       cfg,
		log:       cfg.Logger.With("node", cfg.Name),
		factories: registry.NewFactories(),
		names:     registry.NewNames(),
		groups:    registry.NewGroups(),
		modules:   make(map[registry.Hash]*module),
	}
	n.actors.init()
	n.cl.init()
	n.asks.m = make(map[askKey]pendingAsk)
	n.incarnation = newIncarnation()

	ecfg := engine.Config{
		MemoryLimitPages: cfg.MemoryLimitPages,
		MaxModuleSize:    cfg.MaxModuleSize,
		MaxMessageSize:   cfg.MaxMessageSize,
		CompileTimeout:   cfg.CompileTimeout,
		CallTimeout:      cfg.CallTimeout,
		Logger:           n.log,
	}
	if cfg.DataDir == "" {
		n.store = registry.NewMemStore()
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("wasmactor: data dir: %w", err)
		}
		if n.store, err = registry.NewDirStore(filepath.Join(cfg.DataDir, "modules")); err != nil {
			return nil, err
		}
		// $WASMACTOR_COMPILE_CACHE, when set, shares compiled code between
		// the nodes of one machine instead (the engine reads it).
		if os.Getenv("WASMACTOR_COMPILE_CACHE") == "" {
			ecfg.CacheDir = filepath.Join(cfg.DataDir, "compiled")
		}
	}
	if n.eng, err = engine.New(ctx, ecfg); err != nil {
		return nil, err
	}
	for _, info := range n.store.List() {
		n.factories.Add(info)
	}
	n.sched = scheduler.New(scheduler.Config{Workers: cfg.Workers})
	if err := n.startCluster(ctx); err != nil {
		_ = n.Close()
		return nil, err
	}
	n.log.Debug("node started", "incarnation", n.incarnation, "modules", len(n.store.List()))
	return n, nil
}

func newIncarnation() uint64 {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		if v := binary.LittleEndian.Uint64(b[:]); v != 0 {
			return v
		}
	}
}

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Incarnation is the random id this run of the node chose at start.
func (n *Node) Incarnation() uint64 { return n.incarnation }

// Close leaves the cluster (peers see this node go down, and their monitors
// of its actors fire with "noconnection"), stops every actor (local
// monitors get reason "shutdown"), waits for
// running turns and releases the WASM runtime. Safe to call more than once;
// it finishes even when ctx is cancelled.
func (n *Node) Close() error {
	if !n.closed.CompareAndSwap(false, true) {
		return nil
	}
	// Leave the cluster first: peers see a clean leave at once and, as in
	// Erlang, their monitors of our actors fire with "noconnection" rather
	// than racing our shutdown casts.
	if n.cl.tr != nil {
		_ = n.cl.tr.Close()
	}
	for _, a := range n.actors.all() {
		n.exit(a, wasmactor.ReasonShutdown, false, false)
	}
	n.sched.Close()
	n.asks.stopAll()
	ctx := context.Background()
	n.modMu.Lock()
	for _, m := range n.modules {
		m.closeAll(ctx)
	}
	n.modMu.Unlock()
	return n.eng.Close(ctx)
}

func (n *Node) checkOpen() error {
	if n.closed.Load() {
		return fmt.Errorf("%w: node %s", wasmactor.ErrClosed, n.cfg.Name)
	}
	return nil
}

// Deploy validates and compiles a module, stores it content-addressed, and
// indexes its factories. A factory name deployed again by a newer module
// becomes the default for new spawns; running actors keep their version.
// Deploying the same bytes twice is a no-op that returns the same info.
//
// # Errors
//
// [wasmactor.ErrTooLarge] over Config.MaxModuleSize; [wasmactor.ErrBadModule]
// for bytes that are not WASM, do not speak the ABI, or fail to compile.
func (n *Node) Deploy(ctx context.Context, wasm []byte) (registry.ModuleInfo, error) {
	if err := n.checkOpen(); err != nil {
		return registry.ModuleInfo{}, err
	}
	if len(wasm) > n.cfg.MaxModuleSize {
		return registry.ModuleInfo{}, fmt.Errorf("%w: module is %d bytes, the cap is %d", wasmactor.ErrTooLarge, len(wasm), n.cfg.MaxModuleSize)
	}
	h := registry.HashOf(wasm)
	if info, ok := n.factories.Lookup(h); ok {
		return info, nil
	}
	compiled, err := n.eng.Compile(ctx, wasm)
	if err != nil {
		return registry.ModuleInfo{}, err
	}
	info := registry.ModuleInfo{Hash: h, Size: int64(len(wasm)), Factories: compiled.Factories(), DeployedAt: time.Now().UnixNano()}
	if err := n.store.Put(info, wasm); err != nil {
		_ = compiled.Close(ctx)
		return registry.ModuleInfo{}, err
	}
	n.modMu.Lock()
	if _, ok := n.modules[h]; !ok {
		n.modules[h] = &module{info: info, compiled: compiled}
	} else {
		_ = compiled.Close(ctx)
	}
	n.modMu.Unlock()
	n.factories.Add(info)
	n.log.Info("module deployed", "hash", h.Short(), "size", len(wasm), "factories", info.Factories)
	n.broadcast(proto.KindModule, proto.Module{Info: info})
	return info, nil
}

// Modules lists the deployed modules, newest first.
func (n *Node) Modules() []registry.ModuleInfo { return n.factories.Modules() }

// module returns the compiled module for info, compiling it from the store
// on first use (wazero's compilation cache makes that cheap after a restart).
func (n *Node) module(ctx context.Context, info registry.ModuleInfo) (*module, error) {
	n.modMu.Lock()
	m, ok := n.modules[info.Hash]
	if !ok {
		m = &module{info: info}
		n.modules[info.Hash] = m
	}
	n.modMu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.compiled != nil {
		return m, nil
	}
	if _, ok := n.store.Info(info.Hash); !ok {
		if err := n.pull(ctx, info); err != nil {
			return nil, err
		}
	}
	wasm, err := n.store.Get(info.Hash)
	if err != nil {
		return nil, err
	}
	if m.compiled, err = n.eng.Compile(ctx, wasm); err != nil {
		return nil, err
	}
	return m, nil
}

// stats are the node's counters, read by Stats.
type stats struct {
	delivered   atomic.Uint64
	mailboxFull atomic.Uint64
	restarts    atomic.Uint64
	crashes     atomic.Uint64
	spawned     atomic.Uint64
}

// Stats is a snapshot of a node's counters.
type Stats struct {
	Actors          int    `json:"actors"`
	Instances       int    `json:"instances"`
	Spawned         uint64 `json:"spawned"`
	Delivered       uint64 `json:"delivered"`
	MailboxFull     uint64 `json:"mailbox_full"`
	Restarts        uint64 `json:"restarts"`
	InstanceCrashes uint64 `json:"instance_crashes"`
	// GuestMemory is the linear memory of all live instances, in bytes.
	GuestMemory uint64 `json:"guest_memory"`
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	s := Stats{
		Actors:          n.actors.len(),
		Spawned:         n.stats.spawned.Load(),
		Delivered:       n.stats.delivered.Load(),
		MailboxFull:     n.stats.mailboxFull.Load(),
		Restarts:        n.stats.restarts.Load(),
		InstanceCrashes: n.stats.crashes.Load(),
	}
	n.modMu.Lock()
	for _, m := range n.modules {
		m.mu.Lock()
		s.Instances += len(m.pool) + len(m.isolated)
		for _, in := range m.pool {
			s.GuestMemory += uint64(in.inst.MemoryPages()) * 65536
		}
		for in := range m.isolated {
			s.GuestMemory += uint64(in.inst.MemoryPages()) * 65536
		}
		m.mu.Unlock()
	}
	n.modMu.Unlock()
	return s
}
