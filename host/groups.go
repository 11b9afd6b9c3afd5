package host

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
)

// Process groups, in the manner of Erlang's pg: a group is a set of PIDs
// on any nodes. Every node holds the whole table (registry.Groups); each
// node changes only its own actors' memberships and tells the others
// (KindJoin, KindLeave, and its share in KindSync). So a join of a remote
// actor is forwarded to the actor's node (KindGroupChange).
//
// Every change goes through changeGroup, removeFromGroups or
// removeNodeFromGroups, which hold groupWatch.mu across the change and
// its notifications: a monitor registered under the same lock sees each
// change exactly once, in order, after the members it started with.

// groupWatch is the node's group monitors.
type groupWatch struct {
	mu   sync.Mutex // above actor.mu (see doc.go)
	mons map[string]map[uint64]groupMon
}

// groupMon is a guest's monitor (a) or a Go one (sub).
type groupMon struct {
	a   *actor
	sub *GroupMonitor
}

func (g *groupWatch) init() { g.mons = make(map[string]map[uint64]groupMon) }

// GroupEvent is a change of a group a [GroupMonitor] watches.
type GroupEvent struct {
	Group string
	PID   PID
	// Joined is true when PID joined, false when it left (it left the
	// group, died, or its node went down).
	Joined bool
}

// GroupMonitor watches one group's membership from Go.
type GroupMonitor struct {
	// Members are the group's members when the monitor started, sorted.
	Members []PID
	// C receives every change after Members, in order. It is closed by
	// Cancel.
	C <-chan GroupEvent

	ch      chan GroupEvent
	dropped atomic.Uint64
	cancel  func()
}

// Dropped counts the changes lost because C was full: the node never
// waits for a monitor. After a drop, [Node.GroupMembers] tells the state.
func (m *GroupMonitor) Dropped() uint64 { return m.dropped.Load() }

// Cancel stops the monitor and closes C. Safe to call more than once.
func (m *GroupMonitor) Cancel() { m.cancel() }

// MonitorGroup watches a group's membership across the cluster, as this
// node sees it. buffer is C's capacity (0 means [DefaultEventsBuffer]).
//
// # Errors
//
// [wasmactor.ErrBadArgument] for an invalid group name.
func (n *Node) MonitorGroup(ctx context.Context, group string, buffer int) (*GroupMonitor, error) {
	if err := registry.ValidateName(group); err != nil {
		return nil, err
	}
	if buffer <= 0 {
		buffer = DefaultEventsBuffer
	}
	ch := make(chan GroupEvent, buffer)
	m := &GroupMonitor{C: ch, ch: ch}
	ref := n.refs.Add(1)
	n.gw.mu.Lock()
	m.Members = n.groups.Members(group)
	n.addGroupMon(group, ref, groupMon{sub: m})
	n.gw.mu.Unlock()
	var once sync.Once
	m.cancel = func() {
		once.Do(func() {
			n.gw.mu.Lock()
			n.dropGroupMon(group, ref)
			close(ch)
			n.gw.mu.Unlock()
		})
	}
	return m, nil
}

// addGroupMon registers a monitor; the caller holds gw.mu.
func (n *Node) addGroupMon(group string, ref uint64, m groupMon) {
	ms := n.gw.mons[group]
	if ms == nil {
		ms = make(map[uint64]groupMon)
		n.gw.mons[group] = ms
	}
	ms[ref] = m
}

// dropGroupMon forgets a monitor; the caller holds gw.mu.
func (n *Node) dropGroupMon(group string, ref uint64) {
	delete(n.gw.mons[group], ref)
	if len(n.gw.mons[group]) == 0 {
		delete(n.gw.mons, group)
	}
}

// monitorGroup starts a guest's group monitor (the monitor_group import).
func (n *Node) monitorGroup(a *actor, group string) (uint64, abi.Errno) {
	if registry.ValidateName(group) != nil {
		return 0, abi.BadArgument
	}
	ref := n.refs.Add(1)
	n.gw.mu.Lock()
	defer n.gw.mu.Unlock()
	a.mu.Lock()
	x := a.extra()
	if len(x.groupMons) >= n.cfg.MaxGroupMonitors {
		a.mu.Unlock()
		return 0, abi.Limit
	}
	if x.groupMons == nil {
		x.groupMons = make(map[uint64]*groupMonState)
	}
	x.groupMons[ref] = &groupMonState{group: group, epoch: 1}
	a.mu.Unlock()
	n.addGroupMon(group, ref, groupMon{a: a})
	if !a.alive() {
		// Exiting meanwhile (killed from another goroutine): its exit may
		// have released its monitors before this one was there.
		n.dropGroupMon(group, ref)
	}
	return ref, abi.OK
}

// demonitorGroup cancels a guest's group monitor; false if ref is not one
// of a's. GROUP records already queued for it are not delivered.
func (n *Node) demonitorGroup(a *actor, ref uint64) bool {
	a.mu.Lock()
	var m *groupMonState
	if a.ext != nil {
		m = a.ext.groupMons[ref]
		delete(a.ext.groupMons, ref)
	}
	a.mu.Unlock()
	if m != nil {
		n.gw.mu.Lock()
		n.dropGroupMon(m.group, ref)
		n.gw.mu.Unlock()
	}
	return m != nil
}

// groupChanged tells the group's monitors; the caller holds gw.mu.
func (n *Node) groupChanged(group string, pid PID, joined bool) {
	for ref, m := range n.gw.mons[group] {
		if m.sub != nil {
			select {
			case m.sub.ch <- GroupEvent{Group: group, PID: pid, Joined: joined}:
			default:
				m.sub.dropped.Add(1)
			}
			continue
		}
		ev := abi.GroupLeft
		if joined {
			ev = abi.GroupJoined
		}
		n.queueGroupRecord(m.a, ref, abi.PID{Incarnation: pid.Incarnation, Serial: pid.Serial}, ev)
	}
}

// queueGroupRecord queues a GROUP record for a guest's monitor. An actor
// with a mailbox's worth of GROUP records queued already is behind: the
// change is dropped, the records queued for this monitor are voided (a new
// epoch), and one overflow record goes in their place, so the guest reads
// the members afresh and applies only changes that came after. Replaying
// joins and leaves over a fresher snapshot ends in the right set, so the
// records queued after the overflow record may stay.
func (n *Node) queueGroupRecord(a *actor, ref uint64, from abi.PID, ev abi.GroupEvent) {
	a.mu.Lock()
	x := a.ext
	var m *groupMonState
	if x != nil {
		m = x.groupMons[ref]
	}
	if m == nil {
		a.mu.Unlock()
		return
	}
	d := delivery{kind: abi.KindGroup, from: from, ref: ref, epoch: m.epoch, payload: groupPayload(ev, m.group)}
	if x.groupQueued >= n.cfg.MailboxSize {
		n.stats.groupDropped.Add(1)
		m.epoch++
		if m.marker {
			a.mu.Unlock()
			return
		}
		m.marker = true
		d = delivery{kind: abi.KindGroup, ref: ref, payload: groupPayload(abi.GroupOverflow, m.group)}
	}
	x.groupQueued++
	a.mu.Unlock()
	n.deliverSystem(a, d)
}

func groupPayload(ev abi.GroupEvent, group string) []byte {
	return append([]byte{byte(ev)}, group...)
}

// takeGroup settles a GROUP record taken from the mailbox: whether it is
// still wanted (its monitor stands, and it is of the monitor's epoch or
// its overflow record).
func (a *actor) takeGroup(ref uint64, epoch uint32) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.ext
	if x == nil {
		return false
	}
	if x.groupQueued > 0 {
		x.groupQueued--
	}
	m := x.groupMons[ref]
	switch {
	case m == nil:
		return false
	case epoch == 0:
		m.marker = false
		return true
	}
	return epoch == m.epoch
}

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
