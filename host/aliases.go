package host

import (
	"slices"

	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

// The alias table: every node knows where moved actors live now (old
// PID → current PID, collapsed), learns of moves by Moved and by the
// table a peer sends when it comes up, and routes by it (see migrate.go).

// applyMoved learns that Old now lives at New: the alias, names and groups
// here, the monitors and links held here on Old and by it, and a fence to
// Old's node so the new home knows when this node's earlier sends are all
// through. self is true on Old's own node. It reports false, changing
// nothing, for a move to an actor of this node that did not arrive from
// Old (see arrivedHere).
func (n *Node) applyMoved(m proto.Moved, self bool) bool {
	n.mob.route.Lock()
	if !self && n.followPID(m.Old) == m.New {
		// Applied already: a Moved is told again until its sender hears
		// back (tellMoved), and aliases come again at every node up.
		n.mob.route.Unlock()
		return true
	}
	if !self && !n.arrivedHere(m) {
		n.mob.route.Unlock()
		return false
	}
	defer func() {
		if !self {
			n.sendFence(m.Old)
		}
		n.mob.route.Unlock()
	}()
	n.mob.mu.Lock()
	stubs := n.mob.learnMove(m.Old, m.New)
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

	// Monitors held here on Old now watch New; a DOWN that New's node sent
	// ahead of this Moved fires now.
	n.cl.mu.Lock()
	var local []uint64
	var fire []firedDown
	for ref, rw := range n.cl.rwatch {
		if rw.target == m.Old {
			rw.target, rw.node = m.New, m.New.Node
			n.cl.rwatch[ref] = rw
			if newHere {
				local = append(local, ref)
			} else if e, ok := n.cl.early[ref]; ok && e.from == m.New {
				delete(n.cl.early, ref)
				delete(n.cl.rwatch, ref)
				fire = append(fire, firedDown{ref: ref, rw: rw, reason: e.reason})
			}
		}
	}
	n.cl.mu.Unlock()
	for _, f := range fire {
		n.notifyDown(f.rw.w, f.ref, f.rw.target, f.reason)
	}
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
		for k, x := range t.rels().watchers {
			if x.node == m.Old.Node && x.nodeInc == m.Old.Incarnation && x.remoteRef == w.Ref {
				delete(t.rels().watchers, k)
				if newHere && na != nil {
					t.rels().watchers[w.Ref] = watcher{actor: na}
				} else {
					t.rels().watchers[k] = watcher{node: m.New.Node, nodeInc: m.New.Incarnation, remoteRef: w.Ref}
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
		if _, ok := b.rels().rlinks[m.Old]; ok {
			delete(b.rels().rlinks, m.Old)
			if newHere && na != nil {
				b.addLink(m.New.Serial)
			} else {
				b.rels().rlinks[m.New] = struct{}{}
			}
		}
		b.mu.Unlock()
	}
	if newHere && na != nil {
		n.installArrived(na, m, local)
	}
	return true
}

// arrivedHere checks a move to an actor of this node, the one node that
// can: the actor must have arrived from Old (or from where Old led, as far
// as this node knows) and be settling still, which it is until this node
// has applied its Moved (its own fence waits for that, see arrival.go).
// Otherwise the peer that owns Old would be speaking for an actor it does
// not own: the links, monitors and names a Moved installs would bind an
// actor of this node that never was its. A move to another node's actor
// is that node's to check.
func (n *Node) arrivedHere(m proto.Moved) bool {
	if m.New.Node != n.cfg.Name || m.New.Incarnation != n.incarnation {
		return true
	}
	a := n.actors.get(m.New.Serial)
	if a == nil {
		return false
	}
	mg := a.mig.Load()
	return mg != nil && mg.arr != nil && (mg.arr.old == m.Old || mg.arr.old == n.followPID(m.Old))
}

// maxAliases bounds the alias table.
const maxAliases = 1 << 16

// learnMove records that old now lives at cur: every old PID that led to
// old leads straight to cur (collapsed), and the stubs here that forwarded
// to old are listed under cur; it returns those stubs, whose forwards the
// caller turns to cur. The caller holds m.mu.
func (m *mobility) learnMove(old, cur PID) []*stub {
	olds := append(m.behind[old], abi.PID{Incarnation: old.Incarnation, Serial: old.Serial})
	delete(m.behind, old)
	for _, k := range olds {
		m.aliases[k] = cur
	}
	m.behind[cur] = append(m.behind[cur], olds...)
	stubs := m.stubsTo[old]
	delete(m.stubsTo, old)
	m.stubsTo[cur] = append(m.stubsTo[cur], stubs...)
	for k, to := range m.aliases { // the table is a cache of last resort
		if len(m.aliases) <= maxAliases {
			break
		}
		m.dropAlias(k, to)
	}
	m.nAlias.Store(int32(len(m.aliases)))
	return stubs
}

// dropAlias forgets the alias old → cur in both directions, so that the
// reverse table stays as small as the alias table. The caller holds m.mu.
func (m *mobility) dropAlias(old abi.PID, cur PID) {
	delete(m.aliases, old)
	list := slices.DeleteFunc(m.behind[cur], func(p abi.PID) bool { return p == old })
	if len(list) == 0 {
		delete(m.behind, cur)
	} else {
		m.behind[cur] = list
	}
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
		if !n.applyMoved(proto.Moved{Old: m.Old, New: m.New}, false) {
			n.log.Debug("an alias for an actor here that did not arrive from its old PID", "peer", from.Name, "old", m.Old.String(), "new", m.New.String())
		}
	}
	return nil
}

// A DOWN can come before the Moved that explains it. A monitor held here
// on an actor of node A is kept as "on A"; the actor moves to B, and dies
// there: B sends the DOWN, and A's Moved, told by another path, may still
// be on its way. The DOWN is kept until a Moved says the actor lives at B
// under the serial the DOWN names, and fires then. A node speaks only
// about its own actors, so a DOWN for an actor that never moved to its
// sender never fires. Kept DOWNs go when their sender's run is over or the
// monitor has fired otherwise (swept when the table is full).

// earlyDown is a DOWN that came ahead of its Moved: from is the actor's
// PID on the node that sent it.
type earlyDown struct {
	from   PID
	reason string
}

// firedDown is a monitor of rwatch to fire once no lock is held.
type firedDown struct {
	ref    uint64
	rw     remoteWatch
	reason string
}

// maxEarlyDowns bounds the DOWNs kept for Moveds not applied yet.
const maxEarlyDowns = 1 << 16

// stashMovedDown keeps d, a DOWN for the monitor ref d.Ref, which came
// from a node other than the one this node has the actor on. The caller
// holds cl.mu.
func (n *Node) stashMovedDown(from transport.NodeInfo, d proto.Down) {
	if len(n.cl.early) >= maxEarlyDowns {
		for ref := range n.cl.early {
			if _, ok := n.cl.rwatch[ref]; !ok {
				delete(n.cl.early, ref)
			}
		}
	}
	if len(n.cl.early) >= maxEarlyDowns {
		n.metrics.controlDropped.Inc()
		n.log.Error("a DOWN ahead of its Moved dropped: too many kept", "peer", from.Name, "ref", d.Ref, "reason", d.Reason)
		return
	}
	n.cl.early[d.Ref] = earlyDown{from: PID{Node: from.Name, Incarnation: from.Incarnation, Serial: d.Target}, reason: d.Reason}
}

// forgetEarlyDowns drops the kept DOWNs of the monitors that fired at a
// peer's NodeDown, and those the peer's run inc sent if that run is over
// (a run that reconnects may still be the actor's home). The caller holds
// cl.mu.
func (n *Node) forgetEarlyDowns(inc uint64, over bool) {
	for ref, e := range n.cl.early {
		if _, ok := n.cl.rwatch[ref]; (over && e.from.Incarnation == inc) || !ok {
			delete(n.cl.early, ref)
		}
	}
}
