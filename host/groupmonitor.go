package host

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/registry"
)

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
	return ref, n.monitorGroupRef(a, group, ref)
}

// monitorGroupRef is monitorGroup under a ref given (see monitorNodeRef).
func (n *Node) monitorGroupRef(a *actor, group string, ref uint64) abi.Errno {
	n.gw.mu.Lock()
	defer n.gw.mu.Unlock()
	a.mu.Lock()
	x := a.extra()
	if len(x.groupMons) >= n.cfg.MaxGroupMonitors {
		a.mu.Unlock()
		n.refused(limGroupMonitors)
		return abi.Limit
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
	return abi.OK
}

// demonitorGroup cancels a guest's group monitor; false if ref is not one
// of a's. GROUP records already queued for it are not delivered.
func (n *Node) demonitorGroup(a *actor, ref uint64) bool {
	a.mu.Lock()
	var m *groupMonState
	if x := a.rels().ext; x != nil {
		m = x.groupMons[ref]
		delete(x.groupMons, ref)
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
	x := a.rels().ext
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
	x := a.rels().ext
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
