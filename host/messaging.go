package host

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/trace"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/transport"
)

type callResult struct {
	reply []byte
	err   error
}

type pendingCall struct {
	ch     chan callResult
	callee abi.PID // the actor asked: the only one whose reply counts
}

// finishCall completes a pending host Call once, whoever answers: for the
// node's own verdicts (the callee died, its node went down).
func (n *Node) finishCall(ref uint64, reply []byte, err error) {
	if v, ok := n.calls.LoadAndDelete(ref); ok {
		v.(*pendingCall).ch <- callResult{reply: reply, err: err}
	}
}

// answerCall completes a pending host Call with a reply from actor from,
// if from is the actor that was asked. A reply from anyone else is ignored:
// refs are unguessable, and even a guessed one does not let a guest answer
// for another actor.
func (n *Node) answerCall(from abi.PID, ref uint64, reply []byte, err error) {
	v, ok := n.calls.Load(ref)
	if !ok {
		return
	}
	// The callee may have migrated: its answer comes from a later PID.
	if !n.samePID(v.(*pendingCall).callee, from) {
		return
	}
	n.finishCall(ref, reply, err)
}

// newRef returns a ref for a host Call: random, so that no guest or peer can
// predict the ref of a call it did not receive.
func newRef() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
		if r := binary.LittleEndian.Uint64(b[:]); r != 0 {
			return r
		}
	}
}

// tell queues a TELL or ASK from an ABI PID to an ABI PID.
func (n *Node) tell(from, to abi.PID, kind abi.Kind, ref uint64, msg []byte) abi.Errno {
	return n.tellTraced(from, to, kind, ref, msg, nil)
}

// tellTraced is tell for a message that travels in trace context tc (nil:
// none).
func (n *Node) tellTraced(from, to abi.PID, kind abi.Kind, ref uint64, msg []byte, tc *traceCtx) abi.Errno {
	if from.Incarnation == n.incarnation {
		// The target may have migrated (migrate.go). Reading where it
		// lives and queueing for there is one step with respect to this
		// node learning of a move, so that its fence comes after.
		n.mob.route.RLock()
		to = n.followABI(to)
		if to.Incarnation != n.incarnation {
			e := n.sendRemote(to, transport.Envelope{Kind: uint8(kind), From: from.Serial, Ref: ref, Payload: msg, Trace: tc.bytes()})
			n.mob.route.RUnlock()
			return e
		}
		n.mob.route.RUnlock()
	}
	if to.Incarnation != n.incarnation {
		return n.sendRemote(to, transport.Envelope{Kind: uint8(kind), From: from.Serial, Ref: ref, Payload: msg, Trace: tc.bytes()})
	}
	a := n.actors.get(to.Serial)
	if a == nil || !a.alive() {
		if s := n.stubOf(to.Serial); s != nil { // it migrated: its old node forwards
			n.forward(s, delivery{kind: kind, from: from, ref: ref, payload: msg})
			return abi.OK
		}
		return abi.NoProc
	}
	if err := a.quota.TakeBytes(len(msg)); err != nil {
		n.stats.mailboxFull.Add(1)
		return abi.MailboxFull
	}
	n.enqueueVia(a, delivery{kind: kind, quota: true, from: from, ref: ref, payload: msg, trace: tc}, from.Incarnation)
	return abi.OK
}

// reply routes an answer from the asked actor from to the asker: a host
// Call (serial 0) or an actor's pending ask. It counts only if from is the
// actor that was asked (see answerCall). Late replies (after a timeout) are
// dropped.
func (n *Node) reply(from, to abi.PID, ref uint64, status abi.Errno, msg []byte) abi.Errno {
	if to.Incarnation != n.incarnation {
		return n.sendRemote(to, transport.Envelope{Kind: uint8(abi.KindReply), Status: uint16(status), From: from.Serial, Ref: ref, Payload: msg})
	}
	if to.Serial == 0 {
		// A node's host asked: the status may be any code, not only one a
		// guest sees (see replyError).
		n.answerCall(from, ref, msg, status.Err())
		return abi.OK
	}
	n.answerActor(from, askKey{serial: to.Serial, ref: ref}, status, msg)
	return abi.OK
}

// replyError answers an ask that will get no reply from its actor. A host
// asker (serial 0) gets the exact error, across nodes too; a guest asker
// gets the nearest ABI code.
//
// from is the actor that was asked: the node answers in its name.
func (n *Node) replyError(from, to abi.PID, ref uint64, err error, reason string) {
	if to.Serial == 0 && to.Incarnation == n.incarnation {
		if reason != "" {
			err = fmt.Errorf("%w: %s", err, reason)
		}
		n.answerCall(from, ref, nil, err)
		return
	}
	status := abi.ErrnoOf(err)
	if to.Serial == 0 {
		status = abi.CodeOf(err)
	} else if errors.Is(err, wasmactor.ErrCrashed) {
		status = abi.NoProc // the actor as the guest asked it is gone
	}
	n.reply(from, to, ref, status, nil)
}

// answerActor completes an actor's pending ask with a reply from actor
// from, if from is the actor that was asked.
func (n *Node) answerActor(from abi.PID, key askKey, status abi.Errno, msg []byte) {
	// The actor asked may have migrated: its answer comes from a later PID.
	ask, ok := n.asks.takeIf(key.serial, key.ref, func(p pendingAsk) bool { return n.samePID(p.target, from) })
	if !ok {
		return
	}
	endAsk(ask.span, status)
	n.pushReply(key, status, msg, ask.trace)
}

// replyToActor completes an actor's pending ask once with the node's own
// verdict: the TIMEOUT status when its timer fires first, NODE_DOWN.
func (n *Node) replyToActor(key askKey, status abi.Errno, msg []byte) {
	ask, ok := n.asks.take(key.serial, key.ref)
	if !ok {
		return
	}
	endAsk(ask.span, status)
	n.unhold(ask.target, abi.PID{Incarnation: n.incarnation, Serial: key.serial}, key.ref)
	n.pushReply(key, status, msg, ask.trace)
}

// pushReply queues a reply for the asking actor. It travels in the trace
// context the actor asked in, so what it sends while handling the reply
// stays in that trace.
func (n *Node) pushReply(key askKey, status abi.Errno, msg []byte, tc *traceCtx) {
	a := n.actors.get(key.serial)
	if a == nil || !a.alive() {
		return
	}
	// Replies are not counted against the mailbox bound: the actor asked
	// for them, and dropping one would turn into a spurious timeout.
	n.enqueue(a, delivery{kind: abi.KindReply, status: status, ref: key.ref, payload: msg, trace: tc})
}

type askKey struct{ serial, ref uint64 }

// pendingAsks are the asks made by guests and Go actors, each with its
// timeout timer, by asking actor and ref. An actor's asks are dropped when it exits (see
// Node.exit).
type pendingAsks struct {
	timerSet[pendingAsk]
}

// pendingAsk is one ask an actor made.
type pendingAsk struct {
	target abi.PID    // the actor asked, the only one whose reply counts
	trace  *traceCtx  // the context the asker was in, given back with the reply
	span   trace.Span // the ask's span, nil unless tracing is on and the ask traced
}

// drop disarms the asks of an actor that died; their spans end unanswered.
// dropAsks drops the asks of an exiting actor a; an actor of this node
// that holds one of them forgets it (held.go).
func (n *Node) dropAsks(a *actor) {
	asker := abi.PID{Incarnation: n.incarnation, Serial: a.serial}
	n.asks.dropThen(a.serial, func(ref uint64, p pendingAsk) {
		endAsk(p.span, abi.NoProc)
		n.unhold(p.target, asker, ref)
	})
}

// toNode lists the asks waiting on actors of one node (where follow says
// they live now: they may have migrated).
func (p *pendingAsks) toNode(inc uint64, follow func(abi.PID) abi.PID) []askKey {
	var keys []askKey
	for _, k := range p.keys(func(p pendingAsk) bool { return follow(p.target).Incarnation == inc }) {
		keys = append(keys, askKey{serial: k[0], ref: k[1]})
	}
	return keys
}
