package host

import (
	"context"
	"sort"
	"sync"
	"time"

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

// chooseNode chooses the node for a spawn that names none: the least-loaded
// member (by actor count, refreshed at most once a second), this node on a tie.
func (n *Node) chooseNode(ctx context.Context) string {
	n.cl.mu.RLock()
	alone := len(n.cl.peers) == 0
	n.cl.mu.RUnlock()
	if alone { // the common case of a single node: nothing to allocate
		return n.cfg.Name
	}
	members := n.Members()
	n.cl.loadMu.Lock()
	defer n.cl.loadMu.Unlock()
	if time.Since(n.cl.loadAt) > time.Second {
		loads := make(map[string]int, len(members))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, m := range members {
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				defer cancel()
				var st proto.NodeStatus
				if err := n.call(cctx, m.Name, proto.KindStatus, proto.Empty{}, &st); err == nil {
					mu.Lock()
					loads[m.Name] = st.Actors
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		n.cl.loadPeer, n.cl.loadAt = loads, time.Now()
	}
	best, bestLoad := n.cfg.Name, n.actors.len()
	for _, m := range members {
		if l, ok := n.cl.loadPeer[m.Name]; ok && l < bestLoad {
			best, bestLoad = m.Name, l
		}
	}
	if best != n.cfg.Name {
		n.cl.loadPeer[best]++ // so a burst of spawns spreads out
	}
	return best
}
