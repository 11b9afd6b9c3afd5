package memtransport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/transport"
)

// node is one transport of the network.
type node struct {
	nw     *Network
	info   transport.NodeInfo
	ctx    context.Context // cancelled when the node closes or is killed
	cancel context.CancelCauseFunc

	// Guarded by nw.mu.
	h       transport.Handler
	started bool
	dead    bool                     // closed or killed
	links   map[string]*link         // by peer name
	lastIn  map[string]chan struct{} // by peer name: ctlDone of the last direction into this node
	stats   map[string]*peerCounters // by peer name, kept across links

	wg sync.WaitGroup // goroutines calling h
}

var _ transport.Transport = (*node)(nil)

func (n *node) Self() transport.NodeInfo { return n.info }

func (n *node) Start(ctx context.Context, h transport.Handler) error {
	if h == nil {
		return errors.New("memtransport: Start with a nil handler")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n.nw.mu.Lock()
	defer n.nw.mu.Unlock()
	switch {
	case n.dead:
		return errClosed
	case n.started:
		return errors.New("memtransport: Start called twice")
	}
	n.h = h
	n.started = true
	return nil
}

// usableLocked reports why n cannot act, if it cannot. The caller holds
// nw.mu (read or write).
func (n *node) usableLocked() error {
	switch {
	case n.dead:
		return errClosed
	case !n.started:
		return errNotStarted
	}
	return nil
}

func (n *node) Join(ctx context.Context, seeds []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	nw := n.nw
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if err := n.usableLocked(); err != nil {
		return err
	}
	var last error
	answered := false
	for _, addr := range seeds {
		if addr == n.info.Addr {
			answered = true // a node listed among its own seeds: nothing to dial
			continue
		}
		peer := nw.nodes[addr]
		switch {
		case peer == nil || !peer.started:
			last = fmt.Errorf("memtransport: join %s: no node listening: %w", addr, transport.ErrNodeDown)
			continue
		case nw.partitioned[pairOf(n.info.Name, addr)]:
			last = fmt.Errorf("memtransport: join %s: %w", addr, ErrPartitioned)
			continue
		}
		if l := nw.links[pairOf(n.info.Name, addr)]; l != nil && !l.hears(n) {
			last = fmt.Errorf("memtransport: join %s: %w", addr, ErrPeerSilent)
			continue
		}
		if nw.links[pairOf(n.info.Name, addr)] == nil {
			nw.linkLocked(n, peer)
		}
		answered = true
	}
	if answered {
		nw.meshLocked()
	}
	if answered || len(seeds) == 0 {
		return nil
	}
	return last
}

func (n *node) Members() []transport.NodeInfo {
	n.nw.mu.RLock()
	out := make([]transport.NodeInfo, 0, len(n.links))
	if !n.dead {
		for _, l := range n.links {
			if l.hears(n) {
				out = append(out, l.other(n).info)
			}
		}
	}
	n.nw.mu.RUnlock()
	slices.SortFunc(out, func(a, b transport.NodeInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// out returns the direction carrying n's traffic to peer.
func (n *node) out(peer string) (*direction, error) {
	n.nw.mu.RLock()
	defer n.nw.mu.RUnlock()
	if err := n.usableLocked(); err != nil {
		return nil, err
	}
	l := n.links[peer]
	if l == nil || !l.hears(n) {
		return nil, fmt.Errorf("memtransport: %s: %w", peer, transport.ErrNodeDown)
	}
	return l.from(n), nil
}

func (n *node) Send(peer string, envs ...transport.Envelope) error {
	d, err := n.out(peer)
	if err != nil {
		return err
	}
	if len(envs) == 0 {
		return nil
	}
	if d.lost.Load() {
		// The peer stopped hearing us; we do not know it yet. Queued as
		// far as we can tell, so counted.
		d.out.msgsOut.Add(uint64(len(envs)))
		d.out.bytesOut.Add(envBytes(envs))
		return nil
	}
	limit := int(n.nw.queueLimit.Load())
	d.mu.Lock()
	switch {
	case d.ctx.Err() != nil:
		d.mu.Unlock()
		return fmt.Errorf("memtransport: %s: %w", peer, transport.ErrNodeDown)
	case len(d.envs)+len(envs) > limit:
		d.mu.Unlock()
		return fmt.Errorf("memtransport: %s: %w", peer, transport.ErrQueueFull)
	}
	for _, e := range envs {
		e.Payload = bytes.Clone(e.Payload)
		e.Trace = bytes.Clone(e.Trace)
		d.envs = append(d.envs, e)
	}
	d.mu.Unlock()
	d.out.msgsOut.Add(uint64(len(envs)))
	d.out.bytesOut.Add(envBytes(envs))
	kick(d.envKick)
	return nil
}

func (n *node) Cast(peer string, msg transport.Control) error {
	d, err := n.out(peer)
	if err != nil {
		return err
	}
	if d.lost.Load() {
		d.out.msgsOut.Add(1) // as in Send
		d.out.bytesOut.Add(uint64(len(msg.Body)))
		return nil
	}
	msg.Body = bytes.Clone(msg.Body)
	limit := int(n.nw.queueLimit.Load())
	d.mu.Lock()
	switch {
	case d.ctx.Err() != nil:
		d.mu.Unlock()
		return fmt.Errorf("memtransport: %s: %w", peer, transport.ErrNodeDown)
	case len(d.casts) >= limit:
		d.mu.Unlock()
		return fmt.Errorf("memtransport: %s: %w", peer, transport.ErrQueueFull)
	}
	d.casts = append(d.casts, msg)
	d.mu.Unlock()
	d.out.msgsOut.Add(1)
	d.out.bytesOut.Add(uint64(len(msg.Body)))
	kick(d.castKick)
	return nil
}

// countersLocked returns n's counters of peer, made on first use; the
// caller holds nw.mu for writing.
func (n *node) countersLocked(peer string) *peerCounters {
	c := n.stats[peer]
	if c == nil {
		c = new(peerCounters)
		n.stats[peer] = c
	}
	return c
}

// PeerStats implements transport.Transport. Bytes are envelope payloads
// and trace contexts and cast bodies; nothing here measures a round trip
// or fails a handshake. Counters of a peer are kept for the node's life.
func (n *node) PeerStats() []transport.PeerStats {
	n.nw.mu.RLock()
	defer n.nw.mu.RUnlock()
	out := make([]transport.PeerStats, 0, len(n.stats))
	for name, c := range n.stats {
		l := n.links[name]
		out = append(out, transport.PeerStats{
			Peer:        name,
			Up:          !n.dead && l != nil && l.hears(n),
			MessagesOut: c.msgsOut.Load(),
			MessagesIn:  c.msgsIn.Load(),
			BytesOut:    c.bytesOut.Load(),
			BytesIn:     c.bytesIn.Load(),
			Reconnects:  max(c.links.Load(), 1) - 1,
		})
	}
	slices.SortFunc(out, func(a, b transport.PeerStats) int { return strings.Compare(a.Peer, b.Peer) })
	return out
}

type result struct {
	b   []byte
	err error
}

// request runs serve on a goroutine of the peer's, once the peer has heard
// NodeUp from n, and waits for it, the caller's ctx or n to stop hearing
// the peer. A request to a peer that stopped hearing n is never served,
// and one whose peer stops hearing n meanwhile gets no answer: the caller
// waits, as on a network, until it finds the link lost.
func (n *node) request(ctx context.Context, peer, what string, serve func(ctx context.Context, h transport.Handler, from transport.PeerInfo) ([]byte, error)) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nw := n.nw
	nw.mu.RLock()
	if err := n.usableLocked(); err != nil {
		nw.mu.RUnlock()
		return nil, err
	}
	l := n.links[peer]
	if l == nil || !l.hears(n) {
		nw.mu.RUnlock()
		return nil, fmt.Errorf("memtransport: %s %s: %w", what, peer, transport.ErrNodeDown)
	}
	d, back := l.from(n), l.into(n)
	res := make(chan result, 1)
	stop := func() bool { return false }
	if !d.lost.Load() {
		// The handler's context ends when the peer stops hearing n or the
		// caller gives up, as a QUIC stream would be reset.
		hctx, hcancel := context.WithCancelCause(d.ctx)
		stop = context.AfterFunc(ctx, func() { hcancel(context.Cause(ctx)) })
		from := transport.PeerInfo{NodeInfo: n.info}
		nw.goFor(d.to, l, func() {
			defer hcancel(nil)
			select {
			case <-d.up:
			case <-hctx.Done():
			}
			if hctx.Err() != nil { // possibly before the peer heard NodeUp: do not serve
				res <- result{err: context.Cause(hctx)}
				return
			}
			b, err := serve(hctx, d.to.h, from)
			if d.ctx.Err() != nil {
				return // the peer stopped hearing n: no answer
			}
			res <- result{b: bytes.Clone(b), err: asRemote(err)}
		})
	}
	nw.mu.RUnlock()
	defer stop()

	select {
	case r := <-res:
		if ctx.Err() != nil {
			// The caller gave up; a handler that saw its context end must not
			// make that look like a remote error.
			return nil, fmt.Errorf("memtransport: %s %s: %w", what, peer, ctx.Err())
		}
		if back.ctx.Err() != nil {
			// Likewise for a link lost during the call: report the NodeDown reason.
			return nil, fmt.Errorf("memtransport: %s %s: %w", what, peer, context.Cause(back.ctx))
		}
		return r.b, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("memtransport: %s %s: %w", what, peer, ctx.Err())
	case <-back.ctx.Done():
		return nil, fmt.Errorf("memtransport: %s %s: %w", what, peer, context.Cause(back.ctx))
	}
}

// asRemote turns a handler error into what the caller sees.
func asRemote(err error) error {
	if err == nil {
		return nil
	}
	var re *transport.RemoteError
	if errors.As(err, &re) {
		return &transport.RemoteError{Code: re.Code, Message: re.Message}
	}
	return &transport.RemoteError{Message: err.Error()}
}

func (n *node) Call(ctx context.Context, peer string, req transport.Control) ([]byte, error) {
	req.Body = bytes.Clone(req.Body)
	return n.request(ctx, peer, "call", func(ctx context.Context, h transport.Handler, from transport.PeerInfo) ([]byte, error) {
		return h.HandleCall(ctx, from, req)
	})
}

func (n *node) FetchBlob(ctx context.Context, peer string, key string, max int64) ([]byte, error) {
	b, err := n.request(ctx, peer, "fetch blob from", func(ctx context.Context, h transport.Handler, from transport.PeerInfo) ([]byte, error) {
		return h.ServeBlob(ctx, from, key)
	})
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("memtransport: blob %q from %s is %d bytes, more than %d: %w", key, peer, len(b), max, wasmactor.ErrTooLarge)
	}
	return b, nil
}

// Close leaves the cluster: what this node queued is delivered, then peers
// get NodeDown with [ErrPeerLeft]; this node hears nothing more. It returns
// once no goroutine calls this node's handler.
func (n *node) Close() error {
	n.nw.mu.Lock()
	if !n.dead {
		n.nw.removeNodeLocked(n, ErrPeerLeft, true)
	}
	n.nw.mu.Unlock()
	n.wg.Wait()
	return nil
}
