package host

import (
	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
)

// Asks an actor holds open.
//
// An ask is answered by the actor asked, or by this node in its name once
// the actor cannot answer any more, so that the asker learns at once, as a
// caller of gen_server:call does from its monitor, rather than at its
// timeout:
//   - an ask queued for an actor that dies is answered NOPROC when its
//     turn comes (dropped, instance.go);
//   - an ask in a turn that crashes the instance is answered CRASHED
//     (instance.deliver);
//   - an ask the actor did not answer in its turn is held: the actor may
//     answer it later (a guest's ctx.Request, a Go actor's Request). If
//     the actor died in that turn (it stopped, failed or was killed) the
//     ask is failed at once; otherwise it is remembered in the actor's
//     record until the actor answers it or exits, and at its exit, restart
//     or not (the restarted guest object never saw it), it is failed.
//
// An actor that moves to another node takes the refs of its held asks in
// its own state and may answer them there; the old node forgets them.
//
// An ask whose asker stops waiting (its timeout, its exit) is forgotten
// at once when the asker is on this node (unhold); one from another node
// stays until the actor answers it or exits. So the held asks are bounded:
// maxHeldPerActor per actor and maxHeld per node. Past them an ask is not
// remembered and its asker waits for its own timeout, as it would have
// without this: no message is dropped, only the early failure.
const (
	maxHeldPerActor = 4096
	maxHeld         = 1 << 20
)

// heldAsk names an ask an actor holds: who asked, and the asker's ref.
type heldAsk struct {
	to  abi.PID
	ref uint64
}

// life numbers the lives of an actor: a restart in place begins a new one.
func (a *actor) life() uint32 { return a.restartCount() }

// hold settles an ask that its actor did not answer in the turn that
// delivered it: remembered if the same life of the actor still runs here,
// failed if it died.
func (n *Node) hold(p *pendingReply) {
	a := p.actor
	a.mu.Lock()
	if a.alive() && a.life() == p.life {
		x := a.extra()
		if x.held == nil {
			x.held = make(map[heldAsk]struct{})
		}
		h := heldAsk{p.to, p.ref}
		if _, dup := x.held[h]; !dup && len(x.held) < maxHeldPerActor {
			if n.held.Add(1) <= maxHeld {
				x.held[h] = struct{}{}
			} else {
				n.held.Add(-1)
			}
		}
		a.mu.Unlock()
		return
	}
	moved := a.state.Load() == stateMoved
	a.mu.Unlock()
	if !moved { // a moved actor may still answer from its new node
		n.replyError(p.asked, p.to, p.ref, wasmactor.ErrNoProc, "")
	}
}

// answered forgets a held ask that the actor a has just answered.
func (n *Node) answered(a *actor, to abi.PID, ref uint64) {
	a.mu.Lock()
	if x := a.rels().ext; x != nil && x.held != nil {
		if _, ok := x.held[heldAsk{to, ref}]; ok {
			delete(x.held, heldAsk{to, ref})
			n.held.Add(-1)
		}
	}
	a.mu.Unlock()
}

// unhold makes the actor target, if it is on this node, forget the ask
// (asker, ref) it holds: the asker no longer waits (its timeout, its
// exit). An asker on another node is not followed: the actor forgets its
// asks when it exits or answers them, within the bounds above.
func (n *Node) unhold(target, asker abi.PID, ref uint64) {
	if target.Incarnation != n.incarnation {
		return
	}
	if a := n.actors.get(target.Serial); a != nil {
		n.answered(a, asker, ref)
	}
}

// failHeld answers, in the name of a, the asks its exiting life held open.
func (n *Node) failHeld(a *actor, held map[heldAsk]struct{}, reason string) {
	if len(held) == 0 {
		return
	}
	err := wasmactor.ErrNoProc
	if wasmactor.IsAbnormal(reason) {
		err = wasmactor.ErrCrashed
	}
	from := n.abiPID(a)
	closing := n.closed.Load()
	for h := range held {
		if closing && h.to.Incarnation == n.incarnation {
			// Its asker here is being shut down too: an answer now would
			// race its shutdown and could become its exit reason.
			continue
		}
		n.replyError(from, h.to, h.ref, err, reason)
	}
}
