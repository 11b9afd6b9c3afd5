package memtransport

import (
	"bytes"
	"context"
	"fmt"

	"github.com/wasmactor/wasmactor/transport"
)

// client is a non-member connection to one node, as the CLI makes.
type client struct {
	nw     *Network
	n      *node
	peer   transport.PeerInfo // how the node sees the client
	ctx    context.Context    // cancelled by Close
	cancel context.CancelCauseFunc
}

var _ transport.Client = (*client)(nil)

func (c *client) Peer() transport.NodeInfo { return c.n.info }

func (c *client) Call(ctx context.Context, req transport.Control) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req.Body = bytes.Clone(req.Body)
	nw, n := c.nw, c.n
	nw.mu.RLock()
	switch {
	case c.ctx.Err() != nil:
		nw.mu.RUnlock()
		return nil, errClosed
	case n.dead:
		nw.mu.RUnlock()
		return nil, fmt.Errorf("memtransport: call %s: %w", n.info.Name, transport.ErrNodeDown)
	}
	hctx, hcancel := context.WithCancelCause(n.ctx)
	stopC := context.AfterFunc(c.ctx, func() { hcancel(errClosed) })
	stop := context.AfterFunc(ctx, func() { hcancel(context.Cause(ctx)) })
	res := make(chan result, 1)
	nw.goFor(n, nil, func() {
		defer hcancel(nil)
		b, err := n.h.HandleCall(hctx, c.peer, req)
		res <- result{b: bytes.Clone(b), err: asRemote(err)}
	})
	nw.mu.RUnlock()
	defer stop()
	defer stopC()

	select {
	case r := <-res:
		if ctx.Err() != nil {
			// The caller gave up; a handler that saw its context end must not
			// make that look like a remote error.
			return nil, fmt.Errorf("memtransport: call %s: %w", n.info.Name, ctx.Err())
		}
		if c.ctx.Err() != nil {
			return nil, errClosed
		}
		if n.ctx.Err() != nil {
			return nil, fmt.Errorf("memtransport: call %s: %w", n.info.Name, transport.ErrNodeDown)
		}
		return r.b, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("memtransport: call %s: %w", n.info.Name, ctx.Err())
	case <-c.ctx.Done():
		return nil, errClosed
	case <-n.ctx.Done():
		return nil, fmt.Errorf("memtransport: call %s: %w", n.info.Name, transport.ErrNodeDown)
	}
}

// Close ends the client; calls in progress return an error. Idempotent.
func (c *client) Close() error {
	c.nw.mu.Lock()
	defer c.nw.mu.Unlock()
	if c.ctx.Err() != nil {
		return nil
	}
	c.closeLocked()
	if cc, ok := c.n.h.(transport.ClientCloser); ok && !c.n.dead {
		c.nw.goFor(c.n, nil, func() { cc.ClientClosed(c.peer) })
	}
	return nil
}

func (c *client) closeLocked() {
	c.cancel(errClosed)
	delete(c.nw.clients, c)
}
