package host

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

// NodeEvent is a peer of this node that came up or went down, as
// [Node.Events] delivers it.
type NodeEvent struct {
	// Seq numbers this node's events from 1, without gaps: a subscriber
	// that sees a gap missed events (see [NodeEvents.Dropped]).
	Seq uint64
	// Node is the peer; its Incarnation says which run of it.
	Node NodeInfo
	// Up is true when the peer came up, false when it went down.
	Up bool
	// Reason says why. Up: "joined" (a node never seen before),
	// "restarted" (a new run of a node seen before), "reconnected" (the
	// same run, after a lost connection). Down: "left" (it closed
	// cleanly), "timeout" (nothing heard within the idle timeout),
	// "restarted" (a new run replaced it), "noconnection" (the connection
	// was lost otherwise).
	Reason string
	At     time.Time
}

// Reasons of node events.
const (
	ReasonJoined      = "joined"
	ReasonRestarted   = "restarted"
	ReasonReconnected = "reconnected"
	ReasonLeft        = "left"
	ReasonTimeout     = "timeout"
)

// DefaultEventsBuffer is the buffer of a [NodeEvents] subscription whose
// caller names none.
const DefaultEventsBuffer = 64

// eventRing is how many node events a node keeps for long polls
// (KindNodeEvents: `wasmactor nodes --watch`).
const eventRing = 256

// NodeEvents is a subscription to a node's peer events. Cancel it when
// done; a subscription is cheap but holds its buffer.
type NodeEvents struct {
	// C receives the events in order. It is closed by Cancel and by
	// Node.Close.
	C <-chan NodeEvent

	ch      chan NodeEvent
	dropped atomic.Uint64
	ev      *nodeEvents
}

// Dropped counts the events this subscription lost because its buffer was
// full: the node never waits for a subscriber. A gap in Seq shows where.
func (s *NodeEvents) Dropped() uint64 { return s.dropped.Load() }

// Cancel ends the subscription and closes C. Safe to call more than once.
func (s *NodeEvents) Cancel() {
	s.ev.mu.Lock()
	defer s.ev.mu.Unlock()
	if _, ok := s.ev.subs[s]; ok {
		delete(s.ev.subs, s)
		close(s.ch)
	}
}

// Events subscribes to this node's view of its peers: an event each time
// one comes up or goes down, with the reason. buffer is the channel's
// capacity (0 means [DefaultEventsBuffer]).
//
// # Notes
//
// The node never blocks on a subscriber: when C is full, the event is
// dropped and counted in [NodeEvents.Dropped], and the next event
// delivered has a Seq that shows the gap. A subscriber that must not miss
// the latest state reads [Node.Members] after a gap.
func (n *Node) Events(buffer int) *NodeEvents {
	if buffer <= 0 {
		buffer = DefaultEventsBuffer
	}
	ch := make(chan NodeEvent, buffer)
	s := &NodeEvents{C: ch, ch: ch, ev: &n.ev}
	n.ev.mu.Lock()
	defer n.ev.mu.Unlock()
	if n.ev.closed {
		close(ch)
		return s
	}
	n.ev.subs[s] = struct{}{}
	return s
}

// nodeEvents holds the node's peer events and everything waiting for
// them: Go subscriptions, long polls and guests' node monitors.
type nodeEvents struct {
	mu      sync.Mutex // above cluster.mu and actor.mu (see doc.go)
	seq     uint64
	ring    []NodeEvent // the last eventRing events, oldest first
	changed chan struct{}
	subs    map[*NodeEvents]struct{}
	closed  bool
	// mons are guests' node monitors: node name → ref → monitor.
	mons map[string]map[uint64]nodeMon
}

// nodeMon is one actor's monitor of one run of a node (inc 0: the node
// was not connected, and the monitor has fired already).
type nodeMon struct {
	a   *actor
	inc uint64
}

func (e *nodeEvents) init() {
	e.changed = make(chan struct{})
	e.subs = make(map[*NodeEvents]struct{})
	e.mons = make(map[string]map[uint64]nodeMon)
}

// record adds an event, hands it to every subscriber and wakes long polls.
// The caller holds e.mu.
func (e *nodeEvents) record(ev NodeEvent) {
	e.seq++
	ev.Seq = e.seq
	if len(e.ring) == eventRing {
		copy(e.ring, e.ring[1:])
		e.ring = e.ring[:eventRing-1]
	}
	e.ring = append(e.ring, ev)
	for s := range e.subs {
		select {
		case s.ch <- ev:
		default:
			s.dropped.Add(1)
		}
	}
	close(e.changed)
	e.changed = make(chan struct{})
}

// close ends every subscription (Node.Close).
func (e *nodeEvents) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	for s := range e.subs {
		close(s.ch)
	}
	clear(e.subs)
	close(e.changed)
	e.changed = make(chan struct{})
}

// since returns the events after cursor after, waiting up to wait for one
// if there is none; missed counts those no longer held.
func (e *nodeEvents) since(ctx context.Context, life context.Context, after uint64, wait time.Duration) (evs []NodeEvent, next, missed uint64) {
	var timer *time.Timer
	for {
		e.mu.Lock()
		if after > e.seq {
			after = e.seq // a cursor from the future (another run): from now
		}
		if first := e.seq - uint64(len(e.ring)) + 1; after+1 < first {
			missed = first - after - 1
			after = first - 1
		}
		evs = append(evs[:0], e.ring[len(e.ring)-int(e.seq-after):]...)
		next, changed, closed := e.seq, e.changed, e.closed
		e.mu.Unlock()
		if len(evs) > 0 || wait <= 0 || closed || missed > 0 {
			return evs, next, missed
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-changed:
		case <-timer.C:
			return nil, next, 0
		case <-ctx.Done():
			return nil, next, 0
		case <-life.Done():
			return nil, next, 0
		}
	}
}

// downReason is the word a node event gives for a transport's reason.
func downReason(err error) string {
	switch {
	case errors.Is(err, transport.ErrPeerLeft):
		return ReasonLeft
	case errors.Is(err, transport.ErrPeerTimeout):
		return ReasonTimeout
	case errors.Is(err, transport.ErrPeerRestarted):
		return ReasonRestarted
	}
	return wasmactor.ReasonNoConnection
}

// nodeUp records a peer's arrival; how is one of the up reasons.
func (n *Node) nodeUp(peer NodeInfo, how string) {
	n.ev.mu.Lock()
	defer n.ev.mu.Unlock()
	n.ev.record(NodeEvent{Node: peer, Up: true, Reason: how, At: time.Now()})
}

// nodeDown records a peer's departure and fires the node monitors of that
// run of it. The caller has already removed it from the cluster's peers,
// so a monitor that comes later fires at once (see monitorNode).
func (n *Node) nodeDown(peer NodeInfo, reason error) {
	why := downReason(reason)
	n.ev.mu.Lock()
	n.ev.record(NodeEvent{Node: peer, Reason: why, At: time.Now()})
	var fired []struct {
		ref uint64
		a   *actor
	}
	for ref, m := range n.ev.mons[peer.Name] {
		if m.inc == peer.Incarnation {
			fired = append(fired, struct {
				ref uint64
				a   *actor
			}{ref, m.a})
			delete(n.ev.mons[peer.Name], ref)
		}
	}
	if len(n.ev.mons[peer.Name]) == 0 {
		delete(n.ev.mons, peer.Name)
	}
	n.ev.mu.Unlock()
	for _, f := range fired {
		n.notifyNodeDown(f.a, f.ref, peer.Name, peer.Incarnation, why)
	}
}

// monitorNode starts a's monitor of node (see the monitor_node import):
// a NODEDOWN when the run of node connected now goes down, or at once
// with "noconnection" if it is not connected.
func (n *Node) monitorNode(a *actor, node string) (uint64, abi.Errno) {
	ref := n.refs.Add(1)
	return ref, n.monitorNodeRef(a, node, ref)
}

// monitorNodeRef is monitorNode under a ref given: one the actor's guest
// got at the node the actor came from by migration (refs start at random
// on every node, so they do not meet this node's).
func (n *Node) monitorNodeRef(a *actor, node string, ref uint64) abi.Errno {
	n.ev.mu.Lock()
	n.cl.mu.RLock()
	info, up := n.cl.peers[node]
	n.cl.mu.RUnlock()
	a.mu.Lock()
	x := a.extra()
	if len(x.nodeMons) >= n.cfg.MaxNodeMonitors {
		a.mu.Unlock()
		n.ev.mu.Unlock()
		n.refused(limNodeMonitors)
		return abi.Limit
	}
	if x.nodeMons == nil {
		x.nodeMons = make(map[uint64]string)
	}
	x.nodeMons[ref] = node
	a.mu.Unlock()
	if up {
		ms := n.ev.mons[node]
		if ms == nil {
			ms = make(map[uint64]nodeMon)
			n.ev.mons[node] = ms
		}
		ms[ref] = nodeMon{a: a, inc: info.Incarnation}
	}
	n.ev.mu.Unlock()
	if !up {
		n.notifyNodeDown(a, ref, node, 0, wasmactor.ReasonNoConnection)
	}
	if !a.alive() {
		// Exiting meanwhile (killed from another goroutine): its exit may
		// have released its monitors before this one was there.
		n.demonitorNode(a, ref)
	}
	return abi.OK
}

// notifyNodeDown queues a NODEDOWN record for a, if its monitor is still
// there when the record is delivered (see takeNodeDown).
func (n *Node) notifyNodeDown(a *actor, ref uint64, node string, inc uint64, reason string) {
	p := make([]byte, 2, 2+len(node)+len(reason))
	binary.LittleEndian.PutUint16(p, uint16(len(node)))
	p = append(append(p, node...), reason...)
	n.deliverSystem(a, delivery{kind: abi.KindNodeDown, from: abi.PID{Incarnation: inc}, ref: ref, payload: p})
}

// takeNodeDown reports whether the NODEDOWN of ref is still wanted (not
// demonitored since it was queued), and forgets the monitor.
func (a *actor) takeNodeDown(ref uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.rels().ext
	if x == nil {
		return false
	}
	_, ok := x.nodeMons[ref]
	delete(x.nodeMons, ref)
	return ok
}

// demonitorNode cancels a node monitor; false if ref is not one of a's.
func (n *Node) demonitorNode(a *actor, ref uint64) bool {
	a.mu.Lock()
	node, ok := "", false
	if x := a.rels().ext; x != nil {
		node, ok = x.nodeMons[ref]
		delete(x.nodeMons, ref)
	}
	a.mu.Unlock()
	if ok {
		n.ev.mu.Lock()
		delete(n.ev.mons[node], ref)
		if len(n.ev.mons[node]) == 0 {
			delete(n.ev.mons, node)
		}
		n.ev.mu.Unlock()
	}
	return ok
}

// serveNodeEvents answers a long poll (KindNodeEvents).
func (n *Node) serveNodeEvents(ctx context.Context, r proto.NodeEventsRequest) ([]byte, error) {
	if r.WaitMs < 0 || r.WaitMs > proto.MaxNodeEventsWait {
		return nil, fmt.Errorf("%w: node events wait %dms: 0 to %dms", wasmactor.ErrBadArgument, r.WaitMs, proto.MaxNodeEventsWait)
	}
	evs, next, missed := n.ev.since(ctx, n.life, r.After, time.Duration(r.WaitMs)*time.Millisecond)
	rep := proto.NodeEventsReply{Events: make([]proto.NodeEvent, 0, len(evs)), Next: next, Missed: missed}
	for _, e := range evs {
		rep.Events = append(rep.Events, proto.NodeEvent{Seq: e.Seq, Node: e.Node.Name, Incarnation: e.Node.Incarnation,
			Addr: e.Node.Addr, Up: e.Up, Reason: e.Reason, UnixMs: e.At.UnixMilli()})
	}
	return proto.Marshal(rep), nil
}
