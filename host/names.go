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
// concurrent claims elsewhere are settled the same way on every node.
func (n *Node) register(name string, a *actor) error {
	c := registry.Claim{Name: name, PID: n.pidOf(a), At: time.Now().UnixNano()}
	if err := n.names.Register(c); err != nil {
		return err
	}
	n.broadcast(proto.KindName, c)
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

func (n *Node) mergeName(from transport.NodeInfo, c registry.Claim) {
	if c.PID.Node != from.Name {
		n.log.Warn("name claim for another node's actor ignored", "peer", from.Name, "name", c.Name, "pid", c.PID.String())
		return
	}
	if loser := n.names.Merge(c); loser != nil && loser.PID.Node == n.cfg.Name {
		n.log.Warn("name lost to an earlier registration elsewhere", "name", loser.Name, "pid", loser.PID.String())
	}
}
