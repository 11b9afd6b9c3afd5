package host

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

// Control messages to a peer go one of two ways (see the RATIONALE entry
// "control messages are refused or kept, never dropped"):
//
//   - castTry, for requests a caller can be told about (monitor, link,
//     kill): a full queue or a lost peer is the caller's error at once.
//   - castMust, for what nobody could be told about (a Down, an exit
//     signal, name and group changes, module announcements, the state sent
//     when a session starts): a full transport queue parks the message in
//     the peer's backlog, in order, and a goroutine keeps offering it until
//     the transport takes it or the session ends. When the session ends,
//     both sides drop what they shared and rebuild it in the next session
//     (transport.Handler's contract), so nothing in the backlog is needed
//     any more.
//
// While a peer has a backlog, every castMust to it joins the backlog (so
// order holds) and every castTry is refused (backpressure).

// Bounds of one peer's backlog. Past them the node has been unable to reach
// a connected peer for a long time; the message is dropped, logged at error
// level and counted (wasmactor_control_dropped_total), never silently.
const (
	maxBacklog      = 1 << 16
	maxBacklogBytes = 64 << 20
)

// outbox holds the backlogs. mu is a leaf lock.
type outbox struct {
	mu    sync.Mutex
	peers map[string]*backlog
}

type backlog struct {
	msgs     []transport.Control
	bytes    int
	draining bool
}

// errCongested is a refused castTry: the peer's control queue is full.
func errCongested(node string) error {
	return fmt.Errorf("%w: the control queue to node %s is full; retry later", wasmactor.ErrMailboxFull, node)
}

// castTry sends a control message that its caller can be refused.
func (n *Node) castTry(node string, kind uint16, body any) error {
	if n.cl.tr == nil {
		return fmt.Errorf("%w: %s (this node runs alone)", wasmactor.ErrNodeDown, node)
	}
	n.out.mu.Lock()
	busy := n.out.peers[node] != nil
	n.out.mu.Unlock()
	if busy {
		return errCongested(node)
	}
	err := n.cl.tr.Cast(node, transport.Control{Kind: kind, Body: proto.Marshal(body)})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, transport.ErrQueueFull):
		return errCongested(node)
	case errors.Is(err, transport.ErrNodeDown):
		return fmt.Errorf("%w: %s", wasmactor.ErrNodeDown, node)
	}
	return err
}

// castMust sends a control message that must not be lost while the session
// with node lasts. A peer that is not connected is skipped: its NodeDown
// handling covers what the message was for.
func (n *Node) castMust(node string, kind uint16, body any) {
	n.castMustBytes(node, transport.Control{Kind: kind, Body: proto.Marshal(body)})
}

func (n *Node) castMustBytes(node string, msg transport.Control) {
	if n.cl.tr == nil {
		return
	}
	n.out.mu.Lock()
	defer n.out.mu.Unlock()
	if b := n.out.peers[node]; b != nil {
		n.parkLocked(node, b, msg)
		return
	}
	// Casting under out.mu keeps this message ordered with one that a
	// concurrent castMust would park; the transport's Cast never blocks.
	err := n.cl.tr.Cast(node, msg)
	if errors.Is(err, transport.ErrQueueFull) {
		b := &backlog{}
		if n.out.peers == nil {
			n.out.peers = make(map[string]*backlog)
		}
		n.out.peers[node] = b
		n.parkLocked(node, b, msg)
	} else if err != nil && !errors.Is(err, transport.ErrNodeDown) {
		n.log.Error("control message lost", "peer", node, "kind", msg.Kind, "err", err)
		n.metrics.controlDropped.Inc()
	}
}

// parkLocked appends msg to node's backlog and makes sure a goroutine drains
// it. The caller holds out.mu.
func (n *Node) parkLocked(node string, b *backlog, msg transport.Control) {
	if len(b.msgs) >= maxBacklog || b.bytes+len(msg.Body) > maxBacklogBytes {
		n.log.Error("control backlog full: message dropped", "peer", node, "kind", msg.Kind, "backlog", len(b.msgs))
		n.metrics.controlDropped.Inc()
		return
	}
	b.msgs = append(b.msgs, msg)
	b.bytes += len(msg.Body)
	n.metrics.controlParked.Inc()
	if !b.draining {
		b.draining = true
		n.bg.Add(1)
		go n.drain(node, b)
	}
}

// drain offers node's backlog to the transport in order, backing off while
// its queue is full, until the backlog is empty, the session ends (the
// backlog is then dropped, see dropBacklog) or the node closes.
func (n *Node) drain(node string, b *backlog) {
	defer n.bg.Done()
	wait := time.Millisecond
	for {
		n.out.mu.Lock()
		if n.out.peers[node] != b || len(b.msgs) == 0 {
			if n.out.peers[node] == b {
				delete(n.out.peers, node)
			}
			n.out.mu.Unlock()
			return
		}
		msg := b.msgs[0]
		err := n.cl.tr.Cast(node, msg)
		switch {
		case err == nil:
			b.msgs[0] = transport.Control{}
			b.msgs = b.msgs[1:]
			b.bytes -= len(msg.Body)
			wait = time.Millisecond
		case errors.Is(err, transport.ErrQueueFull):
		default: // the session is gone: its NodeDown rebuilds everything
			delete(n.out.peers, node)
			n.out.mu.Unlock()
			return
		}
		n.out.mu.Unlock()
		if err == nil {
			continue
		}
		if !n.sleep(wait) {
			return
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// dropBacklog forgets what was parked for a peer whose session ended.
func (n *Node) dropBacklog(node string) {
	n.out.mu.Lock()
	delete(n.out.peers, node)
	n.out.mu.Unlock()
}

// broadcast casts to every connected member (castMust).
func (n *Node) broadcast(kind uint16, body any) {
	if n.cl.tr == nil {
		return
	}
	msg := transport.Control{Kind: kind, Body: proto.Marshal(body)}
	for _, m := range n.cl.tr.Members() {
		n.castMustBytes(m.Name, msg)
	}
}

// Bounds of one KindSync message: the state a node sends a peer when a
// session starts goes in as many messages as it needs, each far below the
// transport's frame cap.
const (
	syncNames   = 1024
	syncGroups  = 1024
	syncModules = 64
)

// sendSync sends node this node's share of the cluster state: its modules
// and the names and groups of its own actors, in bounded pieces.
func (n *Node) sendSync(node string) {
	s := n.syncState()
	for len(s.Modules) > 0 || len(s.Names) > 0 || len(s.Groups) > 0 {
		var part proto.Sync
		k := min(len(s.Modules), syncModules)
		part.Modules, s.Modules = s.Modules[:k], s.Modules[k:]
		k = min(len(s.Names), syncNames)
		part.Names, s.Names = s.Names[:k], s.Names[k:]
		k = min(len(s.Groups), syncGroups)
		part.Groups, s.Groups = s.Groups[:k], s.Groups[k:]
		n.castMust(node, proto.KindSync, part)
	}
}
