package host

import (
	"errors"
	"slices"
	"time"

	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

// Forwarding: what is left of an actor that migrated away (its stub)
// forwards what still comes for its old PID down one lane, in order, and
// counts the fences other nodes send to it (see migrate.go).

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
	case abi.KindReply:
		// The ask it answers waits at the actor's new node and times out
		// there: its asker hears.
	default: // a DOWN, EXIT, NODEDOWN or GROUP record for the actor
		n.metrics.controlDropped.Inc()
		n.log.Error("a record for a moved actor could not be forwarded", "kind", d.kind, "actor", here, "err", e.Err())
	}
}

// forwardable says which record kinds a stub forwards: what reaches an
// actor in its life. Never its lifecycle records (START, RESTORE, DROP,
// STOP), which only its own node queues for it, where it is.
func forwardable(k abi.Kind) bool {
	switch k {
	case abi.KindStart, abi.KindRestore, abi.KindDrop, abi.KindStop:
		return false
	}
	return true
}

// forwardsFrom reports whether the node run inc may forward records to a,
// an actor here: a node it lived on before (it arrived from there, or an
// old PID of that node leads to it in the alias table), or this node (a
// stub here of an actor that came back). A forwarded record names any
// sender, so only the nodes that keep a stub of the actor may send one.
func (n *Node) forwardsFrom(a *actor, inc uint64) bool {
	if inc == n.incarnation {
		return true
	}
	if m := a.mig.Load(); m != nil && m.arr != nil && m.arr.fromInc == inc {
		return true
	}
	cur := n.pidOf(a)
	n.mob.mu.RLock()
	defer n.mob.mu.RUnlock()
	return slices.ContainsFunc(n.mob.behind[cur], func(p abi.PID) bool { return p.Incarnation == inc })
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
	// The wait stays well inside a guest call's deadline: a guest's send
	// to the old PID forwards in its turn, and a turn that overran would
	// take its whole instance down.
	wait := 50 * time.Microsecond
	for deadline := time.Now().Add(min(forwardPatience, n.cfg.GuestTimeout/5)); ; {
		e := n.sendRemote(to, env)
		if e != abi.MailboxFull || time.Now().After(deadline) || n.closed.Load() {
			return e
		}
		time.Sleep(wait)
		wait = min(2*wait, 5*time.Millisecond)
	}
}

// forwardPatience bounds how long a forward waits for room in the send
// queue to the actor's new node before the record is refused (and at most
// a fifth of Config.GuestTimeout).
const forwardPatience = time.Second

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
		m.dropFences(func(k fenceKey) bool { return k.stub == oldest.serial })
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

// maxFencesPerNode bounds the fences of one node whose copies have not all
// come yet. A node sends a stub one fence per move it learns of (an alias
// learned again at a node up may add a second), and stubs are at most
// maxStubs, so only a node making fences up comes near it; past it, that
// node's new fences are not counted, which holds up only its own sends at
// the actor's new home.
const maxFencesPerNode = maxStubs

// countFence counts a copy of fence k, of which want copies come (one per
// lane); done once the last has. ok is false for a copy not counted: its
// node has maxFencesPerNode fences pending. The caller holds m.mu.
func (m *mobility) countFence(k fenceKey, want int) (done, ok bool) {
	seen, pending := m.fences[k]
	if !pending {
		if m.fencesOf[k.node] >= maxFencesPerNode {
			return false, false
		}
		m.fencesOf[k.node]++
	}
	seen++
	if seen < want {
		m.fences[k] = seen
		return false, true
	}
	if pending {
		delete(m.fences, k)
	}
	m.forgetFence(k)
	return true, true
}

// forgetFence takes fence k, which is no longer in m.fences, off its
// node's count; the caller holds m.mu.
func (m *mobility) forgetFence(k fenceKey) {
	if m.fencesOf[k.node]--; m.fencesOf[k.node] <= 0 {
		delete(m.fencesOf, k.node)
	}
}

// dropFences forgets the fences pending from a node (it went down: the
// copies still to come never will) or for a stub (evicted); the caller
// holds m.mu.
func (m *mobility) dropFences(match func(fenceKey) bool) {
	for k := range m.fences {
		if match(k) {
			delete(m.fences, k)
			m.forgetFence(k)
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
	n.mob.goBG(func() {
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

// stubOf returns the stub of an actor that left this node, or nil.
func (n *Node) stubOf(serial uint64) *stub {
	n.mob.mu.RLock()
	defer n.mob.mu.RUnlock()
	return n.mob.stubs[serial]
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
		if !forwardable(d.kind) {
			n.log.Warn("a forwarded record of a kind no stub forwards", "peer", from.Name, "kind", d.kind)
			return
		}
		if !n.forwardsFrom(a, from.Incarnation) {
			// Not a node this actor lived on: it has no stub of it, and
			// may not speak for the senders it names.
			n.log.Warn("a forwarded record from a node the actor never left", "peer", from.Name, "serial", to)
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
		done, ok := n.mob.countFence(k, int(env.Status))
		n.mob.mu.Unlock()
		if !ok {
			n.log.Debug("fence not counted: its node has too many fences in flight here", "peer", from.Name, "limit", maxFencesPerNode)
		}
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
