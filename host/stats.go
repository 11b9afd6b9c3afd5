package host

import (
	"runtime"
	"sort"
	"sync/atomic"

	"github.com/wasmactor/wasmactor/internal/proto"
)

// ActorInfo describes one running actor, as `wasmactor ps` prints it.
type ActorInfo struct {
	PID      PID      `json:"pid"`
	Factory  string   `json:"factory"`
	Module   string   `json:"module"`
	Instance uint64   `json:"instance"`
	Names    []string `json:"names,omitempty"`
	// Mailbox is the number of user messages queued for the actor.
	Mailbox int `json:"mailbox"`
	// Restarts is how often its supervision has restarted it.
	Restarts uint32 `json:"restarts"`
	// Refused counts the actor's tells that another node refused (full
	// mailbox, no such actor, stale incarnation) after they left this node.
	// Tells refused on this node fail at the send instead.
	Refused uint64 `json:"refused"`
}

// Actors lists the live actors of this node, by serial.
func (n *Node) Actors() []ActorInfo {
	all := n.actors.all()
	out := make([]ActorInfo, 0, len(all))
	for _, a := range all {
		if a.dead() {
			continue
		}
		pid := n.pidOf(a)
		info := ActorInfo{PID: pid, Factory: a.factory, Names: n.names.Of(pid), Mailbox: a.quota.Outstanding(), Restarts: a.restartCount(), Refused: a.refusedCount()}
		if a.goa == nil {
			info.Module, info.Instance = a.mod.Load().info.Hash.String(), a.inst.Load().id
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID.Serial < out[j].PID.Serial })
	return out
}

// stats are the node's counters, read by Stats.
type stats struct {
	delivered     atomic.Uint64
	mailboxFull   atomic.Uint64
	remoteRefused atomic.Uint64
	refusalsLost  atomic.Uint64
	restarts      atomic.Uint64
	crashes       atomic.Uint64
	spawned       atomic.Uint64
	// groupDropped counts group changes that found a guest's monitor a
	// mailbox's worth behind (see queueGroupRecord).
	groupDropped atomic.Uint64
}

// Stats is a snapshot of a node's counters.
type Stats struct {
	Actors      int    `json:"actors"`
	Instances   int    `json:"instances"`
	Spawned     uint64 `json:"spawned"`
	Delivered   uint64 `json:"delivered"`
	MailboxFull uint64 `json:"mailbox_full"`
	// RemoteRefused counts the tells sent from this node (by its actors or
	// its Go API) that the receiving node refused: full mailbox, no such
	// actor, stale incarnation. Each is also counted against its sending
	// actor (ActorInfo.Refused) if that still runs.
	RemoteRefused uint64 `json:"remote_refused"`
	// RefusalsLost counts refusals of tells from other nodes that this
	// node could not send back: the sending node went down (a full queue
	// back delays them in the control backlog instead). Those tells are
	// still counted in MailboxFull, when full.
	RefusalsLost    uint64 `json:"refusals_lost"`
	Restarts        uint64 `json:"restarts"`
	InstanceCrashes uint64 `json:"instance_crashes"`
	// GroupChangesDropped counts group changes that found a guest's group
	// monitor a mailbox's worth behind: they, and the changes queued for
	// it before, were replaced by one overflow record.
	GroupChangesDropped uint64 `json:"group_changes_dropped"`
	// GuestMemory is the linear memory of all live instances, in bytes.
	GuestMemory uint64 `json:"guest_memory"`
	// PendingAsks is the asks made by guests still waiting for a reply.
	PendingAsks int `json:"pending_asks"`
	// Timers is the armed SendAfter timers of guests.
	Timers int `json:"timers"`
	// TimerBytes is the payload bytes those timers hold.
	TimerBytes int64 `json:"timer_bytes"`
	// GuestMemoryReserved is what live instances reserve of
	// Limits.GuestMemory: each its cap.
	GuestMemoryReserved int64 `json:"guest_memory_reserved"`
	// LimitRefusals counts the requests refused by a limit, by limit (the
	// label of wasmactor_limit_refusals_total; see [Limits]). Limits
	// never reached are absent.
	LimitRefusals map[string]uint64 `json:"limit_refusals,omitempty"`
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	s := Stats{
		Actors:          n.actors.len(),
		Spawned:         n.stats.spawned.Load(),
		Delivered:       n.stats.delivered.Load(),
		MailboxFull:     n.stats.mailboxFull.Load(),
		RemoteRefused:   n.stats.remoteRefused.Load(),
		RefusalsLost:    n.stats.refusalsLost.Load(),
		Restarts:        n.stats.restarts.Load(),
		InstanceCrashes: n.stats.crashes.Load(),
		PendingAsks:     n.asks.len(),
		Timers:          n.timers.len(),
		TimerBytes:      n.timers.size(),

		GuestMemoryReserved: n.use.guestMemory.Load(),
		LimitRefusals:       n.refusals(),
		GroupChangesDropped: n.stats.groupDropped.Load(),
	}
	for _, in := range n.instances() {
		s.Instances++
		s.GuestMemory += uint64(in.inst.MemoryPages()) * 65536
	}
	return s
}

func (n *Node) status() proto.NodeStatus {
	st := n.Stats()
	addr := ""
	if n.cl.tr != nil {
		addr = n.cl.tr.Self().Addr
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	perModule := map[string]int{}
	for _, a := range n.actors.all() {
		if a.alive() && a.goa == nil {
			perModule[a.mod.Load().info.Hash.Short()]++
		}
	}
	calls := n.metrics.callSummary()
	return proto.NodeStatus{Name: n.cfg.Name, Incarnation: n.incarnation, Addr: addr, Actors: st.Actors,
		Instances: st.Instances, Modules: len(n.store.List()), Up: true, Pulls: n.Pulls(),
		Goroutines: runtime.NumGoroutine(), HeapBytes: ms.HeapAlloc, Members: len(n.Members()),
		Delivered: st.Delivered, MailboxFull: st.MailboxFull, Crashes: st.InstanceCrashes, Restarts: st.Restarts,
		GuestMemory: st.GuestMemory, CallCount: calls.count, CallSeconds: calls.sum,
		RecentCrashes: n.crashLog.recent(), ModuleActors: perModule, Draining: n.cl.draining.Load()}
}

// instances lists the node's live instances. It copies under the locks and
// reads nothing of an instance while holding them.
func (n *Node) instances() []*instance {
	n.modMu.Lock()
	mods := make([]*module, 0, len(n.modules))
	for _, m := range n.modules {
		mods = append(mods, m)
	}
	n.modMu.Unlock()
	var out []*instance
	for _, m := range mods {
		m.mu.Lock()
		out = append(out, m.pool...)
		for in := range m.isolated {
			out = append(out, in)
		}
		m.mu.Unlock()
	}
	return out
}
