package host

import (
	"context"
	"fmt"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
)

// changeGroup adds pid to group or takes it out, tells the monitors, and
// reports whether anything changed. Telling the cluster is the caller's.
func (n *Node) changeGroup(group string, pid PID, join bool) bool {
	n.gw.mu.Lock()
	defer n.gw.mu.Unlock()
	var changed bool
	if join {
		changed = n.groups.Join(group, pid)
	} else {
		changed = n.groups.Leave(group, pid)
	}
	if changed {
		n.groupChanged(group, pid, join)
	}
	return changed
}

// removeFromGroups takes a dead actor out of every group and returns them.
func (n *Node) removeFromGroups(pid PID) []string {
	n.gw.mu.Lock()
	defer n.gw.mu.Unlock()
	left := n.groups.RemovePID(pid)
	for _, g := range left {
		n.groupChanged(g, pid, false)
	}
	return left
}

// removeNodeFromGroups takes every actor of a node that went down out of
// every group.
func (n *Node) removeNodeFromGroups(node string) {
	n.gw.mu.Lock()
	defer n.gw.mu.Unlock()
	for _, m := range n.groups.RemoveNode(node) {
		n.groupChanged(m.Group, m.PID, false)
	}
}

// JoinGroup adds an actor to a process group. The actor may be on any
// node: its node owns its memberships, so the join is forwarded there and
// this returns once that node has made it (and told the cluster). Joining
// a group twice is not an error.
//
// # Errors
//
// [wasmactor.ErrBadArgument] for an invalid group name, [wasmactor.ErrNoProc]
// for a dead actor, [wasmactor.ErrLimit] when the actor is in
// Config.MaxGroupsPerActor groups already, and the errors of reaching its
// node ([wasmactor.ErrNodeDown], [wasmactor.ErrStaleIncarnation]...).
func (n *Node) JoinGroup(ctx context.Context, group string, pid PID) error {
	return n.groupChange(ctx, group, pid, true)
}

// LeaveGroup takes an actor, on any node, out of a process group (see
// JoinGroup). Leaving a group the actor is not in is not an error.
func (n *Node) LeaveGroup(ctx context.Context, group string, pid PID) error {
	return n.groupChange(ctx, group, pid, false)
}

func (n *Node) groupChange(ctx context.Context, group string, pid PID, join bool) error {
	if err := registry.ValidateName(group); err != nil {
		return err
	}
	a, to, err := n.local(pid)
	if err != nil {
		return err
	}
	if a == nil {
		return n.call(ctx, n.pidOfABI(to).Node, proto.KindGroupChange, proto.GroupChange{Group: group, PID: pid, Leave: !join}, nil)
	}
	if join {
		return n.joinLocal(a, group)
	}
	n.leaveLocal(a, group)
	return nil
}

// joinLocal puts an actor of this node in a group and tells the cluster.
func (n *Node) joinLocal(a *actor, group string) error {
	pid := n.pidOf(a)
	if len(n.groups.Of(pid)) >= n.cfg.MaxGroupsPerActor {
		n.refused(limGroupsPerActor)
		return fmt.Errorf("%w: %s is in %d groups already", wasmactor.ErrLimit, pid, n.cfg.MaxGroupsPerActor)
	}
	if n.changeGroup(group, pid, true) {
		n.broadcast(proto.KindJoin, proto.GroupRef{Group: group, PID: pid})
		if a.dead() {
			// Died meanwhile: its finalize may have left its groups before
			// this join was there (see register). Casts keep their order,
			// so this leave comes last.
			n.leaveLocal(a, group)
			return fmt.Errorf("%w: %s", wasmactor.ErrNoProc, pid)
		}
	}
	return nil
}

// leaveLocal takes an actor of this node out of a group and tells the
// cluster; false if it was not in it.
func (n *Node) leaveLocal(a *actor, group string) bool {
	pid := n.pidOf(a)
	if !n.changeGroup(group, pid, false) {
		return false
	}
	n.broadcast(proto.KindLeave, proto.GroupRef{Group: group, PID: pid})
	return true
}

// serveGroupChange is a peer's KindGroupChange: only for this node's
// actors, so it is never forwarded again.
func (n *Node) serveGroupChange(c proto.GroupChange) error {
	if !n.IsLocal(c.PID) {
		return fmt.Errorf("%w: %s is not on node %s", wasmactor.ErrBadArgument, c.PID, n.cfg.Name)
	}
	return n.groupChange(context.Background(), c.Group, c.PID, !c.Leave)
}

// GroupMembers lists a group's members, sorted.
func (n *Node) GroupMembers(ctx context.Context, group string) ([]PID, error) {
	return n.groups.Members(group), nil
}

// Group is a process group and its members.
type Group struct {
	Name    string
	Members []PID // sorted
}

// Groups lists every group with at least one member, by name, as this node
// sees the cluster.
func (n *Node) Groups() []Group {
	var out []Group
	for _, m := range n.groups.List() {
		if len(out) == 0 || out[len(out)-1].Name != m.Group {
			out = append(out, Group{Name: m.Group})
		}
		g := &out[len(out)-1]
		g.Members = append(g.Members, m.PID)
	}
	return out
}

// GroupSendResult says what [Node.SendGroup] did.
type GroupSendResult struct {
	// Members is how many members the group had.
	Members int
	// Sent counts the members the message was queued for (on this node) or
	// handed to the transport for (elsewhere; delivery there is at most
	// once, as for Send).
	Sent int
	// Refused counts the members that refused it at once (full mailbox,
	// dead, node down); Refusals lists the first
	// [proto.MaxRefusalsListed] of them.
	Refused  int
	Refusals []Refusal
}

// Refusal is one member that refused a message sent to its group.
type Refusal struct {
	PID PID
	Err error
}

// SendGroup sends msg one way to every member of a group, wherever it is,
// from this node's host. A group without members is not an error: the
// result says who got the message.
//
// # Errors
//
// [wasmactor.ErrBadArgument] for an invalid group name or an unencodable
// message, [wasmactor.ErrTooLarge].
func (n *Node) SendGroup(ctx context.Context, group string, msg any) (GroupSendResult, error) {
	if err := registry.ValidateName(group); err != nil {
		return GroupSendResult{}, err
	}
	payload, err := n.encode(msg)
	if err != nil {
		return GroupSendResult{}, err
	}
	return n.sendGroup(n.hostPID(), group, payload), nil
}

// sendGroup tells every member of group, one at a time.
func (n *Node) sendGroup(from abi.PID, group string, msg []byte) GroupSendResult {
	members := n.groups.Members(group)
	r := GroupSendResult{Members: len(members)}
	for _, p := range members {
		to := abi.PID{Incarnation: p.Incarnation, Serial: p.Serial}
		if e := n.tell(from, to, abi.KindTell, 0, msg); e != abi.OK {
			r.Refused++
			if len(r.Refusals) < proto.MaxRefusalsListed {
				r.Refusals = append(r.Refusals, Refusal{PID: p, Err: fmt.Errorf("%w: sending to %s", e.Err(), p)})
			}
			continue
		}
		r.Sent++
	}
	return r
}
