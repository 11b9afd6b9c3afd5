// Package cbormode holds the one pair of CBOR modes for the cluster's own
// bytes: [Strict] decodes everything that comes from a peer, the CLI or the
// disk, and [Deterministic] encodes what the cluster writes. Frames and
// envelope batches (internal/wire), control bodies (internal/proto) and the
// registry's module infos and name claims all use them, so one set of rules
// and limits holds everywhere (docs/protocol.md states them for peers).
//
// It is a leaf (fxamacker/cbor and the root package only) so that registry,
// which knows nothing of networking, shares the mode without importing the
// transport layer.
//
// # Strict decoding
//
// Definite lengths only, no duplicate map keys, no tags, valid UTF-8, exactly
// one data item. Lengths declared in the data are checked against the data
// before anything is allocated, so a CBOR bomb (a few bytes declaring a huge
// array or string, or deep nesting) fails fast in bounded memory. Unknown map
// keys in a struct are ignored, so a protocol version may grow optional
// fields.
//
// # Limits
//
// The limits fit the largest legitimate body, not the smallest; callers with
// a tighter rule check it themselves, where the reason lives:
//
//   - [MaxArrayElements] (2^20): a cluster-wide ps reply and a Sync list every
//     actor, name or group membership of a node, and a node holds hundreds of
//     thousands of actors. Envelope batches are capped lower by wire.MaxBatch,
//     checked before decoding; factory lists by registry's ModuleInfo.Validate.
//   - [MaxMapPairs] (1024): every body is a struct with a dozen keys at most;
//     none holds a Go map. The cap leaves room for optional keys.
//   - [MaxNestedLevels] (16): the deepest body, a Sync, nests four levels.
//
// # Deterministic encoding
//
// Core Deterministic Encoding (RFC 8949 §4.2.1), so equal values encode to
// equal bytes on every node, with indefinite lengths and tags refused, so the
// cluster never writes what [Strict] would reject. (A *big.Int beyond 64 bits
// still encodes as a bignum tag; no body has one.)
package cbormode
