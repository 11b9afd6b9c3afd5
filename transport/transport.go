package transport

import (
	"context"
	"errors"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/token"
)

// NodeInfo identifies one running node process.
type NodeInfo struct {
	// Name is unique in the cluster.
	Name string `cbor:"1,keyasint"`
	// Incarnation is chosen at random when the node starts; a restarted node
	// has a new one.
	Incarnation uint64 `cbor:"2,keyasint"`
	// Addr is the node's listen address (host:port) others dial.
	Addr string `cbor:"3,keyasint"`
}

// PeerInfo is who is on the other side of a connection: a node, or a client
// (the CLI, package client) that authenticated with the cookie or a token
// but takes no part in membership.
type PeerInfo struct {
	NodeInfo
	Client bool
	// Grant is what a client proved it may do: [token.AdminGrant] for the
	// cookie, its token's role and caveats otherwise. The handler checks
	// every request of a client against it. Nodes are members, trusted
	// with everything; their Grant is not consulted (and may be zero).
	Grant token.Grant
}

// Envelope is one actor-level message between two nodes. The sending actor is
// always on the sending node and the receiving actor on the receiving node,
// so PIDs travel as serials; the node parts are implied by the connection.
type Envelope struct {
	Kind   uint8  `cbor:"1,keyasint,omitempty"`
	Status uint16 `cbor:"2,keyasint,omitempty"`
	// ToIncarnation is the incarnation the sender believes the receiving node
	// has; a receiver with another incarnation rejects the envelope.
	ToIncarnation uint64 `cbor:"3,keyasint,omitempty"`
	To            uint64 `cbor:"4,keyasint,omitempty"`
	From          uint64 `cbor:"5,keyasint,omitempty"`
	Ref           uint64 `cbor:"6,keyasint,omitempty"`
	// Payload is opaque to the transport (CBOR produced by a guest).
	Payload []byte `cbor:"7,keyasint,omitempty"`
	// Trace is the W3C trace context the message travels in, empty when it
	// is not traced. It is opaque to the transport; docs/protocol.md gives
	// its layout (the host's, in host/tracing.go).
	Trace []byte `cbor:"8,keyasint,omitempty"`
}

// Control is a cluster-level message (registry update, monitor, link, spawn
// request...). The transport treats Body as opaque bytes.
type Control struct {
	Kind uint16 `cbor:"1,keyasint"`
	Body []byte `cbor:"2,keyasint,omitempty"`
}

// Transport connects this node to its peers. Every method is safe for
// concurrent use. Methods that address a peer take its node name.
type Transport interface {
	// Self is this node's identity.
	Self() NodeInfo
	// Start begins accepting connections and delivering to h. It must be
	// called once, before any other method but Self.
	Start(ctx context.Context, h Handler) error
	// Join dials the seed addresses; membership then connects every member
	// (full mesh). It returns once at least one seed answered (a session with
	// it is up, or it is this node or already connected), or the error of
	// the last attempt.
	Join(ctx context.Context, seeds []string) error
	// Members lists the nodes currently connected, this node excluded.
	Members() []NodeInfo
	// Send queues envelopes for a peer. It never blocks on the network:
	// ErrNodeDown if the peer is not connected, ErrQueueFull if its send queue
	// is full (nothing of envs was queued in either case). It keeps the
	// envelopes (and their Payload and Trace, which the caller must not
	// modify), not the slice: the caller may reuse envs once Send returns.
	Send(node string, envs ...Envelope) error
	// Cast queues a control message for a peer, ordered with other casts.
	// It never blocks on the network and never drops silently: nil means
	// the message was queued on the current session and is delivered
	// unless that session ends (reported by NodeDown); ErrNodeDown if the
	// peer is not connected, ErrQueueFull if its control queue is full
	// (nothing was queued in either case). A caller that cannot refuse
	// its own request must not ignore the error.
	Cast(node string, msg Control) error
	// Call sends a request on a stream of its own and waits for the answer.
	// A Handler error comes back as a *RemoteError.
	Call(ctx context.Context, node string, req Control) ([]byte, error)
	// FetchBlob reads the blob named key from a peer, refusing more than max bytes.
	FetchBlob(ctx context.Context, node string, key string, max int64) ([]byte, error)
	// PeerStats reports the traffic counted per peer node (see
	// [PeerStats]), sorted by name. It is meant for scrapes, a few times a
	// second at most: it may take a lock or a round trip through a
	// goroutine the transport owns, while counting costs the message path
	// only atomic adds.
	PeerStats() []PeerStats
	// Close disconnects every peer (they see a clean leave) and stops all
	// goroutines. Safe to call more than once.
	Close() error
}

// PeerStats is what a transport counted for one peer node. Counters start
// when the node first learns of the peer and are kept across its sessions
// (a reconnect or a restart of the peer). transport/quic drops a peer that
// left cleanly or was forgotten, which counts from zero if it comes back
// (Prometheus reads that as a counter reset), so the peers it reports are
// bounded by its members (its MaxMembers), plus [UnknownPeer].
type PeerStats struct {
	// Peer is the peer's node name, or UnknownPeer.
	Peer string
	// Up: a session with the peer is active now.
	Up bool
	// MessagesOut and MessagesIn count envelopes and casts queued for and
	// delivered from the peer. Calls and blobs are not messages (their
	// bytes are counted).
	MessagesOut, MessagesIn uint64
	// BytesOut and BytesIn count the bytes the sessions with the peer sent
	// and received: for QUIC, the connection's bytes (messages, casts,
	// calls, blobs and the protocol's own: acknowledgements, keep-alives,
	// retransmissions), without UDP and IP headers; in memory, payloads and
	// bodies.
	BytesOut, BytesIn uint64
	// RTT is the smoothed round-trip time of the current session; 0 when
	// the peer is down or the transport does not measure it.
	RTT time.Duration
	// Reconnects counts the sessions with the peer after the first: after
	// a loss one side noticed, or a restart of the peer.
	Reconnects uint64
	// HandshakeFailures counts failed connection attempts to or from the
	// peer. An attempt from a peer whose name was never verified (its proof
	// failed, so its name is only its word) counts under UnknownPeer.
	HandshakeFailures uint64
}

// UnknownPeer is the Peer of the handshake failures no verified name can
// be given to. It is not a valid node name, so it never clashes with one.
const UnknownPeer = "(unknown)"

// Handler receives what peers send. The transport calls it from its own
// goroutines; calls for one peer's lane are sequential (so per-pair order
// holds) but different lanes and peers run concurrently. Handlers must not
// block for long.
//
// # Sessions
//
// A session is one connection between two runs (incarnations) of two
// nodes. Both transports report sessions the same way, and the
// conformance suite (internal/transporttest) checks it:
//
//   - NodeUp(peer) is called once for every session, on both sides, before
//     any other Handler call from that session. NodeDown(peer, reason) is
//     called once when it ends, after every Handler call from it has
//     returned. For one peer name, NodeUp and NodeDown alternate, starting
//     with NodeUp; a handler may call back into the transport from both.
//   - A new session is reported on both sides, whichever side noticed that
//     the previous one was lost: the side that did not notice gets
//     NodeDown(peer, ErrPeerReconnected) and then NodeUp(peer), with the
//     same incarnation. Everything the two nodes share (names, groups,
//     monitors, links, module holders) is to be dropped on NodeDown and
//     sent again on NodeUp; the peer does the same, so both sides rebuild
//     one consistent state.
//   - What a session carries (envelopes, casts, calls, blobs) is delivered
//     in that session or not at all: never after its NodeDown, never in a
//     later session. A Send or Cast that returned nil is lost only if its
//     session ends, and then NodeDown says so.
//   - Two nodes that dial each other at once end with one session: one
//     NodeUp on each side, no NodeDown, and no request fails because of
//     the second connection.
//   - A session lost while it was being set up may be reported on one
//     side only, as NodeUp then NodeDown; the other side never handled
//     anything from it, and the next session is reported on both.
type Handler interface {
	// HandleEnvelopes receives a batch of envelopes from one lane of a peer.
	// envs and their payloads are owned by the handler after the call.
	HandleEnvelopes(from NodeInfo, envs []Envelope)
	// HandleCast receives a control message.
	HandleCast(from NodeInfo, msg Control)
	// HandleCall answers a request from a node or a client.
	HandleCall(ctx context.Context, from PeerInfo, req Control) ([]byte, error)
	// ServeBlob returns the blob named key (a module hash), or an error.
	ServeBlob(ctx context.Context, from PeerInfo, key string) ([]byte, error)
	// NodeUp reports a new session with a peer (see Sessions): the peer
	// completed the handshake and joined, came back after a loss, or
	// restarted with a new incarnation.
	NodeUp(peer NodeInfo)
	// NodeDown reports the end of the session NodeUp reported (reason says
	// why: idle timeout, closed, left, restarted, reconnected). Everything
	// in flight to or from it may be lost.
	NodeDown(peer NodeInfo, reason error)
}

// ClientCloser is implemented by a Handler that wants to know when a
// client connection ends (the host drops the client's deploy uploads).
// Transports call ClientClosed once per client connection, after every
// call of that connection returned, on a goroutine where the handler may
// call back into the transport; a transport that cannot tell may never
// call it, so a handler must not rely on it alone.
type ClientCloser interface {
	ClientClosed(from PeerInfo)
}

// Client is a connection of a non-member (the CLI) to one node.
type Client interface {
	Peer() NodeInfo
	Call(ctx context.Context, req Control) ([]byte, error)
	Close() error
}

var (
	// ErrNodeDown: the peer is not connected (the same value as
	// wasmactor.ErrNodeDown).
	ErrNodeDown = wasmactor.ErrNodeDown
	// ErrQueueFull: the peer's send queue is full.
	ErrQueueFull = errors.New("wasmactor: transport send queue full")
	// ErrFrameTooLarge: a frame over the size cap.
	ErrFrameTooLarge = errors.New("wasmactor: frame too large")
	// ErrHandshake: the peer failed authentication (wrong cookie, bad proof, timeout).
	ErrHandshake = errors.New("wasmactor: handshake failed")
)

// Reasons a transport passes to Handler.NodeDown, matched with errors.Is.
// Any other reason is a lost connection (wrapping ErrNodeDown).
var (
	// ErrPeerLeft: the peer closed its transport cleanly; it is not redialled.
	ErrPeerLeft = errors.New("wasmactor: peer left the cluster")
	// ErrPeerTimeout: nothing was heard from the peer within the idle timeout.
	ErrPeerTimeout = errors.New("wasmactor: peer timed out")
	// ErrPeerRestarted: the peer came back with a new incarnation; a NodeUp
	// for the new incarnation follows.
	ErrPeerRestarted = errors.New("wasmactor: peer restarted with a new incarnation")
	// ErrPeerReconnected: the peer found the session lost (it stopped
	// hearing this node) and opened a new one to the same incarnation,
	// which replaces it; a NodeUp for the same incarnation follows.
	ErrPeerReconnected = errors.New("wasmactor: the peer lost the connection and reconnected")
)

// RemoteError is an error returned by a peer's Handler.HandleCall. Code is
// application-defined (the host uses the ABI error codes).
type RemoteError struct {
	Code    uint16
	Message string
}

func (e *RemoteError) Error() string { return e.Message }

// Fencer is implemented by transports whose envelopes to a peer travel on
// several independently ordered lanes (per-pair order holds within a lane).
// Fence queues one copy of env on every lane to node, each with Status set
// to the number of copies: once the receiver has seen them all, it has
// received everything queued for it before the Fence, on any lane. A
// transport without Fencer has one lane; a plain Send with Status 1 does.
type Fencer interface {
	Fence(node string, env Envelope) error
}
