package host

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/engine"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/transport"
	"github.com/wasmactor/wasmactor/transport/quic"
)

// cluster is the node's view of its peers and of the state it shares with
// them. Every field is guarded by mu unless said otherwise.
type cluster struct {
	tr transport.Transport // nil when the node runs alone

	mu      sync.RWMutex
	peers   map[string]transport.NodeInfo // connected members by name
	byInc   map[uint64]string             // incarnation → name, connected members
	gone    map[uint64]string             // runs that are over (restarted, left): their PIDs are stale
	seen    map[string]bool               // every node name ever connected
	lastInc map[string]uint64             // the latest run seen of each node name
	upAt    map[string]peerUp             // when each connected member came up
	holders map[registry.Hash]map[string]bool
	held    map[string]int         // modules each member is recorded as holding
	rwatch  map[uint64]remoteWatch // monitors held here on actors of other nodes, by ref
	// early are DOWNs that came from the node a watched actor moved to
	// before this node learnt of the move, by ref (aliases.go).
	early map[uint64]earlyDown

	raceWindow atomic.Int64 // defaultNameRaceWindow; tests shorten it

	pullMu  sync.Mutex
	pulling map[registry.Hash]*pullCall
	pulls   atomic.Uint64 // module transfers into this node

	loadMu   sync.Mutex
	loadAt   time.Time
	loadPeer map[string]int
	// drainingPeer are the members that said they drain, by name, with
	// the incarnation of the run that said it (placement.go): placement
	// passes them by. Under loadMu, with the loads.
	drainingPeer map[string]uint64
	// draining: this node drains or was drained (Drain sets it, Undrain
	// clears it): placement here and on every member passes it by.
	draining atomic.Bool
}

func (c *cluster) init() {
	c.peers = make(map[string]transport.NodeInfo)
	c.byInc = make(map[uint64]string)
	c.gone = make(map[uint64]string)
	c.seen = make(map[string]bool)
	c.lastInc = make(map[string]uint64)
	c.upAt = make(map[string]peerUp)
	c.holders = make(map[registry.Hash]map[string]bool)
	c.held = make(map[string]int)
	c.raceWindow.Store(int64(defaultNameRaceWindow))
	c.rwatch = make(map[uint64]remoteWatch)
	c.early = make(map[uint64]earlyDown)
	c.pulling = make(map[registry.Hash]*pullCall)
}

// peerUp is when a run of a member came up here.
type peerUp struct {
	incarnation uint64
	at          time.Time
}

// owns reports whether pid is an actor of the run of a node that sent a
// message: a peer speaks only for its own actors.
func owns(from transport.NodeInfo, pid PID) bool {
	return pid.Node == from.Name && pid.Incarnation == from.Incarnation
}

// peerByInc returns the name of the connected node with that incarnation,
// or the ABI error for a PID that cannot be reached.
func (n *Node) peerByInc(inc uint64) (string, abi.Errno) {
	n.cl.mu.RLock()
	defer n.cl.mu.RUnlock()
	if name, ok := n.cl.byInc[inc]; ok {
		return name, abi.OK
	}
	if _, ok := n.cl.gone[inc]; ok {
		return "", abi.StaleIncarnation
	}
	if inc == 0 {
		return "", abi.BadArgument
	}
	return "", abi.NodeDown
}

// resolve turns a Go-API PID into its ABI form, checking its node. A PID
// of another run of its node is stale. A zero Incarnation is refused, not
// taken to mean the current run: serials restart at 1, so it could name a
// different actor than the one it was given for (docs/RATIONALE.md).
func (n *Node) resolve(p PID) (abi.PID, error) {
	p = n.followPID(p) // it may have migrated (migrate.go)
	if p.Serial == 0 {
		return abi.PID{}, fmt.Errorf("%w: %s has no serial", wasmactor.ErrBadPID, p)
	}
	if p.Incarnation == 0 {
		return abi.PID{}, fmt.Errorf("%w: %s has no incarnation: use the PID as Spawn, Whereis or ParsePID gave it, or a registered name", wasmactor.ErrBadPID, p)
	}
	if p.Node == n.cfg.Name {
		if p.Incarnation != n.incarnation {
			return abi.PID{}, fmt.Errorf("%w: %s", wasmactor.ErrStaleIncarnation, p)
		}
		return abi.PID{Incarnation: n.incarnation, Serial: p.Serial}, nil
	}
	info, err := n.peer(p.Node)
	if err != nil {
		return abi.PID{}, fmt.Errorf("%w (pid %s)", err, p)
	}
	if p.Incarnation != info.Incarnation {
		return abi.PID{}, fmt.Errorf("%w: %s", wasmactor.ErrStaleIncarnation, p)
	}
	return abi.PID{Incarnation: info.Incarnation, Serial: p.Serial}, nil
}

// peer returns a connected member by name: ErrNodeDown for a node seen
// before but not connected now, ErrUnknownNode for one never seen.
func (n *Node) peer(name string) (transport.NodeInfo, error) {
	n.cl.mu.RLock()
	info, ok := n.cl.peers[name]
	seen := n.cl.seen[name]
	n.cl.mu.RUnlock()
	switch {
	case ok:
		return info, nil
	case seen:
		return info, fmt.Errorf("%w: %s", wasmactor.ErrNodeDown, name)
	}
	return info, fmt.Errorf("%w: %q", wasmactor.ErrUnknownNode, name)
}

// pidOfABI turns an ABI PID back into a Go-API PID (best effort for nodes
// that went down).
func (n *Node) pidOfABI(p abi.PID) PID {
	if p.Incarnation == n.incarnation {
		return PID{Node: n.cfg.Name, Incarnation: n.incarnation, Serial: p.Serial}
	}
	n.cl.mu.RLock()
	name, ok := n.cl.byInc[p.Incarnation]
	if !ok {
		name = n.cl.gone[p.Incarnation]
	}
	n.cl.mu.RUnlock()
	return PID{Node: name, Incarnation: p.Incarnation, Serial: p.Serial}
}

// sendRemote puts one envelope on the wire.
func (n *Node) sendRemote(to abi.PID, env transport.Envelope) abi.Errno {
	if n.cl.tr == nil {
		return abi.StaleIncarnation
	}
	name, e := n.peerByInc(to.Incarnation)
	if e != abi.OK {
		return e
	}
	env.ToIncarnation = to.Incarnation
	env.To = to.Serial
	var err error
	if qt, ok := n.cl.tr.(*quic.Transport); ok {
		// The node's own transport, called directly: the compiler then
		// keeps the one-envelope slice of the variadic call on the stack
		// (quic.Transport.Send keeps only its elements), where an
		// interface call would allocate it for every remote message.
		err = qt.Send(name, env)
	} else {
		err = n.cl.tr.Send(name, env)
	}
	switch {
	case err == nil:
		return abi.OK
	case errors.Is(err, transport.ErrQueueFull):
		n.stats.mailboxFull.Add(1)
		return abi.MailboxFull
	case errors.Is(err, transport.ErrNodeDown):
		return abi.NodeDown
	default:
		return abi.ErrnoOf(err)
	}
}

// maxRemoteRun bounds the tells tellRemoteRun hands the transport at once
// (one frame): a run is sent under the route lock, which holds off the
// node learning of a migration meanwhile.
const maxRemoteRun = 1024

// tellRemoteRun sends the leading run of sends (guest tells from from,
// send_batch) that go to actors of one other node as one transport send:
// one frame on one write, instead of one per message. It returns how many
// it sent and set the codes of (each as tellTraced would have), or 0 if
// the first send is not for another node or starts no run (the caller
// sends it alone).
//
// The run is looked up and queued under one read of the route lock, so a
// migration fence is queued before it or after it, as for a single tell
// (migrate.go). A transport that refuses the run whole (a full queue, a
// frame too large) gets its tells one by one instead, so each is refused
// only if it would have been alone, and each refusal is its own sender's.
func (n *Node) tellRemoteRun(from abi.PID, sends []engine.Outgoing, tc *traceCtx, envs *[]transport.Envelope) int {
	if n.cl.tr == nil || len(sends) < 2 {
		return 0
	}
	if sends[0].To.Incarnation == n.incarnation && n.mob.nAlias.Load() == 0 {
		return 0 // local, as far as a look without the lock can tell: tellTraced looks again
	}
	n.mob.route.RLock()
	defer n.mob.route.RUnlock()
	first := n.followABI(sends[0].To)
	if first.Incarnation == n.incarnation {
		return 0
	}
	name, e := n.peerByInc(first.Incarnation)
	if e != abi.OK {
		return 0
	}
	trace := tc.bytes()
	run := (*envs)[:0]
	for k := range min(len(sends), maxRemoteRun) {
		s := &sends[k]
		to := first
		if k > 0 {
			to = n.followABI(s.To)
		}
		if s.Code != abi.OK || to.Incarnation != first.Incarnation {
			break
		}
		run = append(run, transport.Envelope{Kind: uint8(abi.KindTell), From: from.Serial, Payload: s.Msg, Trace: trace,
			ToIncarnation: to.Incarnation, To: to.Serial})
	}
	defer func() { clear(run); *envs = run[:0] }() // the transport keeps the payloads, not the slice
	if len(run) < 2 {
		return 0
	}
	if err := n.cl.tr.Send(name, run...); err == nil { // the slice itself: no allocation
		return len(run)
	}
	for k := range run {
		sends[k].Code = n.sendRemote(abi.PID{Incarnation: run[k].ToIncarnation, Serial: run[k].To}, run[k])
	}
	return len(run)
}

// call sends a request to a peer and maps its error back to our sentinels.
func (n *Node) call(ctx context.Context, node string, kind uint16, body any, out any) error {
	if n.cl.tr == nil {
		return fmt.Errorf("%w: %q (this node runs alone)", wasmactor.ErrUnknownNode, node)
	}
	b, err := n.cl.tr.Call(ctx, node, transport.Control{Kind: kind, Body: proto.Marshal(body)})
	if err != nil {
		return fromRemote(err)
	}
	if out == nil {
		return nil
	}
	return proto.Unmarshal(b, out)
}

// remoteError carries a peer's error text and the sentinel its code names.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }

func (e *remoteError) Unwrap() error { return e.sentinel }

func fromRemote(err error) error {
	var re *transport.RemoteError
	if errors.As(err, &re) {
		return &remoteError{msg: re.Message, sentinel: abi.Errno(re.Code).Err()}
	}
	return err
}

func toRemote(err error) error {
	if err == nil {
		return nil
	}
	return &transport.RemoteError{Code: uint16(abi.CodeOf(err)), Message: err.Error()}
}
