package memtransport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/token"
	"github.com/wasmactor/wasmactor/transport"
)

// DefaultQueueLimit is the default bound on envelopes (and, separately,
// casts) queued per link direction and not yet handed to the receiver.
const DefaultQueueLimit = 4096

// maxBatch bounds one HandleEnvelopes call, like a QUIC lane read.
const maxBatch = 256

// NodeDown reasons. All match transport.ErrNodeDown with errors.Is, and
// the transport sentinel they model where there is one.
var (
	ErrPeerLeft    = fmt.Errorf("%w: %w", transport.ErrNodeDown, transport.ErrPeerLeft)
	ErrPeerKilled  = fmt.Errorf("%w: peer vanished", transport.ErrNodeDown)
	ErrPartitioned = fmt.Errorf("%w: network partition", transport.ErrNodeDown)
	// ErrPeerSilent: this node stopped hearing the peer ([Network.Deafen]).
	ErrPeerSilent = fmt.Errorf("%w: %w", transport.ErrNodeDown, transport.ErrPeerTimeout)
	// ErrPeerReconnected: the peer stopped hearing this node and reconnected.
	ErrPeerReconnected = fmt.Errorf("%w: %w", transport.ErrNodeDown, transport.ErrPeerReconnected)
)

// errClosed is returned by a closed transport or client; it matches both
// wasmactor.ErrClosed and net.ErrClosed.
var errClosed = fmt.Errorf("memtransport: %w (%w)", wasmactor.ErrClosed, net.ErrClosed)

var errNotStarted = errors.New("memtransport: transport not started")

// Network is a set of in-memory nodes that can reach each other. The zero
// value is not usable; call [NewNetwork].
type Network struct {
	// mu guards the topology: nodes, links, partitions, clients and every
	// node's fields documented as such. Never held while calling a Handler.
	mu          sync.RWMutex
	nodes       map[string]*node // live nodes by name
	links       map[pair]*link
	partitioned map[pair]bool
	cut         map[pair]bool // pairs that were linked when partitioned
	clients     map[*client]struct{}
	nextClient  int
	closed      bool

	queueLimit atomic.Int64
	wg         sync.WaitGroup // every goroutine of the network
}

// pair names an unordered pair of nodes.
type pair struct{ a, b string }

func pairOf(x, y string) pair {
	if x > y {
		x, y = y, x
	}
	return pair{x, y}
}

// NewNetwork returns an empty network.
func NewNetwork() *Network {
	nw := &Network{
		nodes:       make(map[string]*node),
		links:       make(map[pair]*link),
		partitioned: make(map[pair]bool),
		cut:         make(map[pair]bool),
		clients:     make(map[*client]struct{}),
	}
	nw.queueLimit.Store(DefaultQueueLimit)
	return nw
}

// SetQueueLimit sets how many envelopes (and how many casts) may wait per
// link direction before Send (Cast) fails with transport.ErrQueueFull. It
// applies from the next Send. Limits below 1 are raised to 1.
func (nw *Network) SetQueueLimit(limit int) {
	nw.queueLimit.Store(int64(max(limit, 1)))
}

// NewNode adds a node named name (also its address). A name may be reused
// once its previous node was closed or killed, as a restarted node would,
// normally with a new incarnation. It panics if a live node has the name or
// the network is closed: both are bugs in the test.
func (nw *Network) NewNode(name string, incarnation uint64) transport.Transport {
	if name == "" {
		panic("memtransport: NewNode with an empty name")
	}
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if nw.closed {
		panic("memtransport: NewNode on a closed network")
	}
	if _, ok := nw.nodes[name]; ok {
		panic(fmt.Sprintf("memtransport: a live node is already named %q", name))
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	n := &node{
		nw:     nw,
		info:   transport.NodeInfo{Name: name, Incarnation: incarnation, Addr: name},
		ctx:    ctx,
		cancel: cancel,
		links:  make(map[string]*link),
		lastIn: make(map[string]chan struct{}),
		stats:  make(map[string]*peerCounters),
	}
	nw.nodes[name] = n
	return n
}

// Kill makes the node vanish as if its process died: it hears nothing more,
// its transport methods fail, and every peer gets NodeDown with
// [ErrPeerKilled]. Kill returns once those NodeDown callbacks returned and
// no goroutine calls the killed node's handler any more. Unknown names are
// ignored.
func (nw *Network) Kill(name string) {
	nw.mu.Lock()
	n := nw.nodes[name]
	if n == nil {
		nw.mu.Unlock()
		return
	}
	ls := nw.removeNodeLocked(n, ErrPeerKilled, false)
	nw.mu.Unlock()
	for _, l := range ls {
		l.wg.Wait()
	}
	n.wg.Wait()
}

// removeNodeLocked marks n dead, unlinks it and cancels its calls; with
// drain, what n queued is delivered before its peers' NodeDown (a clean
// leave). The caller holds mu and waits for the returned links'
// goroutines if it wants.
func (nw *Network) removeNodeLocked(n *node, reason error, drain bool) []*link {
	n.dead = true
	if nw.nodes[n.info.Name] == n {
		delete(nw.nodes, n.info.Name)
	}
	var ls []*link
	for _, l := range n.links {
		ls = append(ls, l)
	}
	for _, l := range ls {
		if drain {
			l.from(n).drain.Store(true)
		}
		nw.unlinkLocked(l, reason)
	}
	n.cancel(errClosed)
	return ls
}

// Partition cuts the link between a and b, now and until [Network.Heal]:
// both sides get NodeDown with [ErrPartitioned], and neither Join nor the
// mesh reconnects them. It returns once both NodeDown callbacks returned. It
// may be called before the nodes exist.
func (nw *Network) Partition(a, b string) {
	p := pairOf(a, b)
	nw.mu.Lock()
	nw.partitioned[p] = true
	l := nw.links[p]
	if l != nil {
		nw.cut[p] = true
		nw.unlinkLocked(l, ErrPartitioned)
	}
	nw.mu.Unlock()
	if l != nil {
		l.wg.Wait()
	}
}

// Deafen makes node stop hearing peer on their link, as when the network
// drops everything one way: node gets NodeDown with [ErrPeerSilent] (as at
// an idle timeout) and considers peer gone, while peer notices nothing;
// what peer sends to node is accepted and lost, and peer's calls to node
// wait. The link stays one-sided (no Join or mesh reconnects the pair)
// until [Network.Heal] or [Network.Partition]. Deafen returns once node's
// NodeDown returned. Unlinked pairs are ignored.
func (nw *Network) Deafen(node, peer string) {
	nw.mu.Lock()
	l := nw.links[pairOf(node, peer)]
	var d *direction
	if l != nil && nw.nodes[node] != nil {
		d = l.into(nw.nodes[node])
		if d.ctx.Err() != nil {
			d = nil
		} else {
			d.lost.Store(true)
			d.end(ErrPeerSilent)
		}
	}
	nw.mu.Unlock()
	if d != nil {
		<-d.ctlDone
	}
}

// Heal lifts a partition between a and b, or the one-sided link Deafen
// left. If they were linked when the partition began, or belong to the same
// cluster through other members, they reconnect at once and both get
// NodeUp (asynchronously, like any NodeUp). The side of a one-sided link
// that had not noticed gets NodeDown with [ErrPeerReconnected] first, as
// the transport contract requires.
func (nw *Network) Heal(a, b string) {
	p := pairOf(a, b)
	nw.mu.Lock()
	defer nw.mu.Unlock()
	delete(nw.partitioned, p)
	wasCut := nw.cut[p]
	delete(nw.cut, p)
	if l := nw.links[p]; l != nil && l.halfDead() {
		nw.unlinkLocked(l, ErrPeerReconnected)
		wasCut = true
	}
	if x, y := nw.nodes[a], nw.nodes[b]; wasCut && nw.connectableLocked(x, y) {
		nw.linkLocked(x, y)
	}
	nw.meshLocked()
}

// Close closes every node and client without NodeDown callbacks and waits
// for every goroutine of the network. It is idempotent.
func (nw *Network) Close() error {
	nw.mu.Lock()
	if !nw.closed {
		nw.closed = true
		all := make([]*node, 0, len(nw.nodes))
		for _, n := range nw.nodes {
			n.dead = true // first, so no NodeDown is delivered to anyone
			all = append(all, n)
		}
		for _, n := range all {
			nw.removeNodeLocked(n, ErrPeerLeft, false)
		}
		for c := range nw.clients {
			c.closeLocked()
		}
	}
	nw.mu.Unlock()
	nw.wg.Wait()
	return nil
}

// connectableLocked reports whether x and y may be linked now.
func (nw *Network) connectableLocked(x, y *node) bool {
	return x != nil && y != nil && x != y && x.started && y.started && !x.dead && !y.dead &&
		!nw.partitioned[pairOf(x.info.Name, y.info.Name)] && nw.links[pairOf(x.info.Name, y.info.Name)] == nil
}

// meshLocked links every connectable pair of nodes that are in the same
// cluster (connected through links): the closure of the member-list
// exchange a real node performs after a join.
func (nw *Network) meshLocked() {
	seen := make(map[*node]bool)
	names := make([]string, 0, len(nw.nodes))
	for name := range nw.nodes {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic link order
	for _, name := range names {
		start := nw.nodes[name]
		if seen[start] || len(start.links) == 0 {
			continue
		}
		// Collect the component by a walk over links.
		comp := []*node{start}
		seen[start] = true
		for i := 0; i < len(comp); i++ {
			for _, l := range comp[i].links {
				other := l.other(comp[i])
				if !seen[other] {
					seen[other] = true
					comp = append(comp, other)
				}
			}
		}
		slices.SortFunc(comp, func(x, y *node) int {
			if x.info.Name < y.info.Name {
				return -1
			}
			return 1
		})
		for i, x := range comp {
			for _, y := range comp[i+1:] {
				if nw.connectableLocked(x, y) {
					nw.linkLocked(x, y)
				}
			}
		}
	}
}

// Dial opens a client connection (as the CLI makes) to the node at addr.
// The client holds the cookie: its grant is [token.AdminGrant].
func (nw *Network) Dial(ctx context.Context, addr string) (transport.Client, error) {
	return nw.DialAs(ctx, addr, token.AdminGrant())
}

// DialAs is Dial for a client that proved a token: the node sees grant.
func (nw *Network) DialAs(ctx context.Context, addr string, grant token.Grant) (transport.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if nw.closed {
		return nil, errClosed
	}
	n := nw.nodes[addr]
	if n == nil || !n.started {
		return nil, fmt.Errorf("memtransport: dial %s: no node listening: %w", addr, transport.ErrNodeDown)
	}
	nw.nextClient++
	name := fmt.Sprintf("client-%d", nw.nextClient)
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &client{
		nw:     nw,
		n:      n,
		peer:   transport.PeerInfo{NodeInfo: transport.NodeInfo{Name: name, Addr: name}, Client: true, Grant: grant},
		ctx:    ctx,
		cancel: cancel,
	}
	nw.clients[c] = struct{}{}
	return c, nil
}

// goFor starts f on a goroutine that calls to's handler, tracked by the
// network, by to and (if l is not nil) by the link. The caller holds mu (read
// or write) and has checked that to is alive, so no Wait on to.wg can have
// started.
func (nw *Network) goFor(to *node, l *link, f func()) {
	nw.wg.Add(1)
	to.wg.Add(1)
	if l != nil {
		l.wg.Add(1)
	}
	go func() {
		defer func() {
			if l != nil {
				l.wg.Done()
			}
			to.wg.Done()
			nw.wg.Done()
		}()
		f()
	}()
}
