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
	"github.com/wasmactor/wasmactor/transport"
)

// Live migration: an actor moves to another node with its state and what
// was queued for it, under a new PID; its old PID keeps working.
//
// The old node S freezes the actor (as an upgrade does), sends its
// snapshot and queued records to the new node T (MigrateIn), which
// restores it, frozen, under a new PID. S then commits: it keeps a stub
// that forwards whatever still comes for the old PID, on one lane (the
// pair old serial → new serial) so that forwarded records keep their
// order; it tells every member that the actor moved (Moved, acknowledged),
// with what the actor's monitors and links need; and T lets the actor run
// (MigrateCommit). Until S commits, any failure (T refuses, dies, or does
// not answer) thaws the actor at S, untouched.
//
// Every node keeps an alias table (old PID → current PID) and routes to the
// actor's new home as soon as it learns of the move. Per-pair order holds
// across that switch by a fence: a node that learns sends a fence to S on
// every lane; once S has all of its copies, everything that node sent to
// the old PID has been forwarded, and S sends "fence passed" down the
// forward lane. T holds what a node sends the actor directly until that
// node's fence has passed (or the node, or S, is gone).
//
// A PID stays valid after its node is drained and stopped because the
// alias table is on every node: each node sends it to a peer that comes up.

// mobility is the node's share of migration state.
type mobility struct {
	// route is held (read) by a send while it looks up where its target
	// lives and queues the message, and (write) while this node learns of a
	// move and queues its fence, so that the fence is behind every message
	// sent the old way.
	route    sync.RWMutex
	mu       sync.RWMutex
	aliases  map[abi.PID]PID   // old PID → where the actor lives now (collapsed)
	behind   map[PID][]abi.PID // the other way: current PID → old PIDs of it
	stubs    map[uint64]*stub  // serials of actors that left this node
	stubsTo  map[PID][]*stub   // stubs by where they forward
	fences   map[fenceKey]int  // copies of a fence seen so far at a stub
	fencesOf map[uint64]int    // how many of fences each node sent (see countFence)
	arriving map[uint64]*actor // actors restored here, not committed yet
	// selfMoves are the actors whose own move (the migrate import) is
	// queued or running: one each, so a guest that calls migrate in a loop
	// starts one goroutine, not one per call.
	selfMoves map[uint64]struct{}
	nAlias    atomic.Int32  // len(aliases), for the message path
	fenceIDs  atomic.Uint64 // ids of the fences this node sends
	// bg tracks the goroutines of migrations (see goBG); bgMu orders
	// their start with Close's wait, after which none starts (bgDone).
	bg     sync.WaitGroup
	bgMu   sync.Mutex
	bgDone bool
}

// goBG runs f on a goroutine that Close waits for, unless Close has
// waited already (the node is closing: f's work is moot); it reports
// whether f runs. A WaitGroup must not gain a goroutine while it is
// waited for at zero, which a plain bg.Go from a turn or a peer's request
// racing Close would do.
func (m *mobility) goBG(f func()) bool {
	m.bgMu.Lock()
	defer m.bgMu.Unlock()
	if m.bgDone {
		return false
	}
	m.bg.Go(f)
	return true
}

// waitBG stops goBG from starting goroutines and waits for those started.
func (m *mobility) waitBG() {
	m.bgMu.Lock()
	m.bgDone = true
	m.bgMu.Unlock()
	m.bg.Wait()
}

func (m *mobility) init() {
	m.aliases = make(map[abi.PID]PID)
	m.behind = make(map[PID][]abi.PID)
	m.stubs = make(map[uint64]*stub)
	m.stubsTo = make(map[PID][]*stub)
	m.fences = make(map[fenceKey]int)
	m.fencesOf = make(map[uint64]int)
	m.arriving = make(map[uint64]*actor)
	m.selfMoves = make(map[uint64]struct{})
}

type fenceKey struct{ stub, node, id uint64 }

// stub is what is left of an actor that moved to another node: where
// records for it go.
type stub struct {
	serial uint64
	mu     sync.Mutex // orders forwards: one lane, one sender at a time
	to     PID
}

// migration is an actor's part in a migration, on its actor record (mig).
type migration struct {
	// stub: the actor left this node (its state is stateMoved).
	stub *stub
	// arrival: the actor came from another node; the fields below are
	// guarded by the actor's mu.
	arr *arrival
}

// MigrateResult is what one migration did.
type MigrateResult struct {
	// Old is the actor's PID before the move (it keeps working), New its
	// PID at its new node.
	Old PID `json:"old"`
	New PID `json:"new"`
	// StateBytes is the size of the snapshot that crossed; Took the time
	// from the request until the actor ran at its new node, on its old node.
	StateBytes int           `json:"state_bytes"`
	Took       time.Duration `json:"took"`
}

// Migrate moves a running actor to another node, with its state and the
// messages queued for it, in order. The actor gets a PID of its new node;
// its old PID keeps working, on every node, also after its old node has
// left: messages, calls, monitors, links and kills addressed to it reach
// the actor where it is. Its names and groups follow it, and the monitors
// and links on it and by it still fire (naming its new PID). Per-pair
// order holds across the move. The actor may be on any node; that node
// does the work.
//
// The actor moves at a message boundary where it has no asks of its own in
// flight (as [Node.Upgrade]); the target pulls the module if it lacks it.
// If the target refuses, fails or does not answer before the actor has
// moved, the actor carries on where it was.
//
// # Errors
//
// Those of Upgrade (the actor cannot or did not snapshot, is busy or
// dead), [wasmactor.ErrRestoreFailed] when the target could not restore
// it, [wasmactor.ErrNodeDown] or [wasmactor.ErrUnknownNode] for the target,
// [wasmactor.ErrBadArgument] to migrate to the node it is on. In all of
// them the actor runs on as it was.
func (n *Node) Migrate(ctx context.Context, pid PID, to string) (MigrateResult, error) {
	if err := n.checkOpen(); err != nil {
		return MigrateResult{}, err
	}
	a, _, err := n.local(pid)
	if err != nil {
		return MigrateResult{}, err
	}
	if a == nil {
		home := n.followPID(pid)
		var rep proto.MigrateReply
		if err := n.call(ctx, home.Node, proto.KindMigrate, proto.Migrate{PID: home, To: to}, &rep); err != nil {
			return MigrateResult{}, err
		}
		return MigrateResult{Old: pid, New: rep.New, StateBytes: rep.StateBytes, Took: time.Duration(rep.Micros) * time.Microsecond}, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.AskTimeout)
		defer cancel()
	}
	res, err := n.migrateLocal(ctx, a, to)
	if err == nil && pid != res.Old {
		res.Old = pid
	}
	return res, err
}

// migrateLocal migrates an actor of this node.
func (n *Node) migrateLocal(ctx context.Context, a *actor, to string) (MigrateResult, error) {
	start := time.Now()
	old := n.pidOf(a)
	res := MigrateResult{Old: old}
	if a.goa != nil {
		return res, errGoActor(old)
	}
	if to == n.cfg.Name {
		return res, fmt.Errorf("%w: %s is already on %s", wasmactor.ErrBadArgument, old, to)
	}
	if _, err := n.peer(to); err != nil {
		return res, err
	}
	state, mv, err := n.quietSnapshot(ctx, a)
	if err != nil {
		return res, fmt.Errorf("migration of %s to %s: %w", old, to, err)
	}
	from := mv.from
	m := a.mod.Load()
	req := proto.MigrateIn{Old: old, Factory: a.factory, Module: m.info, State: state, Isolated: from.isolated}
	a.mu.Lock()
	req.TrapExit = a.rels().trapExit
	a.mu.Unlock()
	if a.sup != nil {
		req.Restart, req.Args = a.sup.policy, a.sup.args
	}
	req.Restarts = a.restartCount()
	for _, d := range mv.carried {
		req.Records = append(req.Records, forwardOf(d))
	}
	req.NodeMons, req.GroupMons = monitorsOf(a)
	// The actor's timers stop here and go with it: armed on both nodes, a
	// timer would fire twice. Any failure below arms them here again.
	timers := n.timers.takeAll(a.serial)
	now := time.Now()
	for _, t := range timers {
		req.Timers = append(req.Timers, proto.TimerRef{Key: t.key, ToIncarnation: t.to.Incarnation, ToSerial: t.to.Serial,
			InMicros: t.due.Sub(now).Microseconds(), Payload: t.msg})
	}
	var in proto.MigrateInReply
	if err := n.call(ctx, to, proto.KindMigrateIn, req, &in); err != nil {
		n.rearm(a, timers)
		n.thaw(a, mv)
		// It may have restored the actor and lost the answer: let it go.
		n.abortArrival(to, 0, old)
		return res, fmt.Errorf("migration of %s to %s: %w (it runs on at %s)", old, to, err, n.cfg.Name)
	}
	res.New = in.New
	if !a.state.CompareAndSwap(stateMoving, stateCommitting) {
		n.rearm(a, timers)
		n.thaw(a, mv)
		n.abortArrival(to, in.New.Serial, old)
		return res, fmt.Errorf("migration of %s: %w: it stopped during the migration", old, wasmactor.ErrNoProc)
	}
	moved := n.leave(a, mv, in.New)
	expect := n.expectFences(to)
	n.announceMove(moved)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := n.call(cctx, to, proto.KindMigrateCommit, proto.MigrateCommit{New: in.New.Serial, Expect: expect}, nil); err != nil {
		// Past the point of no return: the actor is at the target, which
		// commits by itself once it hears nothing more.
		n.log.Warn("migration commit not acknowledged", "old", old.String(), "new", in.New.String(), "err", err)
	}
	res.StateBytes, res.Took = len(state), time.Since(start)
	n.log.Info("actor migrated", "old", old.String(), "new", in.New.String(), "state", len(state), "took", res.Took)
	return res, nil
}

// announceMove tells every member that an actor moved, and waits until
// each has applied it, or has gone, or movedPatience has passed. A member
// that has not answered by then keeps being told in the background: a node
// that never learns of the move would send to the old PID for good, throw
// away the actor's answers as not from the actor it asked, and hold up the
// actor's next move (its fence never comes).
func (n *Node) announceMove(moved proto.Moved) {
	var wg sync.WaitGroup
	for _, p := range n.Members() {
		wg.Add(1)
		if !n.mob.goBG(func() {
			defer wg.Done()
			n.tellMoved(p, moved)
		}) {
			wg.Done() // closing: n.life is done, so the wait below is short
		}
	}
	done := make(chan struct{})
	if !n.mob.goBG(func() {
		wg.Wait()
		close(done)
	}) {
		close(done)
	}
	t := time.NewTimer(movedPatience)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		n.log.Warn("members still not told of a migration; telling them in the background", "old", moved.Old.String(), "new", moved.New.String())
	case <-n.life.Done():
	}
}

// movedPatience bounds how long a migration waits for every member to
// apply its Moved before it commits anyway.
const movedPatience = 10 * time.Second

// tellMoved tells one member of a move until it has applied it, it is no
// longer the member it was (down, or a new run), or this node closes. A
// member that refuses the Moved outright is not asked again.
func (n *Node) tellMoved(p transport.NodeInfo, moved proto.Moved) {
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		ctx, cancel := context.WithTimeout(n.life, 2*time.Second)
		err := n.call(ctx, p.Name, proto.KindMoved, moved, nil)
		cancel()
		if err == nil {
			return
		}
		var re *remoteError
		if errors.As(err, &re) || n.life.Err() != nil {
			n.log.Warn("a member did not take a migration", "peer", p.Name, "old", moved.Old.String(), "new", moved.New.String(), "err", err)
			return
		}
		if name, e := n.peerByInc(p.Incarnation); e != abi.OK || name != p.Name {
			return // it went: it learns from the alias table when it comes back
		}
		n.log.Debug("a member did not answer a Moved; telling it again", "peer", p.Name, "err", err)
		if !n.sleep(wait) {
			return
		}
	}
}

// monitorsOf lists a's node and group monitors.
func monitorsOf(a *actor) (nodes, groups []proto.MonitorRef) {
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.rels().ext
	if x == nil {
		return nil, nil
	}
	for ref, node := range x.nodeMons {
		nodes = append(nodes, proto.MonitorRef{Ref: ref, Name: node})
	}
	for ref, m := range x.groupMons {
		groups = append(groups, proto.MonitorRef{Ref: ref, Name: m.group})
	}
	return nodes, groups
}

// rearm arms timers taken from a again: its migration did not happen. A
// timer the limits refuse now (others took the room meanwhile) is counted
// as a limit refusal and logged: its message is not sent.
func (n *Node) rearm(a *actor, timers []sendTimer) {
	for _, t := range timers {
		if r := n.armTimer(a, t); r != added {
			n.addRefused(r, limTimersPerActor, limTimers, limTimerBytes)
			n.log.Warn("a timer of a migrating actor could not be armed again", "pid", n.pidOf(a).String(), "timer", t.key, "result", r)
		}
	}
}

// expectFences lists the nodes whose fence the target waits for: every
// member and this node.
func (n *Node) expectFences(to string) []uint64 {
	out := []uint64{n.incarnation}
	for _, m := range n.Members() {
		out = append(out, m.Incarnation)
	}
	return out
}

// forwardOf turns a queued delivery into its wire form.
func forwardOf(d delivery) proto.Forward {
	return proto.Forward{FromIncarnation: d.from.Incarnation, FromSerial: d.from.Serial, Kind: uint16(d.kind), Status: uint16(d.status),
		Ref: d.ref, Payload: d.payload}
}

// abortArrival tells the target to forget an actor that will not arrive
// (serial 0: whatever it restored for old).
func (n *Node) abortArrival(to string, serial uint64, old PID) {
	n.mob.goBG(func() {
		ctx, cancel := context.WithTimeout(n.life, 5*time.Second)
		defer cancel()
		_ = n.call(ctx, to, proto.KindMigrateAbort, proto.MigrateCommit{New: serial, Old: old}, nil)
	})
}

// leave commits a migration at the old node: the actor becomes a stub
// forwarding to new, its queued records follow, this node routes to new,
// and the monitors and links held here on it and by it are rewritten. It
// returns the Moved the cluster is told. The caller won the move (state
// committing).
func (n *Node) leave(a *actor, mv *move, new PID) proto.Moved {
	old := n.pidOf(a)
	s := &stub{serial: a.serial, to: new}
	moved := proto.Moved{Old: old, New: new}

	// What was parked goes first: anyone who sees the stub forwards
	// through s.mu, which this holds until then.
	s.mu.Lock()
	n.mob.mu.Lock() // before the actor looks moved: whoever finds it so finds the stub
	n.mob.stubs[a.serial] = s
	n.mob.stubsTo[new] = append(n.mob.stubsTo[new], s)
	n.mob.evictStubs()
	n.mob.mu.Unlock()
	a.mu.Lock()
	rel := a.takeRels()
	watchers, watching, links, rlinks, downs := rel.watchers, rel.watching, rel.links, rel.rlinks, rel.downs
	parked := mv.parked
	a.mv = nil
	a.mig.Store(&migration{stub: s})
	a.route.Add(1)
	a.state.Store(stateMoved)
	a.mu.Unlock()
	for _, d := range parked {
		n.forwardLocked(s, d)
	}
	s.mu.Unlock()
	n.actors.delete(a.serial)
	n.releaseActor(a) // it counts at its new node now
	n.dropRequests(a) // its node and group monitors watch from its new node
	mv.from.release(a)
	if mv.from.isolated {
		mv.from.discard()
	} else {
		mv.from.drop(a)
	}

	// Relations, as the new node must install them.
	for ref, w := range watchers {
		switch {
		case w.node != "":
			moved.Watchers = append(moved.Watchers, proto.WatcherRef{Node: w.node, Incarnation: w.nodeInc, Ref: w.remoteRef})
		default: // held here: becomes a monitor on a remote actor
			n.cl.mu.Lock()
			n.cl.rwatch[ref] = remoteWatch{node: new.Node, target: new, w: w}
			n.cl.mu.Unlock()
			if w.actor != nil {
				w.actor.mu.Lock()
				if w.actor.rels().watching != nil {
					w.actor.rels().watching[ref] = nil
				}
				w.actor.mu.Unlock()
			}
			moved.Watchers = append(moved.Watchers, proto.WatcherRef{Node: n.cfg.Name, Incarnation: n.incarnation, Ref: ref})
		}
	}
	for ref, target := range watching {
		if target != nil { // a local actor: its watcher is now on the new node
			target.mu.Lock()
			if _, ok := target.rels().watchers[ref]; ok {
				target.rels().watchers[ref] = watcher{node: new.Node, nodeInc: new.Incarnation, remoteRef: ref}
			}
			target.mu.Unlock()
			moved.Watching = append(moved.Watching, proto.WatchingRef{Ref: ref, Target: n.pidOf(target)})
			continue
		}
		n.cl.mu.Lock()
		rw, ok := n.cl.rwatch[ref]
		delete(n.cl.rwatch, ref)
		n.cl.mu.Unlock()
		if ok {
			moved.Watching = append(moved.Watching, proto.WatchingRef{Ref: ref, Target: rw.target})
		}
	}
	for serial := range links {
		if p := n.actors.get(serial); p != nil {
			p.mu.Lock()
			delete(p.rels().links, a.serial)
			p.addRLink(new)
			p.mu.Unlock()
			moved.Links = append(moved.Links, n.pidOf(p))
		}
	}
	for p := range rlinks {
		moved.Links = append(moved.Links, p)
	}
	for ref := range downs {
		moved.Downs = append(moved.Downs, ref)
	}

	// This node routes to the new home from now on; its own fence is
	// simply the next thing on the forward lane.
	n.applyMoved(moved, true)
	s.mu.Lock()
	n.sendForward(s, transport.Envelope{Kind: proto.EnvFencePassed, Ref: n.incarnation})
	s.mu.Unlock()
	return moved
}

// serveMigration answers the migration requests; ok is false for other
// kinds.
func (n *Node) serveMigration(ctx context.Context, from transport.PeerInfo, kind uint16, body []byte) (reply []byte, ok bool, err error) {
	switch kind {
	case proto.KindMigrateIn:
		var req proto.MigrateIn
		if err := proto.Unmarshal(body, &req); err != nil {
			return nil, true, err
		}
		rep, err := n.migrateIn(ctx, from, req)
		if err != nil {
			return nil, true, err
		}
		return proto.Marshal(rep), true, nil
	case proto.KindMigrateCommit, proto.KindMigrateAbort:
		var c proto.MigrateCommit
		if err := proto.Unmarshal(body, &c); err != nil {
			return nil, true, err
		}
		if kind == proto.KindMigrateAbort {
			n.abortFrom(from.NodeInfo, c)
			return proto.Marshal(proto.Empty{}), true, nil
		}
		return proto.Marshal(proto.Empty{}), true, n.commitArrival(from.NodeInfo, c)
	case proto.KindMoved:
		var m proto.Moved
		if err := proto.Unmarshal(body, &m); err != nil {
			return nil, true, err
		}
		if from.Client || !owns(from.NodeInfo, m.Old) {
			return nil, true, fmt.Errorf("%w: %s says an actor of another node moved", wasmactor.ErrBadArgument, from.Name)
		}
		if !n.applyMoved(m, false) {
			return nil, true, fmt.Errorf("%w: %s says %s moved to %s, which did not arrive from there", wasmactor.ErrBadArgument, from.Name, m.Old, m.New)
		}
		return proto.Marshal(proto.Empty{}), true, nil
	case proto.KindMigrate, proto.KindMigrateCLI:
		var req proto.Migrate
		if err := proto.Unmarshal(body, &req); err != nil {
			return nil, true, err
		}
		pid := req.PID
		if kind == proto.KindMigrateCLI {
			if pid, err = n.target(ctx, req.Target); err != nil {
				return nil, true, err
			}
		}
		r, err := n.Migrate(ctx, pid, req.To)
		if err != nil {
			return nil, true, err
		}
		return proto.Marshal(proto.MigrateReply{Old: r.Old, New: r.New, StateBytes: r.StateBytes, Micros: r.Took.Microseconds()}), true, nil
	}
	return nil, false, nil
}

// Migrate is the migrate import: the actor asks to move once its turn is
// over. The move waits for the turn (it takes the instance's turnMu), and
// runs on a goroutine of its own, which Close waits for. An actor has at
// most one such request at a time: another before it ends is LIMIT.
func (im *imports) Migrate(serial uint64, node string) abi.Errno {
	a := im.caller(serial)
	if a == nil || node == im.n.cfg.Name {
		return abi.BadArgument
	}
	if _, err := im.n.peer(node); err != nil {
		return abi.ErrnoOf(err)
	}
	if im.n.closed.Load() {
		return abi.ErrnoOf(wasmactor.ErrClosed)
	}
	mob := &im.n.mob
	mob.mu.Lock()
	_, pending := mob.selfMoves[serial]
	if !pending {
		mob.selfMoves[serial] = struct{}{}
	}
	mob.mu.Unlock()
	if pending {
		return abi.Limit // one at a time: its earlier request has not ended yet
	}
	pid := im.n.pidOf(a)
	done := func() {
		mob.mu.Lock()
		delete(mob.selfMoves, serial)
		mob.mu.Unlock()
	}
	if !mob.goBG(func() {
		defer done()
		ctx, cancel := context.WithTimeout(im.n.life, im.n.cfg.AskTimeout)
		defer cancel()
		if _, err := im.n.Migrate(ctx, pid, node); err != nil {
			im.n.log.Warn("migration the actor asked for failed", "pid", pid.String(), "to", node, "err", err)
		}
	}) {
		done()
		return abi.ErrnoOf(wasmactor.ErrClosed)
	}
	return abi.OK
}
