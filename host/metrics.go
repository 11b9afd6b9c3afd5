package host

import (
	"math/bits"
	"sync"

	"strings"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the node's Prometheus instruments. Counters that the node
// keeps anyway (stats, per-module counts) are read at scrape time by
// collect, so the message path pays for them only once; the histograms are
// observed where the event happens (a turn, a Call), never per message on
// the sending side.
//
// Labels are per factory, per peer or per reason class, never per actor:
// a node holds hundreds of thousands of actors.
type metrics struct {
	reg *prometheus.Registry

	turn    prometheus.Histogram
	depth   prometheus.Histogram
	size    *sizeHistogram
	call    prometheus.Histogram
	compile prometheus.Histogram
	crashes *prometheus.CounterVec
	deploys prometheus.Counter

	controlParked  prometheus.Counter
	controlDropped prometheus.Counter
	refusals       *prometheus.CounterVec
}

func newMetrics(n *Node) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.turn = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "wasmactor_turn_duration_seconds", Help: "Duration of one guest call delivering a batch of messages.",
		Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12), // 1µs .. ~4s
	})
	m.depth = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "wasmactor_mailbox_depth", Help: "Records waiting in an instance's mailbox when its turn starts.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 9), // 1 .. 65536
	})
	m.size = newSizeHistogram()
	m.call = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "wasmactor_call_duration_seconds", Help: "Latency of Node.Call (Go API and CLI calls), until the reply or the error.",
		Buckets: prometheus.ExponentialBuckets(5e-6, 4, 11), // 5µs .. ~5s
	})
	m.compile = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "wasmactor_compile_duration_seconds", Help: "Time to compile a module (from wazero's cache after a restart).",
		Buckets: prometheus.ExponentialBuckets(1e-3, 4, 8), // 1ms .. ~16s
	})
	m.crashes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmactor_instance_crashes_total", Help: "Instances discarded, by reason class (trap, panic, deadline, oom, protocol, ...).",
	}, []string{"reason"})
	m.deploys = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wasmactor_deploys_total", Help: "Modules deployed to this node (new bytes only).",
	})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmactor_limit_refusals_total", Help: "Requests refused because a limit was reached, by limit.",
	}, []string{"limit"})
	m.controlParked = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wasmactor_control_parked_total", Help: "Control messages that waited in a peer's backlog because its transport queue was full.",
	})
	m.controlDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wasmactor_control_dropped_total", Help: "Control messages dropped, each logged at error level: a connected peer's backlog overflowed, a record for a moved actor could not be forwarded, or too many DOWNs came ahead of their Moved.",
	})
	m.reg.MustRegister(m.controlParked, m.controlDropped, m.turn, m.depth, m.size, m.call, m.compile, m.crashes, m.deploys, m.refusals,
		nodeCollector{n},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// crashClass is the first word of an engine failure reason ("oom: ...",
// "deadline", "trap: ..."), a bounded set fit for a label.
func crashClass(reason string) string {
	if i := strings.IndexAny(reason, ": "); i > 0 {
		reason = reason[:i]
	}
	switch reason {
	case "trap", "panic", "deadline", "oom", "protocol", "canceled", "host", "crash":
		return reason
	}
	return "other"
}

// sizeHistogram is wasmactor_message_size_bytes, the payload sizes of the
// messages delivered to guests. A turn tallies its messages in a sizeTally
// and folds the tally in once (add): a few atomic adds per turn instead of
// a prometheus.Histogram's three atomic operations per message, contended
// by every worker.
type sizeHistogram struct {
	desc   *prometheus.Desc
	counts [sizeBuckets + 1]atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	count  atomic.Uint64
	sum    atomic.Uint64
}

// sizeBuckets are the histogram's upper bounds: 16 B × 4^i, up to 1 MiB.
const sizeBuckets = 9

func newSizeHistogram() *sizeHistogram {
	return &sizeHistogram{desc: prometheus.NewDesc("wasmactor_message_size_bytes", "Payload size of messages delivered to guests.", nil, nil)}
}

// sizeTally counts one turn's message sizes.
type sizeTally struct {
	counts [sizeBuckets + 1]uint32
	n      uint32
	sum    uint64
}

// observe counts one message of size bytes.
func (t *sizeTally) observe(size int) {
	i := 0
	if size > 16 {
		// the smallest i with size <= 16·4^i
		i = min((bits.Len(uint(size-1))-3)/2, sizeBuckets)
	}
	t.counts[i]++
	t.n++
	t.sum += uint64(size)
}

// add folds a turn's tally in and clears it.
func (h *sizeHistogram) add(t *sizeTally) {
	if t.n == 0 {
		return
	}
	for i, c := range t.counts {
		if c != 0 {
			h.counts[i].Add(uint64(c))
		}
	}
	h.count.Add(uint64(t.n))
	h.sum.Add(t.sum)
	*t = sizeTally{}
}

func (h *sizeHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

func (h *sizeHistogram) Collect(ch chan<- prometheus.Metric) {
	buckets := make(map[float64]uint64, sizeBuckets)
	var cum uint64
	for i := range sizeBuckets {
		cum += h.counts[i].Load()
		buckets[float64(uint64(16)<<(2*i))] = cum
	}
	// count is read last: a turn folding in meanwhile makes it at least
	// the buckets' total, as a histogram's +Inf bucket must be.
	ch <- prometheus.MustNewConstHistogram(h.desc, max(h.count.Load(), cum+h.counts[sizeBuckets].Load()), float64(h.sum.Load()), buckets)
}

// observeSince records the seconds since start in h.
func observeSince(h prometheus.Histogram, start time.Time) { h.Observe(time.Since(start).Seconds()) }

// moduleCounters are counted per module on the message path: one atomic add
// per turn, or per send. Per module rather than per factory, because a
// delivery knows its instance (and so its module) without a lookup.
type moduleCounters struct {
	delivered atomic.Uint64 // records handed to the guest
	sent      atomic.Uint64 // tells and asks sent by its actors
}

// nodeCollector reads the node's own counters and state at scrape time.
type nodeCollector struct{ n *Node }

var (
	descActors      = prometheus.NewDesc("wasmactor_actors", "Live actors, by factory.", []string{"factory"}, nil)
	descInstances   = prometheus.NewDesc("wasmactor_instances", "Live instances, by module (short hash; see wasmactor_module_info).", []string{"module"}, nil)
	descModule      = prometheus.NewDesc("wasmactor_module_info", "Always 1: the factories a module exports, to join with the per-module series.", []string{"module", "factories"}, nil)
	descMemory      = prometheus.NewDesc("wasmactor_guest_memory_bytes", "Linear memory of all live instances.", nil, nil)
	descDelivered   = prometheus.NewDesc("wasmactor_messages_delivered_total", "Records delivered to guests, by module.", []string{"module"}, nil)
	descSent        = prometheus.NewDesc("wasmactor_messages_sent_total", "Tells and asks sent by guests, by module.", []string{"module"}, nil)
	descMailboxFull = prometheus.NewDesc("wasmactor_mailbox_full_total", "Messages refused because the target's mailbox was full.", nil, nil)
	descRestarts    = prometheus.NewDesc("wasmactor_restarts_total", "Actors restarted by their supervision policy.", nil, nil)
	descSpawned     = prometheus.NewDesc("wasmactor_spawned_total", "Actors spawned on this node.", nil, nil)
	descPulls       = prometheus.NewDesc("wasmactor_module_pulls_total", "Modules fetched from peers.", nil, nil)
	descMembers     = prometheus.NewDesc("wasmactor_cluster_members", "Other nodes currently connected.", nil, nil)

	// Per peer node, from the transport's counters (transport.PeerStats):
	// the label set is bounded by the members, plus peer="(unknown)".
	descPeerUp       = prometheus.NewDesc("wasmactor_peer_up", "1 while a session with the peer node is up, 0 while it is down but still a member.", []string{"peer"}, nil)
	descPeerMessages = prometheus.NewDesc("wasmactor_peer_messages_total", "Envelopes and control messages exchanged with the peer node, by direction (in, out).", []string{"peer", "direction"}, nil)
	descPeerBytes    = prometheus.NewDesc("wasmactor_peer_bytes_total", "Bytes of the connections with the peer node, by direction (in, out): QUIC payload with its overhead, without UDP and IP headers.", []string{"peer", "direction"}, nil)
	descPeerRTT      = prometheus.NewDesc("wasmactor_peer_rtt_seconds", "Smoothed round-trip time of the session with the peer node, while it is up.", []string{"peer"}, nil)
	descPeerReconns  = prometheus.NewDesc("wasmactor_peer_reconnects_total", "Sessions with the peer node after the first (a loss either side noticed, or a restart of the peer).", []string{"peer"}, nil)
	descPeerFailures = prometheus.NewDesc("wasmactor_peer_handshake_failures_total", `Failed handshakes with the peer node; peer="(unknown)" counts those whose peer never proved its name (a wrong cookie, a seed).`, []string{"peer"}, nil)
)

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descActors, descInstances, descModule, descMemory, descDelivered, descSent,
		descMailboxFull, descRestarts, descSpawned, descPulls, descMembers,
		descPeerUp, descPeerMessages, descPeerBytes, descPeerRTT, descPeerReconns, descPeerFailures} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	actors := map[string]int{}
	for _, a := range n.actors.all() {
		if a.alive() {
			actors[a.factory]++
		}
	}
	for f, v := range actors {
		ch <- prometheus.MustNewConstMetric(descActors, prometheus.GaugeValue, float64(v), f)
	}
	instances := map[string]int{}
	var memory uint64
	for _, in := range n.instances() {
		instances[in.mod.info.Hash.Short()]++
		memory += uint64(in.inst.MemoryPages()) * 65536
	}
	for f, v := range instances {
		ch <- prometheus.MustNewConstMetric(descInstances, prometheus.GaugeValue, float64(v), f)
	}
	ch <- prometheus.MustNewConstMetric(descMemory, prometheus.GaugeValue, float64(memory))
	n.modMu.Lock()
	mods := make([]*module, 0, len(n.modules))
	for _, m := range n.modules {
		mods = append(mods, m)
	}
	n.modMu.Unlock()
	for _, m := range mods {
		h := m.info.Hash.Short()
		ch <- prometheus.MustNewConstMetric(descModule, prometheus.GaugeValue, 1, h, strings.Join(m.info.Factories, ","))
		ch <- prometheus.MustNewConstMetric(descDelivered, prometheus.CounterValue, float64(m.counters.delivered.Load()), h)
		ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(m.counters.sent.Load()), h)
	}
	ch <- prometheus.MustNewConstMetric(descMailboxFull, prometheus.CounterValue, float64(n.stats.mailboxFull.Load()))
	ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(n.stats.restarts.Load()))
	ch <- prometheus.MustNewConstMetric(descSpawned, prometheus.CounterValue, float64(n.stats.spawned.Load()))
	ch <- prometheus.MustNewConstMetric(descPulls, prometheus.CounterValue, float64(n.Pulls()))
	ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(len(n.Members())))
	collectPeers(ch, n.peerStats())
}

// peerStats is the transport's traffic counts per peer node (none when the
// node runs alone), for the metrics and the observer.
func (n *Node) peerStats() []transport.PeerStats {
	if n.cl.tr == nil {
		return nil
	}
	return n.cl.tr.PeerStats()
}

func collectPeers(ch chan<- prometheus.Metric, peers []transport.PeerStats) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, p := range peers {
		counter(descPeerFailures, p.HandshakeFailures, p.Peer)
		if p.Peer == transport.UnknownPeer {
			continue // only failures are counted for it
		}
		up := 0.0
		if p.Up {
			up = 1
			ch <- prometheus.MustNewConstMetric(descPeerRTT, prometheus.GaugeValue, p.RTT.Seconds(), p.Peer)
		}
		ch <- prometheus.MustNewConstMetric(descPeerUp, prometheus.GaugeValue, up, p.Peer)
		counter(descPeerMessages, p.MessagesIn, p.Peer, "in")
		counter(descPeerMessages, p.MessagesOut, p.Peer, "out")
		counter(descPeerBytes, p.BytesIn, p.Peer, "in")
		counter(descPeerBytes, p.BytesOut, p.Peer, "out")
		counter(descPeerReconns, p.Reconnects, p.Peer)
	}
}

// callStats is the count and sum of Node.Call latencies so far.
type callStats struct {
	count uint64
	sum   float64
}

// callSummary reads the Call latency histogram's count and sum.
func (m *metrics) callSummary() callStats {
	var pb dto.Metric
	if err := m.call.Write(&pb); err != nil || pb.Histogram == nil {
		return callStats{}
	}
	return callStats{count: pb.Histogram.GetSampleCount(), sum: pb.Histogram.GetSampleSum()}
}

// crashLog keeps the node's last instance failures for the observer.
type crashLog struct {
	mu   sync.Mutex
	ring [16]proto.Crash
	n    int // failures recorded so far
}

func (c *crashLog) add(x proto.Crash) {
	c.mu.Lock()
	c.ring[c.n%len(c.ring)] = x
	c.n++
	c.mu.Unlock()
}

// recent returns the recorded failures, newest first.
func (c *crashLog) recent() []proto.Crash {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := min(c.n, len(c.ring))
	out := make([]proto.Crash, 0, k)
	for i := 1; i <= k; i++ {
		out = append(out, c.ring[(c.n-i)%len(c.ring)])
	}
	return out
}
