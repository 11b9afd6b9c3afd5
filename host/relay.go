package host

import (
	"fmt"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

// Casts for an actor that moved away (migrate.go) follow it.
//
// A node that has not yet learned of a move sends its monitor, link, exit,
// kill and stop casts to the actor's old node. Casts travel on the control
// stream, outside the fences that order envelopes, so they can come after
// the actor left. The old node does not drop them: it relays each, its
// target rewritten to where its stub forwards, to that node, naming the
// node that sent it. The receiver takes a relay only from the node that
// owned the old PID, only for an actor of its own that it knows moved from
// there, and only for an origin that is a member now; it then handles the
// cast as if the origin had sent it. So a relaying node speaks for others
// only about the actor it moved away.

// relayed reports whether msg, a cast from from, targets an actor that left
// this node; if so it has been relayed to the actor's new home.
func (n *Node) relayed(from transport.NodeInfo, msg transport.Control) bool {
	serial, inc, readdress, ok := castTarget(msg)
	if !ok || inc != n.incarnation || n.actors.get(serial) != nil {
		return false
	}
	s := n.stubOf(serial)
	if s == nil {
		return false
	}
	s.mu.Lock()
	to := s.to
	s.mu.Unlock()
	body := readdress(to)
	old := PID{Node: n.cfg.Name, Incarnation: n.incarnation, Serial: serial}
	if to.Node == n.cfg.Name && to.Incarnation == n.incarnation { // it came back here
		if err := n.handleCast(from, transport.Control{Kind: msg.Kind, Body: body}); err != nil {
			n.log.Debug("relayed cast refused", "kind", msg.Kind, "peer", from.Name, "err", err)
		}
		return true
	}
	n.castMust(to.Node, proto.KindRelay, proto.Relay{Origin: from.Name, OriginIncarnation: from.Incarnation, Old: old, Kind: msg.Kind, Body: body})
	return true
}

// handleRelay handles a cast relayed by the old node of an actor here.
func (n *Node) handleRelay(from transport.NodeInfo, body []byte) error {
	var r proto.Relay
	if err := proto.Unmarshal(body, &r); err != nil {
		return err
	}
	if !owns(from, r.Old) {
		return fmt.Errorf("%w: %s relays a cast for %s, not its actor", wasmactor.ErrBadArgument, from.Name, r.Old)
	}
	msg := transport.Control{Kind: r.Kind, Body: r.Body}
	serial, inc, _, ok := castTarget(msg)
	if !ok || inc != n.incarnation {
		return fmt.Errorf("%w: a relayed cast (kind %d) for no actor of this node", wasmactor.ErrBadArgument, r.Kind)
	}
	if cur := n.followPID(r.Old); (cur.Node != n.cfg.Name || cur.Incarnation != n.incarnation || cur.Serial != serial) && !n.settlingFrom(serial, r.Old, cur) {
		// This node does not know that actor as where r.Old went: not
		// something the relaying node may speak about. (While the actor
		// is still settling here, the Moved that tells this node may not
		// be applied yet: the relay can overtake it. The actor settles
		// only after this node has applied it, see arrival.go. Only an
		// actor that arrived from r.Old, or from where r.Old led, counts:
		// any other settling here is no business of the relaying node.)
		return fmt.Errorf("%w: %s relays a cast for %s, which did not move to %d here", wasmactor.ErrBadArgument, from.Name, r.Old, serial)
	}
	if name, e := n.peerByInc(r.OriginIncarnation); e != abi.OK || name != r.Origin {
		return nil // its sender is gone: what it asked for ended with it
	}
	if r.Origin == n.cfg.Name {
		return nil // this node's own casts never go through another node
	}
	return n.handleCast(transport.NodeInfo{Name: r.Origin, Incarnation: r.OriginIncarnation}, msg)
}

// settlingFrom reports whether the actor serial arrived here by migration
// from old or from cur (where old led, as far as this node knows) and has
// not settled yet.
func (n *Node) settlingFrom(serial uint64, old, cur PID) bool {
	a := n.actors.get(serial)
	if a == nil {
		return false
	}
	m := a.mig.Load()
	return m != nil && m.arr != nil && (m.arr.old == old || m.arr.old == cur)
}

// castTarget reads the serial and run a relayable cast is addressed to,
// and gives a function that encodes the cast addressed to another actor
// instead. One decode serves both, so the kinds a relay knows are listed
// once.
func castTarget(msg transport.Control) (serial, inc uint64, to func(PID) []byte, ok bool) {
	switch msg.Kind {
	case proto.KindMonitor, proto.KindDemonitor:
		var w proto.Watch
		if proto.Unmarshal(msg.Body, &w) != nil {
			return 0, 0, nil, false
		}
		return w.Target, w.ToIncarnation, func(p PID) []byte {
			w.Target, w.ToIncarnation = p.Serial, p.Incarnation
			return proto.Marshal(w)
		}, true
	case proto.KindLink, proto.KindUnlink:
		var l proto.Link
		if proto.Unmarshal(msg.Body, &l) != nil {
			return 0, 0, nil, false
		}
		return l.To, l.ToIncarnation, func(p PID) []byte {
			l.To, l.ToIncarnation = p.Serial, p.Incarnation
			return proto.Marshal(l)
		}, true
	case proto.KindExit, proto.KindKill, proto.KindStop:
		var x proto.Exit
		if proto.Unmarshal(msg.Body, &x) != nil {
			return 0, 0, nil, false
		}
		return x.To, x.ToIncarnation, func(p PID) []byte {
			x.To, x.ToIncarnation = p.Serial, p.Incarnation
			return proto.Marshal(x)
		}, true
	}
	return 0, 0, nil, false
}
