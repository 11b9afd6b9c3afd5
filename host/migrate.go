package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/scheduler"
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
	arriving map[uint64]*actor // actors restored here, not committed yet
	nAlias   atomic.Int32      // len(aliases), for the message path
	fenceIDs atomic.Uint64     // ids of the fences this node sends
	bg       sync.WaitGroup    // self-migrations asked for by guests
}

func (m *mobility) init() {
	m.aliases = make(map[abi.PID]PID)
	m.behind = make(map[PID][]abi.PID)
	m.stubs = make(map[uint64]*stub)
	m.stubsTo = make(map[PID][]*stub)
	m.fences = make(map[fenceKey]int)
	m.arriving = make(map[uint64]*actor)
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

// arrival is an actor restored here from another node.
type arrival struct {
	old       PID
	from      string // the node it came from
	fromInc   uint64
	dst       *instance
	committed bool
	announced bool // its Moved reached this node
	timer     *time.Timer
	timers    []sendTimer           // its SendAfter timers, armed at the commit
	expect    map[uint64]bool       // nodes whose fence has not passed yet
	passed    map[uint64]bool       // nodes whose fence passed before the commit
	held      map[uint64][]delivery // what those nodes sent meanwhile, in order
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
	req.TrapExit = a.trapExit
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
		n.mob.bg.Go(func() {
			defer wg.Done()
			n.tellMoved(p, moved)
		})
	}
	done := make(chan struct{})
	n.mob.bg.Go(func() {
		wg.Wait()
		close(done)
	})
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
	if a.ext == nil {
		return nil, nil
	}
	for ref, node := range a.ext.nodeMons {
		nodes = append(nodes, proto.MonitorRef{Ref: ref, Name: node})
	}
	for ref, m := range a.ext.groupMons {
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
	n.mob.bg.Go(func() {
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
	watchers, watching, links, rlinks, downs := a.watchers, a.watching, a.links, a.rlinks, a.downs
	a.watchers, a.watching, a.links, a.rlinks, a.downs = nil, nil, nil, nil, nil
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
				if w.actor.watching != nil {
					w.actor.watching[ref] = nil
				}
				w.actor.mu.Unlock()
			}
			moved.Watchers = append(moved.Watchers, proto.WatcherRef{Node: n.cfg.Name, Incarnation: n.incarnation, Ref: ref})
		}
	}
	for ref, target := range watching {
		if target != nil { // a local actor: its watcher is now on the new node
			target.mu.Lock()
			if _, ok := target.watchers[ref]; ok {
				target.watchers[ref] = watcher{node: new.Node, nodeInc: new.Incarnation, remoteRef: ref}
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
			delete(p.links, a.serial)
			if p.rlinks == nil {
				p.rlinks = make(map[PID]struct{})
			}
			p.rlinks[new] = struct{}{}
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

// forward sends a record for an actor that left down its forward lane.
func (n *Node) forward(s *stub, d delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n.forwardLocked(s, d)
}

// forwardLocked is forward for a caller holding s.mu.
func (n *Node) forwardLocked(s *stub, d delivery) {
	if d.quota && d.actor != nil {
		d.actor.quota.GiveBytes(1, len(d.payload))
	}
	fw := forwardOf(d)
	if e := n.sendForward(s, transport.Envelope{Kind: proto.EnvForward, Payload: proto.Marshal(fw)}); e != abi.OK {
		n.refuseForwarded(d, s.serial, e)
		n.log.Debug("forward failed", "to", s.to.String(), "kind", d.kind, "err", e)
	}
}

// refuseForwarded settles a record for a moved actor that cannot be
// forwarded or queued (target is the serial it was addressed to here): an
// ask is answered with the error, a tell is refused to its sender as a tell
// to a live actor would be (REFUSED, counted at the sender's node and
// actor), never dropped unseen.
func (n *Node) refuseForwarded(d delivery, target uint64, e abi.Errno) {
	here := abi.PID{Incarnation: n.incarnation, Serial: target}
	switch d.kind {
	case abi.KindAsk:
		n.replyError(here, d.from, d.ref, e.Err(), "")
	case abi.KindTell:
		if d.from.Incarnation == n.incarnation {
			n.countRefused(d.from.Serial)
			return
		}
		if n.sendRemote(d.from, transport.Envelope{Kind: kindRefused, Status: uint16(e), From: target}) != abi.OK {
			n.stats.refusalsLost.Add(1)
		}
	}
}

// sendForward puts one envelope on a stub's forward lane, or hands it to
// the actor here if it came back. The caller holds s.mu.
func (n *Node) sendForward(s *stub, env transport.Envelope) abi.Errno {
	if s.to.Incarnation == n.incarnation {
		n.handleMoveEnvelope(transport.NodeInfo{Name: n.cfg.Name, Incarnation: n.incarnation}, env, s.to.Serial, s.serial)
		return abi.OK
	}
	env.From = s.serial
	to := abi.PID{Incarnation: s.to.Incarnation, Serial: s.to.Serial}
	// A forward lane is a queue that must not drop: a full send queue
	// makes the forwarder wait (and whoever sends to the old PID after it).
	wait := 50 * time.Microsecond
	for deadline := time.Now().Add(forwardPatience); ; {
		e := n.sendRemote(to, env)
		if e != abi.MailboxFull || time.Now().After(deadline) || n.closed.Load() {
			return e
		}
		time.Sleep(wait)
		wait = min(2*wait, 5*time.Millisecond)
	}
}

// forwardPatience bounds how long a forward waits for room in the send
// queue to the actor's new node before the record is refused.
const forwardPatience = 10 * time.Second

// applyMoved learns that Old now lives at New: the alias, names and groups
// here, the monitors and links held here on Old and by it, and a fence to
// Old's node so the new home knows when this node's earlier sends are all
// through. self is true on Old's own node.
func (n *Node) applyMoved(m proto.Moved, self bool) {
	oldABI := abi.PID{Incarnation: m.Old.Incarnation, Serial: m.Old.Serial}
	n.mob.route.Lock()
	if !self && n.followPID(m.Old) == m.New {
		// Applied already: a Moved is told again until its sender hears
		// back (tellMoved), and aliases come again at every node up.
		n.mob.route.Unlock()
		return
	}
	defer func() {
		if !self {
			n.sendFence(m.Old)
		}
		n.mob.route.Unlock()
	}()
	n.mob.mu.Lock()
	olds := append(n.mob.behind[m.Old], oldABI)
	delete(n.mob.behind, m.Old)
	for _, k := range olds { // collapsed: every old PID leads straight to New
		n.mob.aliases[k] = m.New
	}
	n.mob.behind[m.New] = append(n.mob.behind[m.New], olds...)
	stubs := n.mob.stubsTo[m.Old]
	delete(n.mob.stubsTo, m.Old)
	n.mob.stubsTo[m.New] = append(n.mob.stubsTo[m.New], stubs...)
	if len(n.mob.aliases) > maxAliases {
		for k := range n.mob.aliases { // the table is a cache of last resort
			delete(n.mob.aliases, k)
			if len(n.mob.aliases) <= maxAliases {
				break
			}
		}
	}
	n.mob.nAlias.Store(int32(len(n.mob.aliases)))
	n.mob.mu.Unlock()
	// Stubs that forwarded to Old forward straight to New now; what they
	// sent before is ahead of this node's fence, queued below. A stub's
	// lock is never taken under mob.mu: a local forward looks stubs up.
	for _, s := range stubs {
		s.mu.Lock()
		s.to = m.New
		s.mu.Unlock()
	}

	n.names.Handover(m.Old, m.New)
	n.groups.Replace(m.Old, m.New)
	newHere := m.New.Node == n.cfg.Name && m.New.Incarnation == n.incarnation
	var na *actor
	if newHere {
		na = n.actors.get(m.New.Serial)
	}

	// Monitors held here on Old now watch New.
	n.cl.mu.Lock()
	var local []uint64
	for ref, rw := range n.cl.rwatch {
		if rw.target == m.Old {
			rw.target, rw.node = m.New, m.New.Node
			n.cl.rwatch[ref] = rw
			if newHere {
				local = append(local, ref)
			}
		}
	}
	n.cl.mu.Unlock()
	// Monitors Old held on actors here are now held by New's node.
	for _, w := range m.Watching {
		if w.Target.Node != n.cfg.Name || w.Target.Incarnation != n.incarnation || self {
			continue
		}
		t := n.actors.get(w.Target.Serial)
		if t == nil {
			continue
		}
		t.mu.Lock()
		for k, x := range t.watchers {
			if x.node == m.Old.Node && x.nodeInc == m.Old.Incarnation && x.remoteRef == w.Ref {
				delete(t.watchers, k)
				if newHere && na != nil {
					t.watchers[w.Ref] = watcher{actor: na}
				} else {
					t.watchers[k] = watcher{node: m.New.Node, nodeInc: m.New.Incarnation, remoteRef: w.Ref}
				}
			}
		}
		t.mu.Unlock()
	}
	// Links to Old from actors here are links to New.
	for _, p := range m.Links {
		if p.Node != n.cfg.Name || p.Incarnation != n.incarnation || self {
			continue
		}
		b := n.actors.get(p.Serial)
		if b == nil {
			continue
		}
		b.mu.Lock()
		if _, ok := b.rlinks[m.Old]; ok {
			delete(b.rlinks, m.Old)
			if newHere && na != nil {
				if b.links == nil {
					b.links = make(map[uint64]struct{})
				}
				b.links[m.New.Serial] = struct{}{}
			} else {
				b.rlinks[m.New] = struct{}{}
			}
		}
		b.mu.Unlock()
	}
	if newHere && na != nil {
		n.installArrived(na, m, local)
	}
}

// maxAliases bounds the alias table.
const maxAliases = 1 << 16

// maxStubs bounds the stubs a node keeps for actors that left it. Senders
// that know of a move (every member is told, and a node that comes up gets
// the alias table) send to the new home directly, so a stub serves only
// those that do not yet, and casts in flight. Past the bound the oldest
// stub goes: its old PID then answers "no such actor" (refused to the
// sender, never dropped unseen) on a node whose alias table lost it too.
const maxStubs = 1 << 16

// evictStubs drops the oldest stubs (lowest serials) past maxStubs; the
// caller holds m.mu.
func (m *mobility) evictStubs() {
	for len(m.stubs) > maxStubs {
		var oldest *stub
		for _, s := range m.stubs {
			if oldest == nil || s.serial < oldest.serial {
				oldest = s
			}
		}
		delete(m.stubs, oldest.serial)
		for to, list := range m.stubsTo {
			if i := slices.Index(list, oldest); i >= 0 {
				m.stubsTo[to] = slices.Delete(list, i, i+1)
				if len(m.stubsTo[to]) == 0 {
					delete(m.stubsTo, to)
				}
				break
			}
		}
	}
}

// sendFence tells old's node, on every lane, that this node now sends to
// old's new home: once all copies are there, nothing this node sent to old
// is still on its way.
func (n *Node) sendFence(old PID) {
	name, e := n.peerByInc(old.Incarnation)
	if e != abi.OK || n.cl.tr == nil {
		return // its node is gone: nothing of ours is on its way there
	}
	env := transport.Envelope{Kind: proto.EnvFence, ToIncarnation: old.Incarnation, To: old.Serial, Ref: n.mob.fenceIDs.Add(1)}
	send := func() error {
		if f, ok := n.cl.tr.(transport.Fencer); ok {
			return f.Fence(name, env)
		}
		env.Status = 1
		return n.cl.tr.Send(name, env)
	}
	if err := send(); !errors.Is(err, transport.ErrQueueFull) {
		return
	}
	// A fence must not be lost (the new home would hold this node's sends
	// until old's node goes): wait for room, behind what fills the queue.
	n.mob.bg.Go(func() {
		for wait := 100 * time.Microsecond; ; wait = min(2*wait, 10*time.Millisecond) {
			if !n.sleep(wait) {
				return
			}
			if err := send(); !errors.Is(err, transport.ErrQueueFull) {
				return
			}
		}
	})
}

// installArrived gives an arrived actor, as its Moved says, the monitors
// on it and by it and its links; local lists the monitors held here on the
// old PID, now on an actor of this node.
func (n *Node) installArrived(na *actor, m proto.Moved, local []uint64) {
	na.mu.Lock()
	if na.mig.Load() != nil && na.mig.Load().arr != nil {
		na.mig.Load().arr.announced = true
	}
	na.mu.Unlock()
	for _, ref := range local { // a watcher here: a local monitor again
		n.cl.mu.Lock()
		rw, ok := n.cl.rwatch[ref]
		delete(n.cl.rwatch, ref)
		n.cl.mu.Unlock()
		if !ok {
			continue
		}
		na.mu.Lock()
		if na.watchers == nil {
			na.watchers = make(map[uint64]watcher)
		}
		na.watchers[ref] = rw.w
		na.mu.Unlock()
		if rw.w.actor != nil {
			rw.w.actor.mu.Lock()
			if rw.w.actor.watching != nil {
				rw.w.actor.watching[ref] = na
			}
			rw.w.actor.mu.Unlock()
		}
	}
	for _, w := range m.Watchers {
		if w.Node == n.cfg.Name && w.Incarnation == n.incarnation {
			continue // made local above
		}
		ref := n.refs.Add(1)
		na.mu.Lock()
		if na.watchers == nil {
			na.watchers = make(map[uint64]watcher)
		}
		na.watchers[ref] = watcher{node: w.Node, nodeInc: w.Incarnation, remoteRef: w.Ref}
		na.mu.Unlock()
	}
	for _, w := range m.Watching {
		if w.Target.Node == n.cfg.Name && w.Target.Incarnation == n.incarnation {
			if t := n.actors.get(w.Target.Serial); t != nil {
				na.mu.Lock()
				if na.watching == nil {
					na.watching = make(map[uint64]*actor)
				}
				na.watching[w.Ref] = t
				na.mu.Unlock()
			}
			continue
		}
		n.cl.mu.Lock()
		n.cl.rwatch[w.Ref] = remoteWatch{node: w.Target.Node, target: w.Target, w: watcher{actor: na}}
		n.cl.mu.Unlock()
		na.mu.Lock()
		if na.watching == nil {
			na.watching = make(map[uint64]*actor)
		}
		na.watching[w.Ref] = nil
		na.mu.Unlock()
	}
	na.mu.Lock()
	for _, p := range m.Links {
		if p.Node == n.cfg.Name && p.Incarnation == n.incarnation {
			if na.links == nil {
				na.links = make(map[uint64]struct{})
			}
			na.links[p.Serial] = struct{}{}
			continue
		}
		if na.rlinks == nil {
			na.rlinks = make(map[PID]struct{})
		}
		na.rlinks[p] = struct{}{}
	}
	for _, ref := range m.Downs {
		if na.downs == nil {
			na.downs = make(map[uint64]struct{})
		}
		na.downs[ref] = struct{}{}
	}
	na.mu.Unlock()
}

// followABI returns where the actor p names lives now (p if it never
// moved, as far as this node knows).
func (n *Node) followABI(p abi.PID) abi.PID {
	if n.mob.nAlias.Load() == 0 {
		return p
	}
	n.mob.mu.RLock()
	to, ok := n.mob.aliases[p]
	n.mob.mu.RUnlock()
	if !ok {
		return p
	}
	return abi.PID{Incarnation: to.Incarnation, Serial: to.Serial}
}

// samePID reports whether an answer from from is an answer of asked: the
// same PID, or PIDs of one actor that migrated (both lead to where it lives
// now, as far as this node knows).
func (n *Node) samePID(asked, from abi.PID) bool {
	if asked == from {
		return true
	}
	if n.mob.nAlias.Load() == 0 {
		return false
	}
	// Both under one read lock: a move learned between two lookups would
	// lead one of them a step further than the other.
	n.mob.mu.RLock()
	defer n.mob.mu.RUnlock()
	follow := func(p abi.PID) abi.PID {
		if to, ok := n.mob.aliases[p]; ok {
			return abi.PID{Incarnation: to.Incarnation, Serial: to.Serial}
		}
		return p
	}
	return follow(asked) == follow(from)
}

// followPID is followABI for a Go-API PID.
func (n *Node) followPID(p PID) PID {
	if n.mob.nAlias.Load() == 0 {
		return p
	}
	n.mob.mu.RLock()
	to, ok := n.mob.aliases[abi.PID{Incarnation: p.Incarnation, Serial: p.Serial}]
	n.mob.mu.RUnlock()
	if !ok {
		return p
	}
	return to
}

// stubOf returns the stub of an actor that left this node, or nil.
func (n *Node) stubOf(serial uint64) *stub {
	n.mob.mu.RLock()
	defer n.mob.mu.RUnlock()
	return n.mob.stubs[serial]
}

// divert takes a record for an actor that is part of a migration: it
// forwards it (the actor left) or holds it (it came directly from a node
// whose fence has not passed the actor's old node yet). It reports whether
// it took the record; via is the node the record came through (0: an
// ordered path, never held).
func (n *Node) divert(a *actor, m *migration, d delivery, via uint64) bool {
	if m.stub != nil {
		n.forward(m.stub, d)
		return true
	}
	if via == 0 || (d.kind != abi.KindTell && d.kind != abi.KindAsk) {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mig.Load() != m || !m.arr.expect[via] {
		return false
	}
	if m.arr.held == nil {
		m.arr.held = make(map[uint64][]delivery)
	}
	m.arr.held[via] = append(m.arr.held[via], d)
	return true
}

// release lets through what a node sent an arrived actor directly, now
// that its fence has passed (or it, or the actor's old node, is gone).
func (n *Node) release(a *actor, node uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.mig.Load()
	if m == nil || m.arr == nil {
		return
	}
	arr := m.arr
	if !arr.committed {
		if arr.passed == nil {
			arr.passed = make(map[uint64]bool)
		}
		arr.passed[node] = true
	}
	held := arr.held[node]
	delete(arr.held, node)
	delete(arr.expect, node)
	if len(held) > 0 {
		if a.mv != nil { // still frozen: behind what is parked
			a.mv.parked = append(a.mv.parked, held...)
		} else {
			in := a.inst.Load()
			for _, d := range held {
				in.mailbox.Push(d)
			}
			in.task.Wake()
		}
	}
	if arr.committed && len(arr.expect) == 0 {
		a.mig.Store(nil) // settled: the actor may move again
	}
}

// handleMoveEnvelope handles the migration envelopes: a forwarded record
// (via a stub here if the actor moved on), a fence for a stub here, a
// fence passed for an arrived actor. to is the envelope's To, fromSerial
// its From.
func (n *Node) handleMoveEnvelope(from transport.NodeInfo, env transport.Envelope, to, fromSerial uint64) {
	switch env.Kind {
	case proto.EnvForward:
		var fw proto.Forward
		if err := proto.Unmarshal(env.Payload, &fw); err != nil {
			n.log.Warn("bad forwarded record", "peer", from.Name, "err", err)
			return
		}
		d := delivery{kind: abi.Kind(fw.Kind), status: abi.Errno(fw.Status), from: abi.PID{Incarnation: fw.FromIncarnation, Serial: fw.FromSerial},
			ref: fw.Ref, payload: fw.Payload}
		if s := n.stubOf(to); s != nil { // it moved on from here too
			n.forward(s, d)
			return
		}
		a := n.actors.get(to)
		if a == nil || !a.alive() {
			n.refuseForwarded(d, to, abi.NoProc)
			return
		}
		// Records forwarded by the node the actor came from are in order;
		// those of another node's stub (it learned of a later move) wait
		// for that node's fence like its direct sends.
		via := uint64(0)
		if m := a.mig.Load(); m == nil || m.arr == nil || m.arr.fromInc != from.Incarnation {
			via = from.Incarnation
		}
		if d.kind == abi.KindTell || d.kind == abi.KindAsk {
			if err := a.quota.TakeBytes(len(d.payload)); err != nil {
				n.stats.mailboxFull.Add(1)
				n.refuseForwarded(d, to, abi.MailboxFull)
				return
			}
			d.quota = true
		}
		n.enqueueVia(a, d, via)
	case proto.EnvFence:
		s := n.stubOf(to)
		if s == nil {
			return
		}
		k := fenceKey{stub: to, node: from.Incarnation, id: env.Ref}
		n.mob.mu.Lock()
		n.mob.fences[k]++
		done := n.mob.fences[k] >= int(env.Status)
		if done {
			delete(n.mob.fences, k)
		}
		n.mob.mu.Unlock()
		if done {
			s.mu.Lock()
			n.sendForward(s, transport.Envelope{Kind: proto.EnvFencePassed, Ref: from.Incarnation})
			s.mu.Unlock()
		}
	case proto.EnvFencePassed:
		if s := n.stubOf(to); s != nil {
			return // for an actor that moved on: its new home counts the fences of its own move
		}
		a := n.actors.get(to)
		if a == nil {
			return
		}
		if m := a.mig.Load(); m != nil && m.arr != nil && m.arr.fromInc == from.Incarnation {
			n.release(a, env.Ref)
		}
	}
}

// migrateIn restores an actor sent by its node (from), frozen under a new
// PID of this node, until that node commits or aborts.
func (n *Node) migrateIn(ctx context.Context, from transport.PeerInfo, req proto.MigrateIn) (proto.MigrateInReply, error) {
	if !owns(from.NodeInfo, req.Old) {
		return proto.MigrateInReply{}, fmt.Errorf("%w: %s sends an actor of another node (%s)", wasmactor.ErrBadArgument, from.Name, req.Old)
	}
	if err := req.Module.Validate(); err != nil {
		return proto.MigrateInReply{}, err
	}
	factory, m, err := n.loadFactory(ctx, req.Factory+"@"+req.Module.Hash.String(), req.Factory, req.Module, from.Name)
	if err != nil {
		return proto.MigrateInReply{}, err
	}
	if err := n.reserveActor(nil); err != nil {
		return proto.MigrateInReply{}, err
	}
	a := &actor{serial: n.serials.Add(1), factory: factory}
	a.mod.Store(m)
	a.quota.InitBytes(n.cfg.MailboxSize, n.cfg.Limits.MailboxBytes)
	a.trapExit = req.TrapExit
	if req.Restart.Policy != wasmactor.Temporary {
		a.sup = &supervision{intensity: scheduler.NewIntensity(req.Restart), policy: req.Restart, args: req.Args, isolated: req.Isolated}
		a.sup.restarts.Store(req.Restarts)
	}
	dst, err := m.pick(ctx, n, req.Isolated)
	if err != nil {
		n.releaseActor(a)
		return proto.MigrateInReply{}, err
	}
	a.inst.Store(dst)
	mv := &move{from: dst}
	for _, fw := range req.Records {
		mv.carried = append(mv.carried, delivery{actor: a, kind: abi.Kind(fw.Kind), status: abi.Errno(fw.Status),
			from: abi.PID{Incarnation: fw.FromIncarnation, Serial: fw.FromSerial}, ref: fw.Ref, payload: fw.Payload})
	}
	if err := dst.restore(a, req.State); err != nil {
		n.releaseActor(a)
		if dst.isolated {
			dst.discard()
		}
		return proto.MigrateInReply{}, err
	}
	arr := &arrival{old: req.Old, from: from.Name, fromInc: from.Incarnation, dst: dst, expect: map[uint64]bool{n.incarnation: true, from.Incarnation: true}}
	sent := time.Now()
	for _, t := range req.Timers {
		arr.timers = append(arr.timers, sendTimer{key: t.Key, to: abi.PID{Incarnation: t.ToIncarnation, Serial: t.ToSerial}, msg: t.Payload,
			due: sent.Add(time.Duration(t.InMicros) * time.Microsecond)})
	}
	for _, p := range n.Members() {
		arr.expect[p.Incarnation] = true
	}
	a.mv = mv
	a.route.Store(1)
	a.mig.Store(&migration{arr: arr})
	a.state.Store(stateMoving)
	n.actors.put(a)
	n.mob.mu.Lock()
	n.mob.arriving[a.serial] = a
	n.mob.mu.Unlock()
	// Its monitors watch from here at once: what they report meanwhile
	// waits with the actor's other records, and goes if it never arrives.
	for _, m := range req.NodeMons {
		if e := n.monitorNodeRef(a, m.Name, m.Ref); e != abi.OK {
			n.log.Warn("a node monitor of an arriving actor is refused here", "old", req.Old.String(), "node", m.Name, "err", e)
		}
	}
	for _, m := range req.GroupMons {
		if e := n.monitorGroupRef(a, m.Name, m.Ref); e != abi.OK {
			n.log.Warn("a group monitor of an arriving actor is refused here", "old", req.Old.String(), "group", m.Name, "err", e)
		}
	}
	arr.timer = time.AfterFunc(arrivalTimeout, func() { n.settleArrival(a, false) })
	return proto.MigrateInReply{New: n.pidOf(a)}, nil
}

// arrivalTimeout is how long a restored actor waits for its old node's
// commit; then it takes over if the cluster was told it moved, and is
// dropped otherwise.
const arrivalTimeout = 30 * time.Second

// commitArrival lets an arrived actor run: what was queued for it at its
// old node first, then what came since.
func (n *Node) commitArrival(from transport.NodeInfo, c proto.MigrateCommit) error {
	a := n.actors.get(c.New)
	if a == nil {
		return fmt.Errorf("%w: no actor %d is arriving", wasmactor.ErrNoProc, c.New)
	}
	m := a.mig.Load()
	if m == nil || m.arr == nil || m.arr.fromInc != from.Incarnation {
		return fmt.Errorf("%w: actor %d is not arriving from %s", wasmactor.ErrBadArgument, c.New, from.Name)
	}
	a.mu.Lock()
	for _, inc := range c.Expect {
		if _, up := n.peerByInc(inc); (up == abi.OK || inc == n.incarnation) && !m.arr.passed[inc] {
			m.arr.expect[inc] = true
		}
	}
	a.mu.Unlock()
	n.settleArrival(a, true)
	return nil
}

// settleArrival ends an arrival that is not committed yet: the actor takes
// over (commit, or its old node told the cluster it moved and then went
// silent), or is dropped (nobody was told).
func (n *Node) settleArrival(a *actor, commit bool) {
	n.mob.mu.Lock()
	_, pending := n.mob.arriving[a.serial]
	delete(n.mob.arriving, a.serial)
	n.mob.mu.Unlock()
	if !pending {
		return
	}
	m := a.mig.Load()
	a.mu.Lock()
	arr := m.arr
	if arr.timer != nil {
		arr.timer.Stop()
	}
	if !commit && !arr.announced {
		a.mu.Unlock()
		n.dropArrival(a)
		return
	}
	arr.committed = true
	a.mu.Unlock()
	if !arr.dst.adopt(a, n.cfg.Limits.ActorsPerInstance) || !a.state.CompareAndSwap(stateMoving, stateCommitting) {
		n.dropArrival(a)
		return
	}
	a.mu.Lock()
	mv := a.mv
	mv.handOver(a, arr.dst)
	a.state.Store(stateAlive)
	if len(arr.expect) == 0 {
		a.mig.Store(nil)
	}
	timers := arr.timers
	arr.timers = nil
	a.mu.Unlock()
	n.rearm(a, timers) // from now on they fire from its new PID
	// Nodes gone meanwhile send nothing more.
	for inc := range n.expectedOf(a) {
		if _, e := n.peerByInc(inc); e != abi.OK && inc != n.incarnation {
			n.release(a, inc)
		}
	}
	n.stats.spawned.Add(1)
}

// expectedOf copies the nodes an arrived actor still waits for.
func (n *Node) expectedOf(a *actor) map[uint64]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.mig.Load()
	if m == nil || m.arr == nil {
		return nil
	}
	out := make(map[uint64]bool, len(m.arr.expect))
	for k := range m.arr.expect {
		out[k] = true
	}
	return out
}

// dropArrival forgets an actor that will not arrive.
func (n *Node) dropArrival(a *actor) {
	n.mob.mu.Lock()
	delete(n.mob.arriving, a.serial)
	n.mob.mu.Unlock()
	if a.state.CompareAndSwap(stateMoving, stateDead) {
		n.actors.delete(a.serial)
		n.releaseActor(a)
		n.dropRequests(a) // the monitors it brought
	} // else it exited meanwhile: its finalize left the tables
	if m := a.mig.Load(); m != nil && m.arr != nil {
		m.arr.dst.release(a)
		if m.arr.dst.isolated {
			m.arr.dst.discard()
		} else {
			m.arr.dst.drop(a)
		}
	}
	a.mig.Store(nil)
	n.log.Info("migrating actor dropped: its old node did not commit", "serial", a.serial)
}

// abortFrom handles a KindMigrateAbort: drop the arrival (by serial, or
// the one restored for old).
func (n *Node) abortFrom(from transport.NodeInfo, c proto.MigrateCommit) {
	n.mob.mu.Lock()
	var victims []*actor
	for serial, a := range n.mob.arriving {
		m := a.mig.Load()
		if m == nil || m.arr == nil || m.arr.fromInc != from.Incarnation {
			continue
		}
		if serial == c.New || (c.New == 0 && m.arr.old == c.Old) {
			victims = append(victims, a)
		}
	}
	n.mob.mu.Unlock()
	for _, a := range victims {
		n.mob.mu.Lock()
		_, pending := n.mob.arriving[a.serial]
		n.mob.mu.Unlock()
		if pending {
			if m := a.mig.Load(); m != nil && m.arr != nil && m.arr.timer != nil {
				m.arr.timer.Stop()
			}
			n.dropArrival(a)
		}
	}
}

// migrationNodeDown settles what a peer going down leaves: arrivals from
// it (taken over if the cluster was told, dropped otherwise) and fences
// it will never send.
func (n *Node) migrationNodeDown(peer transport.NodeInfo) {
	n.mob.mu.Lock()
	var arriving []*actor
	for _, a := range n.mob.arriving {
		if m := a.mig.Load(); m != nil && m.arr != nil && m.arr.fromInc == peer.Incarnation {
			arriving = append(arriving, a)
		}
	}
	n.mob.mu.Unlock()
	for _, a := range arriving {
		n.settleArrival(a, false)
	}
	for _, a := range n.actors.all() {
		m := a.mig.Load()
		if m == nil || m.arr == nil {
			continue
		}
		if m.arr.fromInc == peer.Incarnation {
			for inc := range n.expectedOf(a) { // its old node forwards nothing more
				n.release(a, inc)
			}
			continue
		}
		n.release(a, peer.Incarnation)
	}
}

// sendAliases tells a peer that came up where moved actors live now.
func (n *Node) sendAliases(peer string) {
	n.mob.mu.RLock()
	list := make([]proto.Moved, 0, len(n.mob.aliases))
	for old, cur := range n.mob.aliases {
		list = append(list, proto.Moved{Old: n.pidOfABI(old), New: cur})
	}
	n.mob.mu.RUnlock()
	for len(list) > 0 {
		k := min(len(list), 4096)
		n.castMust(peer, proto.KindAliases, proto.Aliases{List: list[:k]})
		list = list[k:]
	}
}

// handleAliases learns aliases a peer sent. A peer speaks for the actors
// of its own node (it moved them) and, for the actors that arrived at it,
// for old PIDs whose node is gone.
func (n *Node) handleAliases(from transport.NodeInfo, body []byte) error {
	var as proto.Aliases
	if err := proto.Unmarshal(body, &as); err != nil {
		return err
	}
	for _, m := range as.List {
		if m.Old.IsZero() || m.New.IsZero() || m.Old == m.New {
			continue
		}
		_, e := n.peerByInc(m.Old.Incarnation)
		oldGone := e != abi.OK && m.Old.Incarnation != n.incarnation
		if !owns(from, m.Old) && !(oldGone && owns(from, m.New)) {
			continue
		}
		n.applyMoved(proto.Moved{Old: m.Old, New: m.New}, false)
	}
	return nil
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
		n.applyMoved(m, false)
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
// runs on a goroutine of its own, which Close waits for.
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
	pid := im.n.pidOf(a)
	im.n.mob.bg.Go(func() {
		ctx, cancel := context.WithTimeout(im.n.life, im.n.cfg.AskTimeout)
		defer cancel()
		if _, err := im.n.Migrate(ctx, pid, node); err != nil {
			im.n.log.Warn("migration the actor asked for failed", "pid", pid.String(), "to", node, "err", err)
		}
	})
	return abi.OK
}
