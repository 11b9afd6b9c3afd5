// Package wire is the byte-level codec shared by every wasmactor transport:
// length-prefixed frames with a hard size cap, CBOR encoding and strict
// decoding of bodies, and a fast codec for batches of [transport.Envelope].
//
// # Frames
//
// A frame is an unsigned LEB128 varint (minimal encoding, at most
// [MaxHeaderLen] bytes) giving the body length, then the body. Readers check
// the length against their cap before allocating anything, so a peer that
// claims a frame over the cap costs nothing but an error
// ([*FrameTooLargeError], which matches [transport.ErrFrameTooLarge]). Under
// the cap, readers allocate as the bytes arrive ([ReadN]): a peer that
// declares a large frame and sends little of it costs little.
//
// # CBOR
//
// [Unmarshal] and [Marshal] use the cluster's one pair of modes, defined in
// internal/cbormode: strict decoding (no indefinite lengths, no duplicate map
// keys, no tags, valid UTF-8, bounded counts and nesting, declared lengths
// checked against the data before anything is allocated, so a CBOR bomb
// fails fast in bounded memory) and Core Deterministic Encoding (RFC 8949
// §4.2.1), so equal values encode to equal bytes. The control bodies of
// internal/proto and the registry's formats use the same modes.
//
// Unknown map keys in a struct are ignored rather than rejected: a protocol
// version may grow optional fields without breaking older readers, while
// incompatible changes bump the ALPN version (see docs/protocol.md).
//
// # Envelope batches
//
// A batch body is a CBOR array of envelope maps (keys 1..8, see
// [transport.Envelope]). [AppendEnvelopes] encodes without reflection and
// produces exactly what [Marshal] would; [DecodeEnvelopes] decodes the common
// shapes without reflection, with payloads and trace contexts sharing the
// body's memory, and
// falls back to [Unmarshal] for anything unusual so that its accept/reject
// behaviour is exactly the strict mode's. Both paths refuse batches of more
// than [MaxBatch] envelopes before decoding any. Envelopes are on the hot
// path of every remote message; the reflection codec costs several times
// more.
package wire
