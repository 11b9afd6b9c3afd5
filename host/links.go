package host

import (
	"fmt"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

// watcher is one party told of an actor's death: a local actor (a DOWN
// record), a Go channel (host Monitor), or a pending host Call.
type watcher struct {
	actor     *actor
	ch        chan<- Down
	call      uint64
	node      string // a watcher on another node, told with a Down cast
	nodeInc   uint64 // that node's run
	remoteRef uint64 // the ref that node chose
}

// notifyDown tells one watcher that the actor dead (on this node or
// another) has stopped for good.
func (n *Node) notifyDown(w watcher, ref uint64, dead PID, reason string) {
	switch {
	case w.actor != nil:
		w.actor.mu.Lock()
		delete(w.actor.rels().watching, ref)
		w.actor.addDown(ref) // until delivered: a demonitor meanwhile drops it
		w.actor.mu.Unlock()
		from := abi.PID{Incarnation: dead.Incarnation, Serial: dead.Serial}
		n.deliverSystem(w.actor, delivery{kind: abi.KindDown, from: from, ref: ref, payload: []byte(reason)})
	case w.ch != nil:
		select {
		case w.ch <- Down{PID: dead, Reason: reason}:
		default: // the channel has room for exactly one Down
		}
	case w.node != "":
		n.castMust(w.node, proto.KindDown, proto.Down{Target: dead.Serial, Ref: w.remoteRef, Reason: reason, ToIncarnation: w.nodeInc})
	case w.call != 0:
		n.finishCall(w.call, nil, fmt.Errorf("%w: %s died: %s", wasmactor.ErrNoProc, dead, reason))
	}
}

// deliverSystem queues a system record (down, exit) for a live actor.
func (n *Node) deliverSystem(a *actor, d delivery) {
	if !a.alive() {
		return
	}
	n.enqueue(a, d)
}

// watch adds a watcher to target and returns its ref; if target is already
// dead the watcher hears "noproc" at once. A target being restarted is not
// dead: the watcher waits for the outcome.
func (n *Node) watch(target *actor, w watcher) uint64 {
	return n.watchAs(target, w, n.refs.Add(1))
}

// watchAs is watch with a ref allocated by the caller.
func (n *Node) watchAs(target *actor, w watcher, ref uint64) uint64 {
	target.mu.Lock()
	if !target.dead() {
		target.addWatcher(ref, w)
		target.mu.Unlock()
		if w.actor != nil {
			w.actor.mu.Lock()
			if w.actor.dead() {
				// The watcher died meanwhile (killed from another
				// goroutine); its finalize did not see this ref.
				w.actor.mu.Unlock()
				n.unwatch(target, ref)
				return ref
			}
			w.actor.addWatching(ref, target)
			w.actor.mu.Unlock()
		}
		return ref
	}
	target.mu.Unlock()
	n.notifyDown(w, ref, n.pidOf(target), wasmactor.ReasonNoProc)
	return ref
}

// errRemote is returned by actorAt for a PID on another node; callers that
// support remote targets check for it.
const errRemote abi.Errno = 0xffff

// actorAt resolves an ABI PID to a local actor that is not dead for good
// (an exiting one may be restarted: monitors and links wait for the
// outcome, messages are refused by tell), or errRemote.
func (n *Node) actorAt(p abi.PID) (*actor, abi.Errno) {
	p = n.followABI(p) // it may have migrated (migrate.go)
	if p.Incarnation != n.incarnation {
		if _, e := n.peerByInc(p.Incarnation); e != abi.OK {
			return nil, e
		}
		return nil, errRemote
	}
	a := n.actors.get(p.Serial)
	if a == nil || a.dead() {
		return nil, abi.NoProc
	}
	return a, abi.OK
}

// monitor makes local actor a watch target, on any node, and returns the
// ref its DOWN will carry: at once with "noproc" if target is dead,
// unknown, or of a node that is not connected.
func (n *Node) monitor(a *actor, target abi.PID) uint64 {
	t, e := n.actorAt(target)
	if e == errRemote {
		return n.watchRemote(n.pidOfABI(target), watcher{actor: a})
	}
	if e == abi.NoProc && target.Incarnation == n.incarnation {
		t = n.actors.get(target.Serial) // maybe being restarted: watch decides
	}
	if t == nil {
		// Already dead or unknown: DOWN "noproc" follows, as abi.md promises.
		ref := n.refs.Add(1)
		n.notifyDown(watcher{actor: a}, ref, PID{Incarnation: target.Incarnation, Serial: target.Serial}, wasmactor.ReasonNoProc)
		return ref
	}
	return n.watch(t, watcher{actor: a})
}

// demonitor cancels a monitor (of an actor, a node or a group) held by
// local actor a; a record for it that is already queued is not delivered
// either.
func (n *Node) demonitor(a *actor, ref uint64) {
	a.mu.Lock()
	t, ok := a.rels().watching[ref]
	delete(a.rels().watching, ref)
	delete(a.rels().downs, ref)
	a.mu.Unlock()
	switch {
	case t != nil:
		n.unwatch(t, ref)
	case ok:
		n.unwatchRemote(ref)
	default:
		// Refs are unique across the node, so a node or group monitor's
		// ref names only that monitor; a record queued for it is dropped.
		if !n.demonitorNode(a, ref) {
			n.demonitorGroup(a, ref)
		}
	}
}

// takeDown reports whether the DOWN queued for a with ref is still wanted
// (the guest has not demonitored since it was queued), and forgets it.
func (a *actor) takeDown(ref uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.rels().downs[ref]
	delete(a.rels().downs, ref)
	return ok
}

func (n *Node) unwatch(target *actor, ref uint64) {
	if target.state.Load() == stateMoved { // it migrated: the monitor is remote now
		n.unwatchRemote(ref)
		return
	}
	target.mu.Lock()
	delete(target.rels().watchers, ref)
	target.mu.Unlock()
}

// link links a and b both ways. If either is dead, the other gets the
// "noproc" exit as Erlang's link/1 would raise. A new link needs room on
// both sides (Limits.LinksPerActor).
func (n *Node) link(a, b *actor) error {
	if a == b {
		return nil
	}
	add := func(x, y *actor) error {
		x.mu.Lock()
		defer x.mu.Unlock()
		if x.dead() { // alive, or exiting: the outcome breaks the link
			return fmt.Errorf("%w: %s", wasmactor.ErrNoProc, n.pidOf(x))
		}
		if _, linked := x.rels().links[y.serial]; !linked && len(x.rels().links)+len(x.rels().rlinks) >= n.cfg.Limits.LinksPerActor {
			return n.overLimit(limLinks, "%s has %d links", n.pidOf(x), n.cfg.Limits.LinksPerActor)
		}
		x.addLink(y.serial)
		return nil
	}
	if err := add(b, a); err != nil {
		return err
	}
	if err := add(a, b); err != nil {
		n.unlink(b, a)
		return err
	}
	// b may have died between the two adds; its finalize would have missed a.
	if b.dead() {
		n.unlink(a, b)
		return fmt.Errorf("%w: %s", wasmactor.ErrNoProc, n.pidOf(b))
	}
	return nil
}

func (n *Node) unlink(a, b *actor) {
	a.mu.Lock()
	delete(a.rels().links, b.serial)
	a.mu.Unlock()
	b.mu.Lock()
	delete(b.rels().links, a.serial)
	b.mu.Unlock()
}

// remoteWatch is a monitor on a remote actor held by a local watcher.
type remoteWatch struct {
	node   string
	target wasmactor.PID
	w      watcher
}

// exitSignal delivers the death of a linked remote actor to a.
func (n *Node) exitSignal(a *actor, from PID, reason string) {
	a.mu.Lock()
	_, linked := a.rels().rlinks[from]
	delete(a.rels().rlinks, from)
	trap := a.rels().trapExit
	a.mu.Unlock()
	if !linked || !wasmactor.IsAbnormal(reason) {
		return
	}
	if trap {
		n.deliverSystem(a, delivery{kind: abi.KindExit, from: abi.PID{Incarnation: from.Incarnation, Serial: from.Serial}, payload: []byte(reason)})
		return
	}
	n.exit(a, reason, true, true)
}

// watchRemote monitors an actor on another node for a local watcher.
func (n *Node) watchRemote(target PID, w watcher) uint64 {
	ref := n.refs.Add(1)
	n.cl.mu.Lock()
	_, up := n.cl.byInc[target.Incarnation]
	if up {
		n.cl.rwatch[ref] = remoteWatch{node: target.Node, target: target, w: w}
	}
	n.cl.mu.Unlock()
	if !up {
		n.notifyDown(w, ref, target, wasmactor.ReasonNoConnection)
		return ref
	}
	var watcherSerial uint64
	if a := w.actor; a != nil {
		watcherSerial = a.serial
		a.mu.Lock()
		dead := a.dead()
		if !dead {
			a.addWatching(ref, nil) // nil: the target is remote, see cl.rwatch
		}
		a.mu.Unlock()
		if dead { // died meanwhile: its finalize did not see this ref
			n.cl.mu.Lock()
			delete(n.cl.rwatch, ref)
			n.cl.mu.Unlock()
			return ref
		}
	}
	err := n.castTry(target.Node, proto.KindMonitor, proto.Watch{Watcher: watcherSerial, Target: target.Serial, Ref: ref, ToIncarnation: target.Incarnation})
	if err != nil {
		// The request never left: the monitor fires at once, exactly once
		// (whoever removes the rwatch entry fires it).
		n.cl.mu.Lock()
		_, mine := n.cl.rwatch[ref]
		delete(n.cl.rwatch, ref)
		n.cl.mu.Unlock()
		if mine {
			n.log.Debug("remote monitor not sent", "target", target.String(), "err", err)
			n.notifyDown(w, ref, target, wasmactor.ReasonNoConnection)
		}
		return ref
	}
	if w.actor != nil && w.actor.dead() {
		// Died after the ref was recorded: its finalize may have cast the
		// demonitor ahead of the monitor. Control messages to a peer keep
		// their order, so one more demonitor reaches it after the monitor.
		n.castMust(target.Node, proto.KindDemonitor, proto.Watch{Target: target.Serial, Ref: ref, ToIncarnation: target.Incarnation})
	}
	return ref
}

func (n *Node) unwatchRemote(ref uint64) {
	n.cl.mu.Lock()
	rw, ok := n.cl.rwatch[ref]
	delete(n.cl.rwatch, ref)
	n.cl.mu.Unlock()
	if ok {
		n.castMust(rw.node, proto.KindDemonitor, proto.Watch{Target: rw.target.Serial, Ref: ref, ToIncarnation: rw.target.Incarnation})
	}
}

// addRemoteWatcher records a peer's monitor on a local actor.
func (n *Node) addRemoteWatcher(from transport.NodeInfo, w proto.Watch) {
	a := n.actors.get(w.Target)
	if w.ToIncarnation != n.incarnation {
		a = nil // meant for another run of this node: that actor is gone
	}
	if a != nil {
		ref := n.refs.Add(1)
		a.mu.Lock()
		ok := !a.dead() // alive, or exiting: the outcome fires the watcher
		if ok {
			a.addWatcher(ref, watcher{node: from.Name, nodeInc: from.Incarnation, remoteRef: w.Ref})
		}
		a.mu.Unlock()
		if ok {
			return
		}
	}
	n.castMust(from.Name, proto.KindDown, proto.Down{Watcher: w.Watcher, Target: w.Target, Ref: w.Ref, Reason: wasmactor.ReasonNoProc, ToIncarnation: from.Incarnation})
}

// addRemoteLink records a link from local actor a to a remote actor.
func (n *Node) addRemoteLink(a *actor, other PID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dead() {
		return false
	}
	a.addRLink(other)
	return true
}

// linkRemote links local actor a to a remote actor.
func (n *Node) linkRemote(a *actor, other PID) error {
	if _, e := n.peerByInc(other.Incarnation); e != abi.OK {
		return fmt.Errorf("%w: %s", e.Err(), other)
	}
	a.mu.Lock()
	_, linked := a.rels().rlinks[other]
	full := !linked && len(a.rels().links)+len(a.rels().rlinks) >= n.cfg.Limits.LinksPerActor
	a.mu.Unlock()
	if full {
		return n.overLimit(limLinks, "%s has %d links", n.pidOf(a), n.cfg.Limits.LinksPerActor)
	}
	if !n.addRemoteLink(a, other) {
		return fmt.Errorf("%w: %s", wasmactor.ErrNoProc, n.pidOf(a))
	}
	if err := n.castTry(other.Node, proto.KindLink, proto.Link{From: a.serial, To: other.Serial, ToIncarnation: other.Incarnation}); err != nil {
		a.mu.Lock()
		delete(a.rels().rlinks, other)
		a.mu.Unlock()
		return err
	}
	if a.dead() {
		// Died meanwhile: its finalize may have cast its exit ahead of the
		// link, which the peer then ignored. Control messages to a peer keep
		// their order: this one comes after the link, as a link to a dead
		// actor would.
		n.castMust(other.Node, proto.KindExit, proto.Exit{From: a.serial, To: other.Serial, Reason: wasmactor.ReasonNoProc, ToIncarnation: other.Incarnation})
	}
	return nil
}

// unlinkRemote removes the link between local actor a and a remote actor,
// here and on its node.
func (n *Node) unlinkRemote(a *actor, other PID) {
	a.mu.Lock()
	delete(a.rels().rlinks, other)
	a.mu.Unlock()
	n.castMust(other.Node, proto.KindUnlink, proto.Link{From: a.serial, To: other.Serial, ToIncarnation: other.Incarnation})
}
