package host

import (
	"context"
	"fmt"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/scheduler"
	"github.com/wasmactor/wasmactor/transport"
)

// The arriving side of a migration: an actor restored here from another
// node waits frozen for its old node's commit, then holds what a node sent
// it directly until that node's fence has passed (see migrate.go).

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
		na.addWatcher(ref, rw.w)
		na.mu.Unlock()
		if rw.w.actor != nil {
			rw.w.actor.mu.Lock()
			if rw.w.actor.rels().watching != nil {
				rw.w.actor.rels().watching[ref] = na
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
		na.addWatcher(ref, watcher{node: w.Node, nodeInc: w.Incarnation, remoteRef: w.Ref})
		na.mu.Unlock()
	}
	for _, w := range m.Watching {
		if w.Target.Node == n.cfg.Name && w.Target.Incarnation == n.incarnation {
			if t := n.actors.get(w.Target.Serial); t != nil {
				na.mu.Lock()
				na.addWatching(w.Ref, t)
				na.mu.Unlock()
			}
			continue
		}
		n.cl.mu.Lock()
		n.cl.rwatch[w.Ref] = remoteWatch{node: w.Target.Node, target: w.Target, w: watcher{actor: na}}
		n.cl.mu.Unlock()
		na.mu.Lock()
		na.addWatching(w.Ref, nil)
		na.mu.Unlock()
	}
	na.mu.Lock()
	for _, p := range m.Links {
		if p.Node == n.cfg.Name && p.Incarnation == n.incarnation {
			na.addLink(p.Serial)
			continue
		}
		na.addRLink(p)
	}
	for _, ref := range m.Downs {
		na.addDown(ref)
	}
	na.mu.Unlock()
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
	a.setTrapExit(req.TrapExit)
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
	// Armed before anyone can find the arrival (an abort, a node down),
	// who reads the timer to stop it.
	arr.timer = time.AfterFunc(arrivalTimeout, func() { n.settleArrival(a, false) })
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

// stopArrivals stops the timers of the arrivals still waiting for their
// commit; Close calls it once no peer can commit or abort any more, and
// its actors' exits take the arrivals down.
func (n *Node) stopArrivals() {
	n.mob.mu.Lock()
	defer n.mob.mu.Unlock()
	for _, a := range n.mob.arriving {
		if m := a.mig.Load(); m != nil && m.arr != nil {
			m.arr.timer.Stop()
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
	n.mob.dropFences(func(k fenceKey) bool { return k.node == peer.Incarnation })
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
