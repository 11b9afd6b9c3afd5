// Package memtransport is an in-memory [transport.Transport] for
// deterministic multi-node tests in one process: a [Network] of named nodes
// that join, exchange envelopes, casts, calls and blobs, and fail on command.
//
// # Model
//
// A node's address is its name. [Network.NewNode] creates a node; Start and
// Join behave as on a real network: Join connects to the seeds and then to
// every member they know (full mesh, one link per pair however the pair was
// dialled). Each link has, per direction, a goroutine delivering envelopes
// (one lane, so per-pair order holds) and a goroutine delivering NodeUp, the
// casts in order, then NodeDown. Envelopes and casts are not ordered with each
// other, as on QUIC where they use different streams. Calls and blob fetches
// run the remote handler on a goroutine of their own.
//
// Every payload is copied on the way in and on the way out, so sender and
// receiver never share memory and tests catch handlers that keep a buffer
// they do not own.
//
// # Events
//
// A link is a session in the sense of [transport.Handler]. A receiving node
// hears NodeUp(peer) before anything that peer sent on the link, and
// NodeDown(peer) after the last delivery of the link; a reconnect's NodeUp
// waits until the previous link's NodeDown returned. A node that closes
// leaves cleanly: what it queued is delivered before its peers' NodeDown
// ([ErrPeerLeft]). A node that is closed or killed hears nothing more: no
// NodeDown for its own links.
//
// # Fault injection
//
// [Network.Kill] makes a node vanish (its peers get NodeDown with
// [ErrPeerKilled]); [Network.Partition] cuts a pair (both sides get NodeDown
// with [ErrPartitioned]); [Network.Deafen] makes one node stop hearing
// another, which notices nothing (only the deaf node gets NodeDown, with
// [ErrPeerSilent]); [Network.Heal] reconnects a partitioned or one-sided
// pair, and the side of a one-sided link that had not noticed gets NodeDown
// with [ErrPeerReconnected] before the new NodeUp, as the transport
// contract requires. Kill, Partition and Deafen wait until the NodeDown
// callbacks they cause have returned, so a test can assert right after;
// none of them may be called from inside a Handler.
//
// The package passes the transport conformance suite
// (internal/transporttest), like transport/quic.
//
// # Notes
//
// Not modelled: latency, loss of individual messages on a live link,
// reconnect backoff, the cookie handshake. So PeerStats counts messages,
// their payload bytes and reconnects (links after the first), but never
// an RTT or a failed handshake. Handlers must not call Close on
// their own transport (Close waits for the handler's goroutines).
package memtransport
