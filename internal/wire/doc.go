// Package wire is the byte-level codec shared by every wasmactor transport:
// length-prefixed frames with a hard size cap, the strict CBOR modes every
// untrusted body is decoded with, and a fast codec for batches of
// [transport.Envelope].
//
// # Frames
//
// A frame is an unsigned LEB128 varint (minimal encoding, at most
// [MaxHeaderLen] bytes) giving the body length, then the body. Readers check
// the length against their cap before allocating anything, so a peer that
// claims a huge frame costs nothing but an error ([*FrameTooLargeError], which
// matches [transport.ErrFrameTooLarge]).
//
// # CBOR
//
// [Unmarshal] uses a strict decoding mode: no indefinite lengths, no duplicate
// map keys, no tags, at most [MaxArrayElements] array elements,
// [MaxMapPairs] map pairs and [MaxNestedLevels] levels of nesting. Lengths
// declared in the data are checked against the data before anything is
// allocated, so a CBOR bomb (a tiny input declaring a huge array or byte
// string, or deep nesting) fails fast in bounded memory. [Marshal] produces
// Core Deterministic Encoding (RFC 8949 §4.2.1), so equal values encode to
// equal bytes. The cluster layer reuses both for its control bodies.
//
// Unknown map keys in a struct are ignored rather than rejected: a protocol
// version may grow optional fields without breaking older readers, while
// incompatible changes bump the ALPN version (see docs/protocol.md).
//
// # Envelope batches
//
// A batch body is a CBOR array of envelope maps (keys 1..7, see
// [transport.Envelope]). [AppendEnvelopes] encodes without reflection and
// produces exactly what [Marshal] would; [DecodeEnvelopes] decodes the common
// shapes without reflection, with payloads sharing the body's memory, and
// falls back to [Unmarshal] for anything unusual so that its accept/reject
// behaviour is exactly the strict mode's. Envelopes are on the hot path of
// every remote message; the reflection codec costs several times more.
package wire
