package host

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/scheduler"
)

// Limits bound what the actors of a node can make it hold (Config.Limits).
// A request over a limit fails with [wasmactor.ErrLimit] (the LIMIT code
// for a guest), nothing is done, and the node and every other actor carry
// on; each refusal is counted in Stats.LimitRefusals and the metric
// wasmactor_limit_refusals_total{limit}, labelled with the field's name in
// snake case (the refusals of Config's MaxNodeMonitors, MaxGroupMonitors,
// MaxGroupsPerActor, MaxPendingSpawns and MaxSpawnRequests are counted
// too, labelled node_monitors, group_monitors, groups_per_actor,
// pending_spawns and spawn_requests).
//
// The zero value of every field means its default. Per-actor limits count
// what one actor holds at a time; what it holds goes when it dies (see the
// package doc, "Resources").
type Limits struct {
	// Actors bounds the live actors of the node, however they were
	// spawned (Go API, guests, peers). Default 2,000,000: twice the
	// million idle actors a node is built to hold.
	Actors int
	// ActorsPerInstance bounds the actors pinned to one shared instance.
	// When every instance of a module's pool is full the pool grows past
	// Config.InstancesPerModule (within GuestMemory), so a module's actors
	// never outgrow one instance's memory. Default 131,072.
	ActorsPerInstance int
	// ChildrenPerActor bounds the live actors one actor has spawned.
	// Default 10,000.
	ChildrenPerActor int
	// IsolatedInstances bounds the isolated instances of the node (each
	// hosts one actor). An instance counts, here and in GuestMemory, until
	// it has closed, which its next turn does once its actor is dead.
	// Default 256.
	IsolatedInstances int
	// GuestMemory is the node's budget of guest linear memory, in bytes.
	// Every instance reserves its cap (Config.MemoryLimitPages) from it
	// while it lives, so an instance once made can always grow to its cap;
	// an instance that would not fit is not made. Default 16 GiB (256
	// instances at the default cap); at least one instance's cap.
	GuestMemory int64
	// MailboxBytes bounds the payload bytes of the user messages queued for
	// one actor, besides Config.MailboxSize's count: a message over it is
	// [wasmactor.ErrMailboxFull] (one larger than the bound is accepted
	// only into an empty mailbox). Default 64 MiB.
	MailboxBytes int
	// PeerQueueBytes bounds the bytes of the messages queued for one peer
	// on the node's QUIC transport (quic.Config.SendQueueBytes), besides
	// its count: a message over it is [wasmactor.ErrMailboxFull] for the
	// sender. Default 64 MiB. Ignored with Config.Transport.
	PeerQueueBytes int
	// PendingAsksPerActor bounds the asks one actor awaits answers to.
	// Default 10,000.
	PendingAsksPerActor int
	// PendingAsks bounds the asks the node's actors await. Default
	// 1,000,000.
	PendingAsks int
	// TimersPerActor bounds the SendAfter timers one actor has armed.
	// Default 10,000.
	TimersPerActor int
	// Timers bounds the SendAfter timers armed on the node. Default
	// 1,000,000.
	Timers int
	// TimerBytes bounds the payload bytes the node's SendAfter timers
	// hold until they fire. Default 256 MiB.
	TimerBytes int64
	// MonitorsPerActor bounds the monitors one actor holds, counting the
	// DOWNs queued for it and not yet delivered. Default 10,000.
	MonitorsPerActor int
	// LinksPerActor bounds the links of one actor (to actors here and on
	// other nodes). A link needs room on both sides when both are here.
	// Default 10,000.
	LinksPerActor int
	// NamesPerActor bounds the names one actor holds. Default 16.
	NamesPerActor int
	// Names bounds the names the node's actors hold. Default 16,384, what
	// a peer keeps for one node (peerlimits.go).
	Names int
	// LogLinesPerSecond is the rate of log lines one actor may write (the
	// log import), with a burst of as many lines; the rest are dropped and
	// counted, and the actor's next line that gets through is preceded by
	// one note saying how many were dropped. Default 100.
	LogLinesPerSecond int
}

// Default limits (see [Limits]).
const (
	DefaultActors              = 2_000_000
	DefaultActorsPerInstance   = 1 << 17
	DefaultChildrenPerActor    = 10_000
	DefaultIsolatedInstances   = 256
	DefaultGuestMemory         = 16 << 30
	DefaultMailboxBytes        = 64 << 20
	DefaultPeerQueueBytes      = 64 << 20
	DefaultPendingAsksPerActor = 10_000
	DefaultPendingAsks         = 1_000_000
	DefaultTimersPerActor      = 10_000
	DefaultTimers              = 1_000_000
	DefaultTimerBytes          = 256 << 20
	DefaultMonitorsPerActor    = 10_000
	DefaultLinksPerActor       = 10_000
	DefaultNamesPerActor       = 16
	DefaultNames               = maxNamesPerPeer
	DefaultLogLinesPerSecond   = 100
)

func (l Limits) withDefaults(memoryLimitPages uint32) (Limits, error) {
	def := func(v *int, d int) bool {
		if *v == 0 {
			*v = d
		}
		return *v > 0
	}
	ok := def(&l.Actors, DefaultActors) &&
		def(&l.ActorsPerInstance, DefaultActorsPerInstance) &&
		def(&l.ChildrenPerActor, DefaultChildrenPerActor) &&
		def(&l.IsolatedInstances, DefaultIsolatedInstances) &&
		def(&l.MailboxBytes, DefaultMailboxBytes) &&
		def(&l.PeerQueueBytes, DefaultPeerQueueBytes) &&
		def(&l.PendingAsksPerActor, DefaultPendingAsksPerActor) &&
		def(&l.PendingAsks, DefaultPendingAsks) &&
		def(&l.TimersPerActor, DefaultTimersPerActor) &&
		def(&l.Timers, DefaultTimers) &&
		def(&l.MonitorsPerActor, DefaultMonitorsPerActor) &&
		def(&l.LinksPerActor, DefaultLinksPerActor) &&
		def(&l.NamesPerActor, DefaultNamesPerActor) &&
		def(&l.Names, DefaultNames) &&
		def(&l.LogLinesPerSecond, DefaultLogLinesPerSecond)
	if l.GuestMemory == 0 {
		l.GuestMemory = DefaultGuestMemory
	}
	if l.TimerBytes == 0 {
		l.TimerBytes = DefaultTimerBytes
	}
	if !ok || l.GuestMemory < 0 || l.TimerBytes < 0 {
		return l, fmt.Errorf("wasmactor: invalid config: negative limit in %+v", l)
	}
	if l.MailboxBytes > scheduler.MaxQuotaBytes {
		return l, fmt.Errorf("wasmactor: invalid config: Limits.MailboxBytes over %d", scheduler.MaxQuotaBytes)
	}
	if perInstance := int64(memoryLimitPages) << 16; l.GuestMemory < perInstance {
		return l, fmt.Errorf("wasmactor: invalid config: Limits.GuestMemory (%d bytes) cannot hold one instance of MemoryLimitPages (%d bytes)",
			l.GuestMemory, perInstance)
	}
	return l, nil
}

// limit names one of the Limits, for refusals.
type limit uint8

const (
	limActors limit = iota
	limChildren
	limIsolated
	limGuestMemory
	limPendingAsksPerActor
	limPendingAsks
	limTimersPerActor
	limTimers
	limTimerBytes
	limMonitors
	limLinks
	limNamesPerActor
	limNames
	limLogLines
	// The limits that are Config fields (Max...).
	limNodeMonitors
	limGroupMonitors
	limGroupsPerActor
	limPendingSpawns
	limSpawnRequests
	numLimits
)

// limitLabels are the metric's labels: the Limits fields in snake case, and
// the Config fields Max... without the Max.
var limitLabels = [numLimits]string{
	limActors:              "actors",
	limChildren:            "children_per_actor",
	limIsolated:            "isolated_instances",
	limGuestMemory:         "guest_memory",
	limPendingAsksPerActor: "pending_asks_per_actor",
	limPendingAsks:         "pending_asks",
	limTimersPerActor:      "timers_per_actor",
	limTimers:              "timers",
	limTimerBytes:          "timer_bytes",
	limMonitors:            "monitors_per_actor",
	limLinks:               "links_per_actor",
	limNamesPerActor:       "names_per_actor",
	limNames:               "names",
	limLogLines:            "log_lines_per_second",
	limNodeMonitors:        "node_monitors",
	limGroupMonitors:       "group_monitors",
	limGroupsPerActor:      "groups_per_actor",
	limPendingSpawns:       "pending_spawns",
	limSpawnRequests:       "spawn_requests",
}

// usage is what the node's actors hold against the node-wide limits that
// are not counted elsewhere, and the refusals so far.
type usage struct {
	actors      atomic.Int64 // live actors: reserved by spawnLocal, released by finalize
	isolated    atomic.Int64 // isolated instances
	guestMemory atomic.Int64 // bytes reserved by live instances
	refusals    [numLimits]atomic.Uint64
	counters    [numLimits]prometheus.Counter // the metric's children, resolved once
}

// initUsage resolves the refusal metric's children, so that a refusal
// costs two atomic adds.
func (n *Node) initUsage() {
	for k := range numLimits {
		n.use.counters[k] = n.metrics.refusals.WithLabelValues(limitLabels[k])
	}
}

// refused counts a refusal.
func (n *Node) refused(k limit) {
	n.use.refusals[k].Add(1)
	n.use.counters[k].Inc()
}

// overLimit counts a refusal and returns its error, which wraps
// [wasmactor.ErrLimit].
func (n *Node) overLimit(k limit, format string, args ...any) error {
	n.refused(k)
	return fmt.Errorf("%w: %s: %s", wasmactor.ErrLimit, limitLabels[k], fmt.Sprintf(format, args...))
}

// refusals is Stats.LimitRefusals: the refusals so far, by limit, without
// the limits never reached.
func (n *Node) refusals() map[string]uint64 {
	var m map[string]uint64
	for k := range numLimits {
		if v := n.use.refusals[k].Load(); v > 0 {
			if m == nil {
				m = make(map[string]uint64)
			}
			m[limitLabels[k]] = v
		}
	}
	return m
}

// reserve adds d to c if that keeps it at most max, and reports whether it
// did. A CAS loop rather than add-then-undo: an overshoot seen by others
// would refuse them spuriously near the limit.
func reserve(c *atomic.Int64, d, max int64) bool {
	for {
		v := c.Load()
		if v+d > max {
			return false
		}
		if c.CompareAndSwap(v, v+d) {
			return true
		}
	}
}

// reserveActor takes a place for a new actor: one of the node's and, if
// parent is set, one of parent's children. release gives both back.
func (n *Node) reserveActor(parent *actor) error {
	if !reserve(&n.use.actors, 1, int64(n.cfg.Limits.Actors)) {
		return n.overLimit(limActors, "%d live actors on node %s", n.cfg.Limits.Actors, n.cfg.Name)
	}
	if parent != nil && !reserveInt32(&parent.children, int32(min(n.cfg.Limits.ChildrenPerActor, 1<<31-1))) {
		n.use.actors.Add(-1)
		return n.overLimit(limChildren, "%s has %d live children", n.pidOf(parent), n.cfg.Limits.ChildrenPerActor)
	}
	return nil
}

// releaseActor gives back what reserveActor took for a, once a is dead
// for good (or was never born). A parent that is dead too needs nothing
// back.
func (n *Node) releaseActor(a *actor) {
	n.use.actors.Add(-1)
	if a.parent == 0 {
		return
	}
	if p := n.actors.get(a.parent); p != nil {
		p.children.Add(-1)
	}
}

func reserveInt32(c *atomic.Int32, max int32) bool {
	for {
		v := c.Load()
		if v >= max {
			return false
		}
		if c.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// instanceCost is what an instance reserves of Limits.GuestMemory: its cap.
func (n *Node) instanceCost() int64 { return int64(n.cfg.MemoryLimitPages) << 16 }

// reserveInstance takes the guest memory of one more instance and, for an
// isolated one, a place among the isolated instances. The instance gives
// them back once it is retired (instance.unreserve).
func (n *Node) reserveInstance(isolated bool) error {
	if isolated && !reserve(&n.use.isolated, 1, int64(n.cfg.Limits.IsolatedInstances)) {
		return n.overLimit(limIsolated, "%d isolated instances on node %s", n.cfg.Limits.IsolatedInstances, n.cfg.Name)
	}
	if !reserve(&n.use.guestMemory, n.instanceCost(), n.cfg.Limits.GuestMemory) {
		if isolated {
			n.use.isolated.Add(-1)
		}
		return n.overLimit(limGuestMemory, "node %s has reserved %d of its %d bytes of guest memory; an instance needs %d",
			n.cfg.Name, n.use.guestMemory.Load(), n.cfg.Limits.GuestMemory, n.instanceCost())
	}
	return nil
}

func (n *Node) releaseInstance(isolated bool) {
	n.use.guestMemory.Add(-n.instanceCost())
	if isolated {
		n.use.isolated.Add(-1)
	}
}

// logBucket is a token bucket of log lines (Limits.LogLinesPerSecond): it
// holds up to a second's worth, refilled continuously.
type logBucket struct {
	tokens  float64
	last    time.Time
	dropped uint64 // lines dropped since the last one let through
}

// allow takes a token for one line at now. It reports whether the line may
// go and, if so, how many lines were dropped before it.
func (b *logBucket) allow(now time.Time, rate int) (ok bool, dropped uint64) {
	b.tokens = min(float64(rate), b.tokens+now.Sub(b.last).Seconds()*float64(rate))
	b.last = now
	if b.tokens < 1 {
		b.dropped++
		return false, 0
	}
	b.tokens--
	dropped, b.dropped = b.dropped, 0
	return true, dropped
}

func newLogBucket(now time.Time, rate int) *logBucket {
	return &logBucket{tokens: float64(rate), last: now}
}

// roomToMonitor reports whether a may hold one more monitor
// (Limits.MonitorsPerActor), counting a refusal if not. The DOWNs queued
// for a count: each is a record a monitor of a dead actor makes at once.
// Only a's own turns add to what it holds, so the check stays true until
// its monitor is added.
func (n *Node) roomToMonitor(a *actor) bool {
	a.mu.Lock()
	held := len(a.rels().watching) + len(a.rels().downs)
	a.mu.Unlock()
	if held < n.cfg.Limits.MonitorsPerActor {
		return true
	}
	n.refused(limMonitors)
	return false
}

// roomForName checks a new claim against Limits.NamesPerActor and
// Limits.Names; a name the PID holds already needs no room. Registrations
// of one node's actors that race may pass a bound by a few.
func (n *Node) roomForName(c registry.Claim) error {
	if holder, ok := n.names.Whereis(c.Name); ok && holder == c.PID {
		return nil
	}
	if held := len(n.names.Of(c.PID)); held >= n.cfg.Limits.NamesPerActor {
		return n.overLimit(limNamesPerActor, "%s holds %d names", c.PID, held)
	}
	if held := n.names.NodeClaims(n.cfg.Name); held >= n.cfg.Limits.Names {
		return n.overLimit(limNames, "the actors of node %s hold %d names", n.cfg.Name, held)
	}
	return nil
}
