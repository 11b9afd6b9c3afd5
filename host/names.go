package host

import (
	"context"
	"fmt"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/transport"
)

// Register gives an actor of this node a cluster-wide name.
//
// # Conflicts
//
// A name another node's actor holds is taken ([wasmactor.ErrNameTaken])
// as far as this node knows. Two nodes that register one name before they
// hear of each other (a partition, or registrations that cross) settle it
// the same way on every node: the loser's node drops the name (the actor
// keeps running; the node logs it). A peer cannot take a name held here by
// claiming it later, nor release it (docs/RATIONALE.md).
func (n *Node) Register(ctx context.Context, name string, pid PID) error {
	a, _, err := n.local(pid)
	if err != nil {
		return err
	}
	if a == nil {
		return fmt.Errorf("%w: %s is not on node %s; register it there", wasmactor.ErrBadArgument, pid, n.cfg.Name)
	}
	return n.register(name, a)
}

// register claims a name locally (first come wins) and tells the cluster;
// concurrent claims elsewhere are settled as mergeName says.
func (n *Node) register(name string, a *actor) error {
	c := registry.Claim{Name: name, PID: n.pidOf(a)}
	if err := n.roomForName(c); err != nil {
		return err
	}
	if err := n.names.Register(c); err != nil {
		return err
	}
	n.broadcast(proto.KindName, c)
	if a.dead() {
		// Died meanwhile: its finalize may have removed its names before
		// this one was there, or told the cluster before the claim above
		// went out. Casts keep their order, so this unname comes last.
		n.names.Unregister(name, c.PID)
		n.broadcast(proto.KindUnname, proto.NameRef{Name: name, PID: c.PID})
		return fmt.Errorf("%w: %s", wasmactor.ErrNoProc, c.PID)
	}
	return nil
}

func (n *Node) unregister(name string, pid PID) bool {
	if !n.names.Unregister(name, pid) {
		return false
	}
	n.broadcast(proto.KindUnname, proto.NameRef{Name: name, PID: pid})
	return true
}

// Unregister removes a name if pid holds it.
func (n *Node) Unregister(ctx context.Context, name string, pid PID) error {
	if pid.Node != n.cfg.Name {
		return fmt.Errorf("%w: %s is not on node %s; unregister it there", wasmactor.ErrBadArgument, pid, n.cfg.Name)
	}
	pid.Incarnation = n.incarnation
	if !n.unregister(name, pid) {
		return fmt.Errorf("%w: %q is not held by %s", wasmactor.ErrNotFound, name, pid)
	}
	return nil
}

// Whereis looks a name up.
func (n *Node) Whereis(ctx context.Context, name string) (PID, error) {
	pid, ok := n.names.Whereis(name)
	if !ok {
		return PID{}, fmt.Errorf("%w: %q", wasmactor.ErrNotFound, name)
	}
	return pid, nil
}

// mergeName applies a name claim a peer made for one of its actors.
//
// The incumbent wins: a claim for a name another node holds waits behind the
// holder (registry.Names.Offer) and takes the name only if the holder lets
// go, which only the holder's node can make happen (handleCast refuses
// KindUnname for other nodes' actors). When the holder is ours, this node
// decides whether to let go: only if the two claims are concurrent (see
// concurrentClaim) and the peer's claim precedes ours (registry.Claim.Precedes,
// computed the same way by the peer, which withdraws its claim if it loses).
// The node that lets go withdraws its claim and tells the cluster, and every
// node hands the name to the same waiting claim.
func (n *Node) mergeName(from transport.NodeInfo, c registry.Claim) {
	if !owns(from, c.PID) {
		n.log.Warn("name claim for an actor the peer does not run ignored", "peer", from.Name, "name", c.Name, "pid", c.PID.String())
		return
	}
	v, holder, since := n.names.Offer(c, maxNamesPerPeer)
	switch {
	case v == registry.Refused:
		n.log.Warn("name claim refused", "peer", from.Name, "name", c.Name, "claims", n.names.NodeClaims(from.Name), "limit", maxNamesPerPeer)
		return
	case v != registry.Waiting:
		return
	case holder.PID.Node != n.cfg.Name:
		n.log.Debug("name claim waits behind the holder", "peer", from.Name, "name", c.Name, "holder", holder.PID.String())
		return
	case !n.concurrentClaim(from, since):
		n.log.Warn("name claim for a name established here refused: it waits behind our actor", "peer", from.Name, "name", c.Name, "pid", c.PID.String(), "holder", holder.PID.String())
		return
	case !c.Precedes(holder):
		n.log.Info("concurrent name claim lost to ours", "peer", from.Name, "name", c.Name, "pid", c.PID.String(), "holder", holder.PID.String())
		return
	}
	if n.names.Unregister(c.Name, holder.PID) {
		n.broadcast(proto.KindUnname, proto.NameRef{Name: c.Name, PID: holder.PID})
		// The actor keeps running without the name; the ABI has no way to
		// tell a guest yet, so the node log says it.
		n.log.Warn("name lost to a concurrent registration on another node", "name", c.Name, "pid", holder.PID.String(), "winner", c.PID.String())
	}
}

// concurrentClaim reports whether a peer's claim for a name this node holds
// since `since` may have been made before the peer heard of ours: it arrived
// within the race window of our announcing the name to that peer, which
// happened when we registered it or, for a peer that came up later, in the
// state we sent it then. Both are instants of this node's clock.
func (n *Node) concurrentClaim(from transport.NodeInfo, since time.Time) bool {
	announced := since
	n.cl.mu.RLock()
	if up, ok := n.cl.upAt[from.Name]; ok && up.incarnation == from.Incarnation && up.at.After(announced) {
		announced = up.at
	}
	n.cl.mu.RUnlock()
	return time.Since(announced) < time.Duration(n.cl.raceWindow.Load())
}
