package memtransport

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/wasmactor/wasmactor/transport"
)

// link is the connection of a pair of nodes: two directions, each with its
// own delivery goroutines. A node hears its peer on the link while the
// direction into it lasts; a link whose one direction ended and whose other
// did not is one-sided: one node reported the other down, the other did
// not notice (see [Network.Deafen]).
type link struct {
	ends [2]*node
	dirs [2]*direction  // dirs[i] carries ends[i] → ends[1-i]
	wg   sync.WaitGroup // delivery and call goroutines of the link
}

func (l *link) other(n *node) *node {
	if l.ends[0] == n {
		return l.ends[1]
	}
	return l.ends[0]
}

// from returns the direction carrying n's traffic to its peer.
func (l *link) from(n *node) *direction {
	if l.ends[0] == n {
		return l.dirs[0]
	}
	return l.dirs[1]
}

// into returns the direction carrying the peer's traffic to n.
func (l *link) into(n *node) *direction {
	if l.ends[0] == n {
		return l.dirs[1]
	}
	return l.dirs[0]
}

// hears reports whether n still hears its peer on l.
func (l *link) hears(n *node) bool { return l.into(n).ctx.Err() == nil }

// halfDead reports whether one side of l stopped hearing the other.
func (l *link) halfDead() bool { return l.dirs[0].ctx.Err() != nil || l.dirs[1].ctx.Err() != nil }

// direction is one way of a link: what from sends, queued for to.
type direction struct {
	l        *link
	from, to *node
	// ctx ends when to stops hearing from on this link; its cause is the
	// reason to's NodeDown reports.
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	envs  []transport.Envelope
	casts []transport.Control

	envKick, castKick chan struct{} // capacity 1: "the queue is not empty"
	up                chan struct{} // closed after to's NodeUp(from) returned (or was skipped)
	laneDone          chan struct{} // closed when the envelope goroutine exits
	ctlDone           chan struct{} // closed when the control goroutine exits, after NodeDown
	notifyDown        atomic.Bool   // set before ctx ends: whether to hears NodeDown
	// lost: to stopped hearing from while from did not notice; what from
	// sends is accepted and lost, as on a network that drops one way.
	lost atomic.Bool
	// drain: from left cleanly; what it queued is delivered before NodeDown.
	drain atomic.Bool
	// out counts what from sends on d (from's counters of to); in what to
	// receives (to's counters of from).
	out, in *peerCounters
}

// peerCounters are what a node counted for one peer name, across links;
// atomics, so Send and the delivery goroutines need no lock to count.
type peerCounters struct {
	msgsOut, msgsIn, bytesOut, bytesIn, links atomic.Uint64
}

func envBytes(envs []transport.Envelope) uint64 {
	var n int
	for i := range envs {
		n += len(envs[i].Payload) + len(envs[i].Trace)
	}
	return uint64(n)
}

// linkLocked connects x and y; the caller holds mu and checked
// connectableLocked.
func (nw *Network) linkLocked(x, y *node) {
	l := &link{ends: [2]*node{x, y}}
	for i := range 2 {
		from, to := l.ends[i], l.ends[1-i]
		ctx, cancel := context.WithCancelCause(context.Background())
		d := &direction{
			l: l, from: from, to: to, ctx: ctx, cancel: cancel,
			envKick:  make(chan struct{}, 1),
			castKick: make(chan struct{}, 1),
			up:       make(chan struct{}),
			laneDone: make(chan struct{}),
			ctlDone:  make(chan struct{}),
		}
		d.out, d.in = from.countersLocked(to.info.Name), to.countersLocked(from.info.Name)
		d.out.links.Add(1)
		l.dirs[i] = d
		// Chain with the previous link from the same peer name, so to never
		// hears the new NodeUp before the old NodeDown returned.
		prev := to.lastIn[from.info.Name]
		to.lastIn[from.info.Name] = d.ctlDone
		nw.goFor(to, l, func() { d.control(prev) })
		nw.goFor(to, l, d.lane)
	}
	x.links[y.info.Name] = l
	y.links[x.info.Name] = l
	nw.links[pairOf(x.info.Name, y.info.Name)] = l
}

// unlinkLocked disconnects l; the caller holds mu. Each side that still
// heard the other gets NodeDown with reason. Its goroutines finish on their
// own (callers may wait on l.wg).
func (nw *Network) unlinkLocked(l *link, reason error) {
	x, y := l.ends[0], l.ends[1]
	if nw.links[pairOf(x.info.Name, y.info.Name)] == l {
		delete(nw.links, pairOf(x.info.Name, y.info.Name))
	}
	if x.links[y.info.Name] == l {
		delete(x.links, y.info.Name)
	}
	if y.links[x.info.Name] == l {
		delete(y.links, x.info.Name)
	}
	for _, d := range l.dirs {
		d.end(reason)
	}
}

// end makes d.to stop hearing d.from; the caller holds mu.
func (d *direction) end(reason error) {
	if d.ctx.Err() == nil {
		d.notifyDown.Store(!d.to.dead)
		d.cancel(reason)
	}
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// control delivers NodeUp, then casts in order, then NodeDown.
func (d *direction) control(prev chan struct{}) {
	defer close(d.ctlDone)
	if prev != nil {
		<-prev // always terminates: the previous link is already cancelled
	}
	ctx := d.ctx
	upCalled := false
	if ctx.Err() == nil || d.drain.Load() {
		d.to.h.NodeUp(d.from.info)
		upCalled = true
	}
	close(d.up)
	for {
		select {
		case <-d.castKick:
			d.deliverCasts(ctx)
		case <-ctx.Done():
			<-d.laneDone
			if upCalled && d.drain.Load() {
				d.deliverCasts(context.Background())
			}
			d.mu.Lock()
			d.envs, d.casts = nil, nil // lost in flight
			d.mu.Unlock()
			if upCalled && d.notifyDown.Load() {
				d.to.h.NodeDown(d.from.info, context.Cause(ctx))
			}
			return
		}
	}
}

// deliverCasts hands the queued casts to the handler, in order, until the
// queue is empty or ctx ends.
func (d *direction) deliverCasts(ctx context.Context) {
	for ctx.Err() == nil {
		d.mu.Lock()
		if len(d.casts) == 0 {
			d.mu.Unlock()
			return
		}
		c := d.casts[0]
		d.casts[0] = transport.Control{}
		d.casts = d.casts[1:]
		d.mu.Unlock()
		d.in.msgsIn.Add(1)
		d.in.bytesIn.Add(uint64(len(c.Body)))
		d.to.h.HandleCast(d.from.info, c)
	}
}

// lane delivers envelopes in order, in batches of up to maxBatch.
func (d *direction) lane() {
	defer close(d.laneDone)
	ctx := d.ctx
	<-d.up
	if ctx.Err() != nil && !d.drain.Load() {
		return
	}
	for {
		select {
		case <-d.envKick:
			d.deliverEnvelopes(ctx)
		case <-ctx.Done():
			if d.drain.Load() {
				d.deliverEnvelopes(context.Background())
			}
			return
		}
	}
}

// deliverEnvelopes hands the queued envelopes to the handler in batches
// until the queue is empty or ctx ends.
func (d *direction) deliverEnvelopes(ctx context.Context) {
	for ctx.Err() == nil {
		d.mu.Lock()
		k := min(len(d.envs), maxBatch)
		if k == 0 {
			d.mu.Unlock()
			return
		}
		// The handler owns the batch: cap it so its appends cannot
		// write over envelopes still queued behind it.
		batch := d.envs[:k:k]
		if k == len(d.envs) {
			d.envs = nil
		} else {
			d.envs = d.envs[k:]
		}
		d.mu.Unlock()
		d.in.msgsIn.Add(uint64(len(batch)))
		d.in.bytesIn.Add(envBytes(batch))
		d.to.h.HandleEnvelopes(d.from.info, batch)
	}
}
