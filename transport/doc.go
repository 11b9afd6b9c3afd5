// Package transport defines how nodes of a wasmactor cluster reach each other:
// the [Transport] a node uses to move actor [Envelope]s, control messages,
// request/response calls and module blobs, and the [Handler] through which it
// hears what peers send.
//
// The package knows nothing of WASM or actors beyond the envelope layout.
// transport/quic implements it over QUIC; internal/memtransport implements it
// in memory for deterministic in-process tests.
//
// # Ordering and delivery
//
// Envelopes from one sender actor to one receiver actor travel on one lane and
// arrive in the order sent (per-pair FIFO). Delivery is at most once: a lost
// connection loses what was in flight. Control messages (Cast) keep their order
// per peer. Calls and blobs each use a stream of their own, so a large module
// transfer never holds up messages. A Send or Cast the transport cannot
// queue is refused to its caller (ErrQueueFull), never dropped.
//
// # Sessions
//
// Each connection between two runs of two nodes is a session, reported to
// the [Handler] on both sides by NodeUp and ended by NodeDown, whichever
// side noticed a fault; see [Handler] for the exact rules.
// internal/transporttest checks them, and the rest of this contract, for
// every implementation.
package transport
