package host

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/scheduler"
)

const (
	stateAlive uint32 = iota + 1
	// stateExiting: exit has begun; the actor is either restarted (alive
	// again) or finalized (dead). Senders see it dead meanwhile; a new
	// monitor or watcher waits for the outcome.
	stateExiting
	stateDead
	// stateMoving: the actor is being upgraded or migrated (mobility.go);
	// it counts as alive. An exit meanwhile wins over the move.
	stateMoving
	// stateCommitting: a move is being committed; an exit waits for it.
	stateCommitting
	// stateMoved: the actor migrated to another node; its record is gone
	// from the table and a stub forwards (migrate.go).
	stateMoved
)

// actor is the host's record of one actor. It is kept small, with what
// few actors use behind pointers (rare, sup, goa): a node holds a million
// of them, and it fills the 128-byte size class.
type actor struct {
	serial  uint64
	factory string
	mod     atomic.Pointer[module] // changes with a hot upgrade
	inst    atomic.Pointer[instance]
	quota   scheduler.Quota
	// parent is the serial of the actor that spawned this one, 0 if none
	// did: its children count this one.
	parent uint64

	// The four 4-byte fields together: 16 bytes, no padding.
	state atomic.Uint32
	// route and mv carry the actor's deliveries while it moves to another
	// instance or node (mobility.go): route is odd during a move, mv holds
	// what arrived meanwhile (guarded by mu).
	route atomic.Uint32
	// children counts the live actors this one spawned
	// (Limits.ChildrenPerActor).
	children atomic.Int32
	// stopPending is a Stop that came while the actor was exiting (see exit).
	stopPending atomic.Bool

	mu   sync.Mutex
	rare *actorRare   // nil until the actor has a monitor, link, extension, refused tell or trapped exits; guarded by mu
	sup  *supervision // nil unless the actor has a restart policy
	goa  *goActor     // a Go actor's home (SpawnFunc); nil for a guest's actor
	mv   *move
	mig  atomic.Pointer[migration] // a migration this actor is part of (migrate.go)
}

// actorRare is what most actors never have: monitors both ways, links,
// tells refused by other nodes, trapped exits and the guest object's
// extension (ext). Kept out of actor to keep actor small. Its relations
// survive a restart (monitors and links are the PID's, not the guest
// object's); finalize and a migration's departure take them (takeRels),
// exit drops ext (dropRequests). Guarded by actor.mu.
type actorRare struct {
	watchers map[uint64]watcher  // monitor ref → who is told when this actor dies
	watching map[uint64]*actor   // refs this actor holds on other local actors
	downs    map[uint64]struct{} // refs whose DOWN is queued for this actor, not yet delivered
	links    map[uint64]struct{} // linked local actors, by serial
	rlinks   map[PID]struct{}    // linked actors on other nodes
	refused  uint64              // its tells that other nodes refused (see countRefused)
	trapExit bool                // exit signals from links arrive as EXIT records
	ext      *actorExt           // nil until the actor monitors a node or group or requests a spawn
}

// noRels is the empty actorRare that rels returns for an actor with none.
// Its maps are nil: reading, ranging over and deleting from them is safe,
// adding is not (ownRels is for that).
var noRels actorRare

// rels returns a's relations for reading and deleting; the caller holds
// a.mu. To add to them, use ownRels.
func (a *actor) rels() *actorRare {
	if a.rare != nil {
		return a.rare
	}
	return &noRels
}

// ownRels returns a's relations for adding to them, making them on first
// use; the caller holds a.mu.
func (a *actor) ownRels() *actorRare {
	if a.rare == nil {
		a.rare = &actorRare{}
	}
	return a.rare
}

// takeRels removes and returns a's relations (its monitors and links); the
// caller holds a.mu.
func (a *actor) takeRels() actorRare {
	r := a.rare
	if r == nil {
		return actorRare{}
	}
	out := actorRare{watchers: r.watchers, watching: r.watching, downs: r.downs, links: r.links, rlinks: r.rlinks}
	r.watchers, r.watching, r.downs, r.links, r.rlinks = nil, nil, nil, nil, nil
	return out
}

// addWatcher, addWatching, addDown, addLink and addRLink add to a's
// relations, making the map on first use; the caller holds a.mu.
func (a *actor) addWatcher(ref uint64, w watcher) {
	r := a.ownRels()
	if r.watchers == nil {
		r.watchers = make(map[uint64]watcher)
	}
	r.watchers[ref] = w
}

func (a *actor) addWatching(ref uint64, target *actor) {
	r := a.ownRels()
	if r.watching == nil {
		r.watching = make(map[uint64]*actor)
	}
	r.watching[ref] = target
}

func (a *actor) addDown(ref uint64) {
	r := a.ownRels()
	if r.downs == nil {
		r.downs = make(map[uint64]struct{})
	}
	r.downs[ref] = struct{}{}
}

func (a *actor) addLink(serial uint64) {
	r := a.ownRels()
	if r.links == nil {
		r.links = make(map[uint64]struct{})
	}
	r.links[serial] = struct{}{}
}

func (a *actor) addRLink(p PID) {
	r := a.ownRels()
	if r.rlinks == nil {
		r.rlinks = make(map[PID]struct{})
	}
	r.rlinks[p] = struct{}{}
}

// setTrapExit turns trapping exits on or off; the caller holds a.mu (or
// a is not shared yet). Off, for an actor that never trapped, makes
// nothing.
func (a *actor) setTrapExit(on bool) {
	if on || a.rare != nil {
		a.ownRels().trapExit = on
	}
}

// refusedCount is how many of a's tells other nodes refused.
func (a *actor) refusedCount() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rels().refused
}

// actorExt is what few actors hold, kept out of actor to keep it small:
// the guest's node and group monitors, pending spawn requests and log rate
// limit. They
// are the guest object's, so they go when the actor exits, restarted or
// not (dropRequests). Guarded by actor.mu.
type actorExt struct {
	nodeMons    map[uint64]string         // node monitor ref → node name
	groupMons   map[uint64]*groupMonState // group monitor ref → its state
	groupQueued int                       // GROUP records queued for the actor, not yet taken
	spawns      map[uint64]struct{}       // the guest's refs of its spawn requests in flight
	logb        *logBucket                // the guest's log rate limit, made on its first line
	held        map[heldAsk]struct{}      // asks this life holds open, to fail when it exits (held.go)
}

// groupMonState is one of a guest's group monitors. epoch numbers its
// GROUP records: when the actor falls behind, the epoch moves on, which
// voids the records queued before, and one overflow record (epoch 0)
// tells the guest to read the members again.
type groupMonState struct {
	group  string
	epoch  uint32
	marker bool // an overflow record is queued
}

// dropRequests releases what the guest object of a asked for, when a
// exits or leaves the node: its node and group monitors, and its pending
// spawn requests (whose outcomes then find no one waiting and are
// abandoned). It returns the asks a held open, for an exit to fail.
func (n *Node) dropRequests(a *actor) (held map[heldAsk]struct{}) {
	a.mu.Lock()
	x := a.rels().ext
	if a.rare != nil {
		a.rare.ext = nil
	}
	a.mu.Unlock()
	if x == nil {
		return nil
	}
	n.held.Add(-int64(len(x.held)))
	if len(x.nodeMons) > 0 {
		n.ev.mu.Lock()
		for ref, node := range x.nodeMons {
			delete(n.ev.mons[node], ref)
			if len(n.ev.mons[node]) == 0 {
				delete(n.ev.mons, node)
			}
		}
		n.ev.mu.Unlock()
	}
	if len(x.groupMons) > 0 {
		n.gw.mu.Lock()
		for ref, m := range x.groupMons {
			n.dropGroupMon(m.group, ref)
		}
		n.gw.mu.Unlock()
	}
	return x.held
}

// extra returns a's extension, creating it; the caller holds a.mu.
func (a *actor) extra() *actorExt {
	r := a.ownRels()
	if r.ext == nil {
		r.ext = &actorExt{}
	}
	return r.ext
}

// supervision is what a restart needs: the policy's arithmetic and the
// original spawn arguments.
type supervision struct {
	// restarts counts the actor's restarts, for listings; here rather than
	// in actor, where it would cost every actor room (see restartCount).
	restarts  atomic.Uint32
	intensity *scheduler.Intensity
	policy    wasmactor.Restart // what intensity was made from, for a migration
	args      []byte
	isolated  bool
}

// restartCount is how often a's supervision has restarted it.
func (a *actor) restartCount() uint32 {
	if a.sup == nil { // set at spawn, never changed
		return 0
	}
	return a.sup.restarts.Load()
}

func (a *actor) alive() bool {
	s := a.state.Load()
	return s == stateAlive || s == stateMoving || s == stateCommitting
}

// dead reports an actor finalized for good: no restart will bring it back.
// Set under a.mu, so a watcher added under a.mu before it is seen by
// finalize.
func (a *actor) dead() bool { return a.state.Load() == stateDead }

func (n *Node) pidOf(a *actor) wasmactor.PID {
	return wasmactor.PID{Node: n.cfg.Name, Incarnation: n.incarnation, Serial: a.serial}
}

func (n *Node) abiPID(a *actor) abi.PID { return abi.PID{Incarnation: n.incarnation, Serial: a.serial} }

// hostPID is the ABI PID a guest replies to when the node's Go API asked.
func (n *Node) hostPID() abi.PID { return abi.PID{Incarnation: n.incarnation} }

// spawnSpec is everything a local spawn needs.
type spawnSpec struct {
	factory  string // as given: Name or Name@prefix
	args     []byte
	isolated bool
	restart  wasmactor.Restart
	parent   abi.PID
	spawner  *actor // the local actor spawning, whose children count it is in
	link     *actor
	name     string
	holder   string // a node that holds the module, if the spawn came with one
	// prepare, if set, runs once the actor exists (in the table, linked,
	// named) and before its START is queued, so nothing it sets up (a
	// link, a monitor) can miss the actor's life. An error stops the
	// actor, which never starts, and is spawnLocal's.
	prepare func(a *actor) error
	// announce, if set, runs once START is queued: whoever learns the PID
	// from it cannot get a message to the actor ahead of its START.
	announce func(a *actor)
}

// spawnLocal resolves the factory, pins a new actor to an instance and
// queues its START. The guest constructs it in the instance's next turn.
func (n *Node) spawnLocal(ctx context.Context, s spawnSpec) (*actor, error) {
	if err := n.checkOpen(); err != nil {
		return nil, err
	}
	factory, info, err := n.factories.ResolveShared(s.factory)
	if err != nil {
		return nil, err
	}
	if len(s.args) > n.cfg.MaxMessageSize {
		return nil, fmt.Errorf("%w: spawn args of %d bytes, the cap is %d", wasmactor.ErrTooLarge, len(s.args), n.cfg.MaxMessageSize)
	}
	if s.name != "" {
		if _, taken := n.names.Whereis(s.name); taken {
			return nil, fmt.Errorf("%w: %q", wasmactor.ErrNameTaken, s.name)
		}
	}
	factory, m, err := n.loadFactory(ctx, s.factory, factory, info, s.holder)
	if err != nil {
		return nil, err
	}
	if err := m.await(ctx, factory); err != nil {
		return nil, err
	}
	if err := n.reserveActor(s.spawner); err != nil {
		return nil, err
	}
	a := &actor{serial: n.serials.Add(1), factory: factory}
	a.mod.Store(m)
	if s.spawner != nil {
		a.parent = s.spawner.serial
	}
	a.quota.InitBytes(n.cfg.MailboxSize, n.cfg.Limits.MailboxBytes)
	if s.restart.Policy != wasmactor.Temporary {
		a.sup = &supervision{intensity: scheduler.NewIntensity(s.restart), policy: s.restart, args: s.args, isolated: s.isolated}
	}
	in, err := n.pin(ctx, a, s.isolated)
	if err != nil {
		n.releaseActor(a)
		return nil, err
	}
	a.state.Store(stateAlive)
	n.actors.put(a)
	if s.link != nil {
		if err := n.link(s.link, a); errors.Is(err, wasmactor.ErrLimit) {
			// A child that should be linked and is not would outlive a
			// crash it was meant to share.
			n.exit(a, wasmactor.ReasonShutdown, false, false)
			return nil, err
		}
	}
	if s.name != "" {
		if err := n.register(s.name, a); err != nil {
			n.exit(a, wasmactor.ReasonShutdown, false, false)
			return nil, err
		}
	}
	if s.prepare != nil {
		if err := s.prepare(a); err != nil {
			n.exit(a, wasmactor.ReasonNoProc, false, false)
			return nil, err
		}
	}
	in.pushSystem(delivery{actor: a, kind: abi.KindStart, from: s.parent, payload: s.args})
	n.stats.spawned.Add(1)
	if s.announce != nil {
		s.announce(a)
	}
	return a, nil
}

// pin pins a to an instance of its module, retrying if the chosen
// instance dies or fills up between being picked and adopting the actor.
func (n *Node) pin(ctx context.Context, a *actor, isolated bool) (*instance, error) {
	for range 8 {
		in, err := a.mod.Load().pick(ctx, n, isolated)
		if err != nil {
			return nil, err
		}
		if in.adopt(a, n.cfg.Limits.ActorsPerInstance) {
			a.inst.Store(in)
			return in, nil
		}
	}
	return nil, fmt.Errorf("wasmactor: instances of module %s keep failing", a.mod.Load().info.Hash.Short())
}

// exit is the one way an actor dies. stopGuest queues a STOP record so the
// guest drops its object (not needed when the guest stopped itself or its
// instance is gone). allowRestart lets the restart policy act; an explicit
// Node.Stop and node shutdown pass false.
func (n *Node) exit(a *actor, reason string, stopGuest, allowRestart bool) {
	n.exitFrom(a, nil, reason, stopGuest, allowRestart)
}

// exitFrom is exit for an actor pinned to instance from (any instance if
// nil): an actor that has moved to another instance meanwhile is left alone.
func (n *Node) exitFrom(a *actor, from *instance, reason string, stopGuest, allowRestart bool) {
	for !a.beginExit(from) {
		if allowRestart || a.state.Load() != stateExiting {
			return // dead already, or a kill during an exit: nothing to do
		}
		// A Stop (or the node's close) during an exit that may end in a
		// restart is not lost: the restart completes and then stops the
		// actor. If it completed before it could see the flag, try again.
		a.stopPending.Store(true)
		if a.state.Load() == stateExiting {
			return
		}
	}
	in := a.inst.Load()
	// Its pending asks and timers die with this life of the actor, restart
	// or not: a restarted actor is a new guest object, which never made
	// them (and whose refs may collide with them in a new instance). So do
	// its node and group monitors and spawn requests.
	n.dropAsks(a)
	n.timers.drop(a.serial)
	n.failHeld(a, n.dropRequests(a), reason)
	if stopGuest {
		n.enqueue(a, delivery{kind: abi.KindStop, payload: []byte(reason)})
	}
	if allowRestart && !n.closed.Load() && a.sup != nil && a.sup.intensity.ShouldRestart(reason, time.Now()) {
		if err := n.restart(a, in); err == nil {
			n.stats.restarts.Add(1)
			n.log.Info("actor restarted", "pid", n.pidOf(a).String(), "factory", a.factory, "reason", reason)
			if a.stopPending.Swap(false) {
				n.exit(a, wasmactor.ReasonShutdown, true, false)
			}
			return
		} else {
			reason = fmt.Sprintf("%s (restart failed: %v)", reason, err)
		}
	}
	n.finalize(a, in, reason)
}

// restart brings a back under the same PID: in its old instance if that
// still runs, else in another one.
func (n *Node) restart(a *actor, old *instance) error {
	old.mu.Lock()
	dead := old.dead
	old.mu.Unlock()
	if dead {
		if _, err := n.pin(context.Background(), a, a.sup.isolated); err != nil {
			return err
		}
	}
	// START first, then alive: senders see the actor dead (NOPROC) until
	// its START is queued, and the system lane keeps START ahead of any
	// message queued after it.
	n.enqueue(a, delivery{kind: abi.KindStart, payload: a.sup.args})
	a.sup.restarts.Add(1) // a new life (held.go) before anyone sees it alive
	a.state.Store(stateAlive)
	return nil
}

// finalize runs once an actor is dead for good: it leaves every table, its
// instance lets it go (an isolated instance then closes), and its monitors
// and links fire. Everything the actor held is released here or in exit
// (asks, timers); records added concurrently by other goroutines check dead
// afterwards and release themselves, which is why the actor is marked dead
// before anything is released.
func (n *Node) finalize(a *actor, in *instance, reason string) {
	a.mu.Lock()
	a.state.Store(stateDead)
	rel := a.takeRels()
	watchers, watching, links, rlinks := rel.watchers, rel.watching, rel.links, rel.rlinks
	a.mu.Unlock()

	n.actors.delete(a.serial)
	n.releaseActor(a)
	a.leave(in)
	pid := n.pidOf(a)
	for _, name := range n.names.RemovePID(pid) {
		n.broadcast(proto.KindUnname, proto.NameRef{Name: name, PID: pid})
	}
	for _, g := range n.removeFromGroups(pid) {
		n.broadcast(proto.KindLeave, proto.GroupRef{Group: g, PID: pid})
	}

	// What it holds on others goes before anyone hears of the death, so a
	// watcher that sees the Down sees nothing of the actor left.
	for ref, target := range watching {
		if target == nil {
			n.unwatchRemote(ref)
			continue
		}
		target.mu.Lock()
		delete(target.rels().watchers, ref)
		target.mu.Unlock()
	}
	type linked struct {
		other *actor
		trap  bool
	}
	var signal []linked
	for serial := range links {
		other := n.actors.get(serial)
		if other == nil {
			continue
		}
		other.mu.Lock()
		delete(other.rels().links, a.serial)
		trap := other.rels().trapExit
		other.mu.Unlock()
		if wasmactor.IsAbnormal(reason) {
			signal = append(signal, linked{other, trap})
		}
	}

	for ref, w := range watchers {
		n.notifyDown(w, ref, pid, reason)
	}
	for p := range rlinks {
		n.castMust(p.Node, proto.KindExit, proto.Exit{From: a.serial, To: p.Serial, Reason: reason, ToIncarnation: p.Incarnation})
	}
	for _, l := range signal {
		if l.trap {
			n.deliverSystem(l.other, delivery{kind: abi.KindExit, from: n.abiPID(a), payload: []byte(reason)})
		} else {
			n.exit(l.other, reason, true, true)
		}
	}
}
