package host

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/dirlock"
	"github.com/wasmactor/wasmactor/internal/engine"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/scheduler"
	"github.com/wasmactor/wasmactor/transport/quic"
)

// startCluster brings up the transport (QUIC unless Config.Transport is
// set) and joins the seeds. A node with neither Listen nor Transport runs
// alone.
func (n *Node) startCluster(ctx context.Context) error {
	tr := n.cfg.Transport
	if tr == nil && n.cfg.Listen == "" {
		return nil
	}
	if tr == nil {
		cookie := n.cfg.Cookie
		if len(cookie) == 0 {
			path := n.cfg.CookieFile
			if path == "" {
				if n.cfg.DataDir == "" {
					return fmt.Errorf("wasmactor: invalid config: Listen needs a Cookie, a CookieFile or a DataDir to keep one in")
				}
				path = filepath.Join(n.cfg.DataDir, "cookie")
			}
			var err error
			if cookie, err = quic.LoadOrCreateCookie(path); err != nil {
				return err
			}
		}
		maxRequest := min(256<<20, max(1<<20, n.cfg.MaxMessageSize+64<<10, int(n.cfg.MemoryLimitPages)<<16+64<<10))
		n.cookie = cookie
		var err error
		tr, err = quic.New(quic.Config{
			Name:        n.cfg.Name,
			Incarnation: n.incarnation,
			Listen:      n.cfg.Listen,
			Advertise:   n.cfg.Advertise,
			Cookie:      cookie,
			CertFile:    n.cfg.CertFile,
			KeyFile:     n.cfg.KeyFile,
			CAFile:      n.cfg.CAFile,
			IdleTimeout: n.cfg.IdleTimeout,
			Logger:      n.cfg.Logger, // the transport tags its lines with the node itself
			// What the node's actors can queue for one peer.
			SendQueueBytes: n.cfg.Limits.PeerQueueBytes,
			// Modules travel in chunks (transfer.go); what still goes
			// in one request between nodes is a migrating actor, whose
			// snapshot is at most its instance's memory.
			MaxRequest: maxRequest,
			// A client's largest request is a message or a deploy chunk:
			// no token, however narrow, makes the node read more.
			MaxClientRequest: min(maxRequest, max(1<<20, n.cfg.MaxMessageSize, proto.ChunkSize)+64<<10),
		})
		if err != nil {
			return err
		}
	} else if tr.Self().Name != n.cfg.Name {
		return fmt.Errorf("wasmactor: invalid config: transport is for node %q, not %q", tr.Self().Name, n.cfg.Name)
	}
	n.cl.tr = tr
	if inc := tr.Self().Incarnation; inc != 0 {
		n.incarnation = inc // an injected transport decides the incarnation
	}
	if err := tr.Start(ctx, handler{n: n}); err != nil {
		return err
	}
	if len(n.cfg.Join) > 0 {
		// One attempt now, so that a node whose seeds are up is a member
		// when Start returns; if none answers, the node still starts and
		// keeps trying (see joinInBackground).
		jctx, cancel := context.WithTimeout(ctx, joinAttempt)
		err := n.Join(jctx, n.cfg.Join...)
		cancel()
		n.joinDone = make(chan struct{})
		go n.joinInBackground(err)
	}
	return nil
}

// Addr is the address other nodes and the CLI reach this node on, or "" for
// a node running alone.
func (n *Node) Addr() string {
	if n.cl.tr == nil {
		return ""
	}
	return n.cl.tr.Self().Addr
}

// Node is one wasmactor host: it stores modules, runs their instances and
// routes messages between actors. All methods are safe for concurrent use.
type Node struct {
	cfg         Config
	log         *slog.Logger
	incarnation uint64
	tracer      trace.Tracer // nil unless Config.TracerProvider: tracing is off

	// life is cancelled by Close: work the node starts on its own behalf
	// (guest spawns, pulls, timers) stops with the node.
	life     context.Context
	stopLife context.CancelFunc

	eng       *engine.Engine
	interp    *engine.Engine // wazero's interpreter, for pulled modules while they compile; nil unless Config.InterpretPulledModules
	coldHold  chan struct{}  // tests only: a background compile starts once it is closed (export_test.go)
	sched     *scheduler.Scheduler
	dirLock   *dirlock.Lock      // the DataDir's, nil without one
	dirStore  *registry.DirStore // store when DataDir is set
	store     registry.Store
	factories *registry.Factories
	names     *registry.Names
	groups    *registry.Groups
	tombs     *registry.Tombstones // undeployed modules (undeploy.go)

	actors  table
	gos     goActors      // the Go actors' goroutines (SpawnFunc)
	serials atomic.Uint64 // actor serials (instance ids are the engine's)
	refs    atomic.Uint64 // call and monitor refs
	// lastDeploy is the DeployedAt of the last deploy here (deployStamp).
	lastDeploy atomic.Int64

	modMu   sync.Mutex
	modules map[registry.Hash]*module

	calls  sync.Map // ref → *pendingCall: host-side Calls waiting for a reply
	asks   pendingAsks
	held   atomic.Int64        // asks held open by the node's actors, all told (held.go)
	timers timerSet[sendTimer] // SendAfter timers, by sender
	cl     cluster
	mob    mobility      // migrations: aliases, stubs, arrivals (migrate.go)
	ev     nodeEvents    // peer events, their subscribers and node monitors
	gw     groupWatch    // group monitors
	sr     spawnRequests // guests' spawn requests in flight
	up     uploads       // deploys arriving in chunks, chunk reads for pullers (transfer.go)

	// jobs tracks the goroutines of goBackground (spawn requests); Close
	// waits for them.
	jobsMu     sync.Mutex
	jobs       sync.WaitGroup
	jobsClosed bool

	stats stats
	use   usage // what actors hold against the node-wide Limits

	closed atomic.Bool

	joinDone chan struct{} // closed when joinInBackground returns; nil without seeds
	metrics  *metrics
	out      outbox         // control messages parked for congested peers
	bg       sync.WaitGroup // the outbox's drain goroutines
	crashLog crashLog
	http     *http.Server // nil unless Config.HTTPListen
	// cookie is the cluster's cookie once startCluster has it (nil for a
	// node without one); serveHTTP derives the token authority from it.
	cookie   []byte
	httpAddr string
	httpDone chan struct{}
}

// Start creates a node and starts its workers.
//
// # Errors
//
// An invalid Config, an unusable DataDir (or one that another node holds:
// "wasmactor: data dir ... is in use by another node"), or a failure to set
// up the WASM runtime.
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
	n.life, n.stopLife = context.WithCancel(context.Background())
	if cfg.TracerProvider != nil {
		n.tracer = cfg.TracerProvider.Tracer(tracerName)
	}
	n.actors.init()
	n.cl.init()
	n.mob.init()
	n.ev.init()
	n.gw.init()
	n.sr.remote = make(map[uint64]*remoteSpawn)
	n.incarnation = newIncarnation()
	// Monitor refs start anywhere: a migrating actor's refs must not meet
	// the refs of its new node.
	n.refs.Store(newIncarnation() >> 2)

	if cfg.DataDir == "" {
		n.store = registry.NewMemStore()
	} else {
		if err := n.lockDataDir(); err != nil {
			return nil, err
		}
		if n.dirStore, err = registry.NewDirStore(filepath.Join(cfg.DataDir, "modules")); err != nil {
			n.releaseDataDir()
			return nil, err
		}
		n.store = n.dirStore
	}
	if err := n.up.init(cfg.DataDir); err != nil {
		n.releaseDataDir()
		return nil, err
	}
	if n.eng, err = engine.New(ctx, engineConfig(cfg, n.log)); err != nil {
		n.releaseDataDir()
		return nil, err
	}
	if cfg.InterpretPulledModules {
		ecfg := engineConfig(cfg, n.log)
		ecfg.Interpreter, ecfg.CacheDir = true, ""
		if n.interp, err = engine.New(ctx, ecfg); err != nil {
			_ = n.eng.Close(ctx)
			n.releaseDataDir()
			return nil, err
		}
	}
	if n.tombs, err = registry.LoadTombstones(tombstonePath(cfg)); err != nil {
		n.closeEngines(ctx)
		n.releaseDataDir()
		return nil, err
	}
	for _, info := range n.store.List() {
		if n.tombs.Buries(info) { // undeployed while the delete could not finish
			_ = n.store.Delete(info.Hash)
			continue
		}
		n.factories.Add(info)
	}
	n.sched = scheduler.New(scheduler.Config{Workers: cfg.Workers})
	n.metrics = newMetrics(n)
	n.initUsage()
	n.asks.bound(cfg.Limits.PendingAsksPerActor, cfg.Limits.PendingAsks, 0)
	n.timers.bound(cfg.Limits.TimersPerActor, cfg.Limits.Timers, cfg.Limits.TimerBytes)
	if err := n.startCluster(ctx); err != nil {
		_ = n.Close()
		return nil, err
	}
	if err := n.serveHTTP(); err != nil {
		_ = n.Close()
		return nil, err
	}
	n.log.Debug("node started", "incarnation", wasmactor.FormatIncarnation(n.incarnation), "modules", len(n.store.List()))
	return n, nil
}

// lockDataDir creates the DataDir if needed and takes it for this node:
// two nodes on one data dir would remove each other's module writes in
// progress and race on the cookie and the compilation cache.
func (n *Node) lockDataDir() error {
	dir := n.cfg.DataDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("wasmactor: data dir: %w", err)
	}
	l, err := dirlock.Take(dir, "lock")
	if errors.Is(err, dirlock.ErrHeld) {
		return fmt.Errorf("wasmactor: data dir %s is in use by another node", dir)
	}
	if err != nil {
		return fmt.Errorf("wasmactor: data dir: %w", err)
	}
	n.dirLock = l
	return nil
}

// releaseDataDir closes the module store and gives the DataDir up.
func (n *Node) releaseDataDir() {
	if n.dirStore != nil {
		_ = n.dirStore.Close()
	}
	if n.dirLock != nil {
		_ = n.dirLock.Unlock()
	}
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
	n.stopLife()
	n.gos.close() // no more Go actors: the loop below stops them all
	n.closeHTTP()
	n.closeUploads()
	n.bg.Wait() // drains stop with n.life
	if n.joinDone != nil {
		<-n.joinDone // stopped by n.life
	}
	n.mob.waitBG() // migrations' goroutines, stopped by n.life
	// Leave the cluster first: peers see a clean leave at once and, as in
	// Erlang, their monitors of our actors fire with "noconnection" rather
	// than racing our shutdown casts.
	if n.cl.tr != nil {
		_ = n.cl.tr.Close()
	}
	n.stopArrivals()   // no peer commits or aborts an arrival now
	n.stopBackground() // spawns in flight end with n.life
	n.ev.close()
	for _, a := range n.actors.all() {
		n.exit(a, wasmactor.ReasonShutdown, false, false)
	}
	n.gos.wait() // their handlers see ActorContext.Context done
	n.sched.Close()
	// No turn runs now, so no guest adds a timer: stop them all.
	n.asks.close()
	n.timers.close()
	ctx := context.Background()
	n.modMu.Lock()
	mods := make([]*module, 0, len(n.modules))
	for _, m := range n.modules {
		mods = append(mods, m)
	}
	n.modMu.Unlock()
	for _, m := range mods { // closing waits for turns: hold no lock
		m.closeAll(ctx)
	}
	err := n.closeEngines(ctx)
	n.releaseDataDir()
	return err
}

func (n *Node) closeEngines(ctx context.Context) error {
	err := n.eng.Close(ctx)
	if n.interp != nil {
		err = errors.Join(err, n.interp.Close(ctx))
	}
	return err
}

func (n *Node) checkOpen() error {
	if n.closed.Load() {
		return fmt.Errorf("%w: node %s", wasmactor.ErrClosed, n.cfg.Name)
	}
	return nil
}

// sleep waits d, or less if the node closes; it reports whether the node
// is still open, for the node's retry loops.
func (n *Node) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-n.life.Done():
		return false
	case <-t.C:
		return true
	}
}
