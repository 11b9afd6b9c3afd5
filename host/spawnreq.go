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
	"github.com/wasmactor/wasmactor/internal/engine"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

// Spawn requests: a guest's spawn_request, on this node or another,
// answered by a SPAWNED record. The guest's worker never waits: a local
// spawn runs on a goroutine of its own (it may pull and compile a module),
// a remote one is a KindSpawnRequest cast answered by a KindSpawned cast.
//
// The outcome always reaches the parent before anything the child's link
// or monitor says: locally, the SPAWNED record is queued before the link
// and monitor are made (and before the child's START); remotely, the
// child's node casts KindSpawned before the child's START (after making the
// link and monitor, see serveSpawnRequest), and casts between two nodes
// keep their order. A child whose parent no longer waits (it
// died or was restarted, or the request timed out) is abandoned: a linked
// one gets an exit signal, reason "abandoned", and a monitor is dropped.

// ReasonAbandoned is the exit reason a linked child gets when the actor
// that asked for it no longer waits for it.
const ReasonAbandoned = "abandoned"

// spawnRequests are the node's spawn requests in flight.
type spawnRequests struct {
	inFlight atomic.Int64 // guests' requests, and peers' being served

	mu     sync.Mutex
	remote map[uint64]*remoteSpawn // a guest's requests to other nodes, by Req
}

// remoteSpawn waits for a KindSpawned.
type remoteSpawn struct {
	parent *actor
	ref    uint64 // the guest's
	node   string
	inc    uint64
	link   bool
	monRef uint64
	timer  *time.Timer
	// early are the child's exit and down that came ahead of the outcome
	// (it died at once). At most one of each per request of the same
	// parent to the same node, so bounded by MaxPendingSpawns.
	early []earlyNote
}

// earlyNote is an exit signal (down false) or a Down from child serial.
type earlyNote struct {
	serial uint64
	reason string
	down   bool
}

// spawnTimeout bounds a spawn request: long enough to pull and compile a
// module on the target.
func (n *Node) spawnTimeout() time.Duration { return n.cfg.CompileTimeout + n.cfg.AskTimeout }

// takeSlot counts a spawn request against the node's limit.
func (n *Node) takeSlot() bool {
	if n.sr.inFlight.Add(1) > int64(n.cfg.MaxSpawnRequests) {
		n.sr.inFlight.Add(-1)
		return false
	}
	return true
}

func (n *Node) releaseSlot() { n.sr.inFlight.Add(-1) }

// goBackground runs f on a goroutine Close waits for; false once the node
// is closing.
func (n *Node) goBackground(f func()) bool {
	n.jobsMu.Lock()
	defer n.jobsMu.Unlock()
	if n.jobsClosed {
		return false
	}
	n.jobs.Go(f)
	return true
}

// stopBackground waits for every goroutine of goBackground; n.life is
// cancelled already, which ends their waits.
func (n *Node) stopBackground() {
	n.jobsMu.Lock()
	n.jobsClosed = true
	n.jobsMu.Unlock()
	n.jobs.Wait()
}

// spawnRequest starts a guest's spawn_request.
func (n *Node) spawnRequest(parent *actor, r engine.SpawnRequest) abi.Errno {
	local := r.Node == "" || r.Node == n.cfg.Name
	var peer NodeInfo
	if !local {
		var err error
		if peer, err = n.peer(r.Node); err != nil {
			return abi.ErrnoOf(err)
		}
	}
	// Resolved here too for a local spawn, so an unknown factory is the
	// import's error wherever the child was to go.
	factory, info, err := n.factories.Resolve(r.Factory)
	if err != nil {
		return abi.ErrnoOf(err)
	}
	parent.mu.Lock()
	x := parent.extra()
	if _, dup := x.spawns[r.Ref]; dup {
		parent.mu.Unlock()
		return abi.BadArgument // a ref still pending
	}
	if len(x.spawns) >= n.cfg.MaxPendingSpawns {
		parent.mu.Unlock()
		n.refused(limPendingSpawns)
		return abi.Limit
	}
	if !n.takeSlot() {
		parent.mu.Unlock()
		n.refused(limSpawnRequests)
		return abi.Limit
	}
	if x.spawns == nil {
		x.spawns = make(map[uint64]struct{})
	}
	x.spawns[r.Ref] = struct{}{}
	parent.mu.Unlock()
	undo := func(e abi.Errno) abi.Errno {
		n.takeSpawn(parent, r.Ref)
		n.releaseSlot()
		return e
	}
	var monRef uint64
	if r.Flags&abi.SpawnMonitor != 0 {
		if !n.roomToMonitor(parent) {
			return undo(abi.Limit)
		}
		monRef = n.refs.Add(1)
	}
	if local {
		if !n.goBackground(func() { n.spawnForGuest(parent, r, monRef) }) {
			return undo(abi.ErrnoOf(wasmactor.ErrClosed))
		}
		return abi.OK
	}
	req := n.refs.Add(1)
	rs := &remoteSpawn{parent: parent, ref: r.Ref, node: peer.Name, inc: peer.Incarnation, link: r.Flags&abi.SpawnLink != 0, monRef: monRef}
	n.sr.mu.Lock()
	n.sr.remote[req] = rs
	rs.timer = time.AfterFunc(n.spawnTimeout(), func() { n.remoteSpawnFailed(req, abi.Timeout) })
	n.sr.mu.Unlock()
	body := proto.SpawnRequest{Req: req, Parent: parent.serial, Link: rs.link, MonitorRef: monRef,
		Spawn: proto.Spawn{Factory: factory + "@" + info.Hash.String(), Args: r.Args, Isolated: r.Flags&abi.SpawnIsolated != 0,
			Restart: r.Restart, Module: &info, Holder: n.holderOf(info.Hash)}}
	if err := n.castTry(peer.Name, proto.KindSpawnRequest, body); err != nil {
		n.remoteSpawnFailed(req, abi.ErrnoOf(err))
		return abi.OK // the outcome is the SPAWNED record: the import itself succeeded
	}
	// A node-down handled between the check above and the registration
	// missed this request.
	if _, e := n.peerByInc(peer.Incarnation); e != abi.OK {
		n.remoteSpawnFailed(req, abi.NodeDown)
	}
	return abi.OK
}

// takeSpawn reports whether parent still waits for the outcome of its
// request ref (it has not died or been restarted since), and forgets it.
func (n *Node) takeSpawn(parent *actor, ref uint64) bool {
	parent.mu.Lock()
	defer parent.mu.Unlock()
	x := parent.rels().ext
	if x == nil {
		return false
	}
	_, ok := x.spawns[ref]
	delete(x.spawns, ref)
	return ok
}

// spawned queues the SPAWNED record of ref for parent: the child and its
// monitor's ref (0 without one), or e.
func (n *Node) spawned(parent *actor, ref uint64, child abi.PID, monRef uint64, e abi.Errno) {
	d := delivery{kind: abi.KindSpawned, status: e.Guest(), ref: ref}
	if e == abi.OK {
		d.from = child
		if monRef != 0 {
			d.payload = binary.LittleEndian.AppendUint64(nil, monRef)
		}
	}
	n.deliverSystem(parent, d)
}

var errAbandoned = errors.New("wasmactor: the parent no longer waits for the spawn")

// spawnForGuest runs a local spawn request on its own goroutine.
func (n *Node) spawnForGuest(parent *actor, r engine.SpawnRequest, monRef uint64) {
	defer n.releaseSlot()
	ctx, cancel := context.WithTimeout(n.life, n.spawnTimeout())
	defer cancel()
	spec := spawnSpec{factory: r.Factory, args: r.Args, isolated: r.Flags&abi.SpawnIsolated != 0, restart: r.Restart, parent: n.abiPID(parent),
		spawner: parent}
	spec.prepare = func(a *actor) error {
		if !n.takeSpawn(parent, r.Ref) {
			return errAbandoned // dropped before it starts
		}
		if r.Flags&abi.SpawnLink != 0 {
			if err := n.link(parent, a); err != nil {
				return err // the parent died meanwhile
			}
		}
		if monRef != 0 {
			n.watchAs(a, watcher{actor: parent}, monRef)
		}
		return nil
	}
	// After START: the parent cannot reach the child ahead of it. A child
	// that dies at once may have its DOWN or EXIT queued for the parent
	// just ahead of this SPAWNED; both come, with the real reason.
	spec.announce = func(a *actor) { n.spawned(parent, r.Ref, n.abiPID(a), monRef, abi.OK) }
	if _, err := n.spawnLocal(ctx, spec); err != nil && !errors.Is(err, errAbandoned) {
		n.log.Debug("guest spawn request failed", "parent", n.pidOf(parent).String(), "factory", r.Factory, "err", err)
		if n.takeSpawn(parent, r.Ref) {
			n.spawned(parent, r.Ref, abi.PID{}, 0, abi.ErrnoOf(err))
		}
	}
}

// serveSpawnRequest is a peer's KindSpawnRequest: spawn, then cast the
// outcome back before the child can be linked, monitored or started.
func (n *Node) serveSpawnRequest(from transport.NodeInfo, r proto.SpawnRequest) {
	answer := func(s proto.Spawned) {
		s.Req, s.Parent, s.MonitorRef = r.Req, r.Parent, r.MonitorRef
		n.castMust(from.Name, proto.KindSpawned, s) // ordered with the child's exit and down, which are castMust too
	}
	refuse := func(err error) { answer(proto.Spawned{Code: uint16(abi.CodeOf(err)), Message: err.Error()}) }
	if !n.takeSlot() {
		n.refused(limSpawnRequests)
		refuse(fmt.Errorf("%w: %d spawn requests in flight on node %s", wasmactor.ErrLimit, n.cfg.MaxSpawnRequests, n.cfg.Name))
		return
	}
	ok := n.goBackground(func() {
		defer n.releaseSlot()
		s := r.Spawn
		parent := PID{Node: from.Name, Incarnation: from.Incarnation, Serial: r.Parent}
		ctx, cancel := context.WithTimeout(n.life, n.spawnTimeout())
		defer cancel()
		// As KindSpawn: the module and holder are hints for the pull; the
		// factory list is derived from the module here.
		if s.Module != nil && !n.factories.Checked(s.Module.Hash) {
			if err := s.Module.Validate(); err != nil {
				refuse(err)
				return
			}
			if _, err := n.module(ctx, *s.Module, s.Holder); err != nil {
				refuse(err)
				return
			}
		}
		spec := spawnSpec{factory: s.Factory, args: s.Args, isolated: s.Isolated, restart: s.Restart, holder: s.Holder,
			parent: abi.PID{Incarnation: from.Incarnation, Serial: r.Parent}}
		// Link and monitor before START, so they see the whole life; the
		// outcome after START, so the requester cannot reach the child
		// ahead of it. A child that dies at once may have its exit or down
		// cast ahead of the outcome: the requester keeps them for the
		// request (stashEarly) and applies them after it.
		spec.prepare = func(a *actor) error {
			if r.Link {
				n.addRemoteLink(a, parent)
			}
			if r.MonitorRef != 0 {
				a.mu.Lock()
				a.addWatcher(n.refs.Add(1), watcher{node: from.Name, nodeInc: from.Incarnation, remoteRef: r.MonitorRef})
				a.mu.Unlock()
			}
			return nil
		}
		spec.announce = func(a *actor) { answer(proto.Spawned{PID: n.pidOf(a)}) }
		if _, err := n.spawnLocal(ctx, spec); err != nil {
			refuse(err)
		}
	})
	if !ok {
		n.releaseSlot()
		refuse(fmt.Errorf("%w: node %s", wasmactor.ErrClosed, n.cfg.Name))
	}
}

// handleSpawned is a peer's KindSpawned: the outcome of one of our
// guests' requests.
func (n *Node) handleSpawned(from transport.NodeInfo, s proto.Spawned) {
	n.sr.mu.Lock()
	rs := n.sr.remote[s.Req]
	if rs != nil && rs.node == from.Name && rs.inc == from.Incarnation {
		delete(n.sr.remote, s.Req)
		rs.timer.Stop()
	} else {
		rs = nil
	}
	n.sr.mu.Unlock()
	child := s.PID
	if s.Code == 0 && (child.Node != from.Name || child.Incarnation != from.Incarnation || child.Serial == 0) {
		n.log.Warn("spawn outcome for another node's actor ignored", "peer", from.Name, "pid", child.String())
		return
	}
	if rs == nil {
		if s.Code == 0 {
			n.abandon(from, s)
		}
		return
	}
	defer n.releaseSlot()
	parent := rs.parent
	if s.Code != 0 {
		if n.takeSpawn(parent, rs.ref) {
			n.spawned(parent, rs.ref, abi.PID{}, 0, abi.Errno(s.Code))
		}
		return
	}
	if !n.takeSpawn(parent, rs.ref) {
		n.abandon(from, s)
		return
	}
	// Queued first, so the parent hears of its child before any exit or
	// down: those are casts from the same node, handled after this one.
	n.spawned(parent, rs.ref, abi.PID{Incarnation: child.Incarnation, Serial: child.Serial}, rs.monRef, abi.OK)
	if rs.link && !n.addRemoteLink(parent, child) {
		n.abandon(from, s) // the parent died meanwhile
		return
	}
	if rs.monRef != 0 {
		n.cl.mu.Lock()
		n.cl.rwatch[rs.monRef] = remoteWatch{node: from.Name, target: child, w: watcher{actor: parent}}
		n.cl.mu.Unlock()
		parent.mu.Lock()
		alive := parent.alive()
		if alive {
			parent.addWatching(rs.monRef, nil) // remote: see cl.rwatch
		}
		parent.mu.Unlock()
		if !alive {
			n.unwatchRemote(rs.monRef)
		}
	}
	for _, e := range rs.early {
		switch {
		case e.serial != child.Serial:
		case !e.down:
			n.exitSignal(parent, child, e.reason)
		default:
			n.cl.mu.Lock()
			_, ok := n.cl.rwatch[rs.monRef]
			delete(n.cl.rwatch, rs.monRef)
			n.cl.mu.Unlock()
			if ok {
				n.notifyDown(watcher{actor: parent}, rs.monRef, child, e.reason)
			}
		}
	}
}

// stashEarlyDown keeps a Down that came ahead of the outcome of the spawn
// request it monitors; false if no request waits for it.
func (n *Node) stashEarlyDown(from transport.NodeInfo, d proto.Down) bool {
	n.sr.mu.Lock()
	defer n.sr.mu.Unlock()
	for _, rs := range n.sr.remote {
		if rs.monRef == d.Ref && rs.node == from.Name && rs.inc == from.Incarnation {
			rs.early = append(rs.early, earlyNote{serial: d.Target, reason: d.Reason, down: true})
			return true
		}
	}
	return false
}

// stashEarlyExit keeps an exit signal to parent, which is not linked to
// its sender, for the linked spawn requests of parent on the sender's node:
// the sender may be a child whose outcome has not come yet. False if there
// are none.
func (n *Node) stashEarlyExit(from transport.NodeInfo, parent *actor, x proto.Exit) bool {
	n.sr.mu.Lock()
	defer n.sr.mu.Unlock()
	found := false
	for _, rs := range n.sr.remote {
		if rs.parent == parent && rs.link && rs.node == from.Name && rs.inc == from.Incarnation {
			rs.early = append(rs.early, earlyNote{serial: x.From, reason: x.Reason})
			found = true
		}
	}
	return found
}

// abandon lets go of a child nobody waits for: a linked one gets an exit
// signal (its node ignores it for a child that is not linked), a
// monitored one loses its monitor.
func (n *Node) abandon(from transport.NodeInfo, s proto.Spawned) {
	n.castMust(from.Name, proto.KindExit, proto.Exit{From: s.Parent, To: s.PID.Serial, Reason: ReasonAbandoned, ToIncarnation: from.Incarnation})
	if s.MonitorRef != 0 {
		n.castMust(from.Name, proto.KindDemonitor, proto.Watch{Target: s.PID.Serial, Ref: s.MonitorRef, ToIncarnation: from.Incarnation})
	}
}

// remoteSpawnFailed ends a remote request without an answer (timeout,
// node down, cast refused).
func (n *Node) remoteSpawnFailed(req uint64, e abi.Errno) {
	n.sr.mu.Lock()
	rs := n.sr.remote[req]
	delete(n.sr.remote, req)
	n.sr.mu.Unlock()
	if rs == nil {
		return
	}
	rs.timer.Stop()
	n.releaseSlot()
	if n.takeSpawn(rs.parent, rs.ref) {
		n.spawned(rs.parent, rs.ref, abi.PID{}, 0, e)
	}
}

// spawnsToNode lists the remote requests waiting on one run of a node.
func (n *Node) spawnsToNode(peer NodeInfo) []uint64 {
	n.sr.mu.Lock()
	defer n.sr.mu.Unlock()
	var out []uint64
	for req, rs := range n.sr.remote {
		if rs.node == peer.Name && rs.inc == peer.Incarnation {
			out = append(out, req)
		}
	}
	return out
}
