package host

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

// Members lists the other nodes this node has seen come up and not yet go
// down, by name.
func (n *Node) Members() []NodeInfo {
	n.cl.mu.RLock()
	m := make([]transport.NodeInfo, 0, len(n.cl.peers))
	for _, p := range n.cl.peers {
		m = append(m, p)
	}
	n.cl.mu.RUnlock()
	sort.Slice(m, func(i, j int) bool { return m[i].Name < m[j].Name })
	return m
}

// memberStatus asks every member at once how many actors it runs and
// whether it drains; a member that does not answer within timeout is left
// out.
func (n *Node) memberStatus(ctx context.Context, members []NodeInfo, timeout time.Duration) (loads map[string]int, draining map[string]bool) {
	loads = make(map[string]int, len(members))
	draining = make(map[string]bool)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			var st proto.NodeStatus
			if err := n.call(cctx, m.Name, proto.KindStatus, proto.Empty{}, &st); err == nil {
				mu.Lock()
				loads[m.Name] = st.Actors
				if st.Draining {
					draining[m.Name] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return loads, draining
}

// markDraining records that a member's run drains (on), or no longer
// does (off: its sync or KindDraining said so, or its session ended; a
// restarted node takes spawns again, and the same run says it drains again
// in its next sync). The mark is the run's: it names the incarnation, and
// counts only while that run is the member (see drainingPeers), so a mark
// that comes late (a load refresh that started before the node went down)
// does not keep its next run out of placement.
func (n *Node) markDraining(peer transport.NodeInfo, on bool) {
	n.cl.loadMu.Lock()
	defer n.cl.loadMu.Unlock()
	if on {
		n.markDrainingLocked(peer)
		return
	}
	if inc, ok := n.cl.drainingPeer[peer.Name]; ok && inc == peer.Incarnation {
		delete(n.cl.drainingPeer, peer.Name)
		n.log.Info("member no longer drains: spawns placed there again", "peer", peer.Name)
	}
}

func (n *Node) markDrainingLocked(peer transport.NodeInfo) {
	if n.cl.drainingPeer == nil {
		n.cl.drainingPeer = make(map[string]uint64)
	}
	if inc, ok := n.cl.drainingPeer[peer.Name]; !ok || inc != peer.Incarnation {
		n.log.Info("member drains: no spawns placed there", "peer", peer.Name)
	}
	n.cl.drainingPeer[peer.Name] = peer.Incarnation
}

// drainsLocked: member m (this run of it) is known to drain. Under loadMu.
func (n *Node) drainsLocked(m NodeInfo) bool {
	inc, ok := n.cl.drainingPeer[m.Name]
	return ok && inc == m.Incarnation
}

// drainingPeers are the members known to drain.
func (n *Node) drainingPeers() map[string]bool {
	members := n.Members()
	n.cl.loadMu.Lock()
	defer n.cl.loadMu.Unlock()
	out := make(map[string]bool, len(n.cl.drainingPeer))
	for _, m := range members {
		if n.drainsLocked(m) {
			out[m.Name] = true
		}
	}
	return out
}

// chooseNode chooses the node for a spawn that names none, among the nodes
// that can run factory: every node holding its module, and, when at least
// one of them is up, every member (it pulls the module from a holder, as a
// spawn that names it would). Draining nodes, this one too, are passed by.
// The least-loaded wins, by actor count refreshed at most once a second; on
// a tie a holder beats a node that would first pull and compile the
// module, and this node beats a peer.
//
// An unknown factory is reported here, before any peer is asked; a module
// whose every holder is gone is [wasmactor.ErrModuleUnavailable].
//
// The status requests hold no lock: a caller that comes while another
// refreshes uses the loads already known rather than waiting for the network.
func (n *Node) chooseNode(ctx context.Context, factory string) (string, error) {
	n.cl.mu.RLock()
	alone := len(n.cl.peers) == 0
	n.cl.mu.RUnlock()
	if alone && !n.cl.draining.Load() { // the common case of a single node: nothing to allocate
		return n.cfg.Name, nil
	}
	_, info, err := n.factories.Resolve(factory)
	if err != nil {
		return "", err
	}
	_, here := n.store.Info(info.Hash)
	n.cl.mu.RLock()
	holders := make(map[string]bool, len(n.cl.holders[info.Hash]))
	for h := range n.cl.holders[info.Hash] {
		holders[h] = true
	}
	n.cl.mu.RUnlock()
	if !here && len(holders) == 0 {
		return "", fmt.Errorf("%w: no node holding module %s (factory %s) is up", wasmactor.ErrModuleUnavailable, info.Hash.Short(), factory)
	}

	members := n.Members()
	n.cl.loadMu.Lock()
	refresh := time.Since(n.cl.loadAt) > time.Second
	if refresh {
		n.cl.loadAt = time.Now() // claimed: others use the loads they have
	}
	n.cl.loadMu.Unlock()
	if refresh {
		loads, draining := n.memberStatus(ctx, members, 500*time.Millisecond)
		n.cl.loadMu.Lock()
		n.cl.loadPeer, n.cl.loadAt = loads, time.Now()
		for _, m := range members { // the runs asked, not whichever is up now
			if draining[m.Name] {
				n.markDrainingLocked(m)
			}
		}
		n.cl.loadMu.Unlock()
	}
	type candidate struct {
		name   string
		load   int
		holder bool
	}
	better := func(c, than candidate) bool {
		if c.load != than.load {
			return c.load < than.load
		}
		return c.holder && !than.holder
	}
	best := candidate{name: n.cfg.Name, load: n.actors.len(), holder: here}
	if n.cl.draining.Load() {
		best = candidate{load: math.MaxInt}
	}
	n.cl.loadMu.Lock()
	defer n.cl.loadMu.Unlock()
	for _, m := range members { // by name, so ties break the same way every time
		if n.drainsLocked(m) {
			continue
		}
		if l, ok := n.cl.loadPeer[m.Name]; ok {
			if c := (candidate{name: m.Name, load: l, holder: holders[m.Name]}); best.name == "" || better(c, best) {
				best = c
			}
		}
	}
	if best.name == "" {
		// This node drains and no member's load is known (their status
		// requests timed out): any member that does not drain will do,
		// a holder first.
		for _, m := range members {
			if n.drainsLocked(m) {
				continue
			}
			if c := (candidate{name: m.Name, holder: holders[m.Name]}); best.name == "" || (c.holder && !best.holder) {
				best = c
			}
		}
	}
	if best.name == "" {
		return "", fmt.Errorf("%w: factory %s: this node and every member drain", wasmactor.ErrModuleUnavailable, factory)
	}
	if best.name != n.cfg.Name {
		n.cl.loadPeer[best.name]++ // so a burst of spawns spreads out
	}
	return best.name, nil
}
