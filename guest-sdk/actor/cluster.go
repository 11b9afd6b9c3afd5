package actor

// Node monitors and process groups.

// NodeDownHandler is implemented by actors that monitor nodes
// ([Context.MonitorNode]): HandleNodeDown runs when a monitored node goes
// down. Actors without it never see NodeDowns.
type NodeDownHandler interface {
	HandleNodeDown(ctx *Context, d NodeDown)
}

// NodeDown tells an actor that a node it monitors went down, as Erlang's
// {nodedown, Node}.
type NodeDown struct {
	Ref  Ref    // the monitor, as returned by [Context.MonitorNode]
	Node string // the node's name
	// Incarnation is the run of the node that went down (PIDs of actors
	// that ran there carry it); 0 if it was not connected when monitored.
	Incarnation uint64
	// Reason: "left" (it left the cluster), "timeout" (nothing heard within
	// the idle timeout), "restarted" (a new run replaced it),
	// "noconnection" (the connection was lost, or there was none).
	Reason string
}

// MonitorNode watches a node by name, as Erlang's monitor_node: when the
// run of it connected now goes down, HandleNodeDown runs with the returned
// Ref, exactly once. If the node is not connected (or unknown), the
// NodeDown follows at once with reason "noconnection". [Context.Demonitor]
// cancels it; it also ends when this actor stops or is restarted.
//
// # Errors
//
// [ErrBadArgument] for a name that is no node name (1 to 128 of A-Z a-z
// 0-9 _ -), [ErrLimit] when the actor holds the node's limit of node
// monitors already (host.Config.MaxNodeMonitors, 256 by default).
func (c *Context) MonitorNode(node string) (Ref, error) {
	ref, code := c.in.now().monitorNode(c.id, node)
	if err := codeError(code); err != nil {
		return 0, err
	}
	return Ref(ref), nil
}

// GroupHandler is implemented by actors that monitor groups
// ([Context.MonitorGroup]): HandleGroup runs for every change of a
// monitored group. Actors without it never see group changes.
type GroupHandler interface {
	HandleGroup(ctx *Context, e GroupEvent)
}

// GroupEvent is a change of a group an actor monitors.
type GroupEvent struct {
	Ref   Ref // the monitor, as returned by [Context.MonitorGroup]
	Group string
	// PID joined (Joined) or left the group: it left, died, or its node
	// went down.
	PID    PID
	Joined bool
	// Overflow says changes were dropped because the actor had too many
	// queued (the node never queues without bound); PID is zero. Read the
	// members again with [Context.GroupMembers].
	Overflow bool
}

// JoinGroup puts this actor in a cluster-wide process group, as Erlang's
// pg:join. Joining twice is not an error. The actor leaves every group
// when it dies; a restarted actor stays in its groups, as it keeps its
// names.
//
// # Errors
//
// [ErrBadArgument] for an invalid group name (1 to 255 bytes of printable
// UTF-8 without spaces, not starting with '<'), [ErrLimit] when the actor
// is in the node's limit of groups already (256 by default).
func (c *Context) JoinGroup(group string) error {
	return codeError(c.in.now().joinGroup(c.id, group))
}

// LeaveGroup takes this actor out of a group: [ErrNotFound] if it was not
// in it.
func (c *Context) LeaveGroup(group string) error {
	return codeError(c.in.now().leaveGroup(c.id, group))
}

// GroupMembers lists a group's members on every node, as this node knows
// them (sorted; empty for a group nobody is in).
func (c *Context) GroupMembers(group string) ([]PID, error) {
	if cap(c.in.members) == 0 {
		c.in.members = make([]PID, 16)
	}
	dst := c.in.members[:cap(c.in.members)]
	for {
		n, code := c.in.now().groupMembers(group, dst)
		if err := codeError(code); err != nil {
			return nil, err
		}
		if n <= len(dst) {
			c.in.members = dst
			return append([]PID(nil), dst[:n]...), nil
		}
		dst = make([]PID, n+n/4) // the group grew; ask again with room to spare
	}
}

// SendGroup sends v, encoded as CBOR, to every member of a group, this
// actor included if it is one, and says how many members it was sent to
// and how many refused it at once (full mailbox, dead, node down). Each
// send is a [Context.Send]: at most once, in order per pair.
func (c *Context) SendGroup(group string, v any) (sent, refused int, err error) {
	b, err := c.in.encode(v)
	if err != nil {
		return 0, 0, err
	}
	return c.SendGroupRaw(group, b)
}

// SendGroupRaw is [Context.SendGroup] with data sent as is.
func (c *Context) SendGroupRaw(group string, data []byte) (sent, refused int, err error) {
	s, r, code := c.in.now().sendGroup(c.id, group, data)
	if err := codeError(code); err != nil {
		return 0, 0, err
	}
	return int(s), int(r), nil
}

// MonitorGroup watches a group's membership across the cluster, as
// Erlang's pg:monitor: HandleGroup runs for every member that joins or
// leaves after this call, in order. Read the members with
// [Context.GroupMembers] after monitoring: a change may then show in both,
// never in neither. [Context.Demonitor] cancels it; it also ends when this
// actor stops or is restarted.
//
// # Errors
//
// [ErrBadArgument] for an invalid group name, [ErrLimit] when the actor
// holds the node's limit of group monitors already (256 by default).
func (c *Context) MonitorGroup(group string) (Ref, error) {
	ref, code := c.in.now().monitorGroup(c.id, group)
	if err := codeError(code); err != nil {
		return 0, err
	}
	return Ref(ref), nil
}
