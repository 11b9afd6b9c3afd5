package wire

import (
	"fmt"
	"slices"

	"github.com/wasmactor/wasmactor/transport"
)

// MaxBatch bounds the envelopes of one batch body, checked before decoding.
// The strict mode's array cap fits listings of a whole node's actors; a
// batch becomes 64 bytes of envelope for each element, which may be one
// byte of CBOR, so it gets a cap of its own. Senders stay below it
// (transport/quic sends at most 4096).
const MaxBatch = 8192

// CBOR major types, shifted into the initial byte.
const (
	majorUint  = 0 << 5
	majorBytes = 2 << 5
	majorArray = 4 << 5
	majorMap   = 5 << 5
)

// appendHead appends a CBOR initial byte and argument in its shortest form,
// as Core Deterministic Encoding requires.
func appendHead(dst []byte, major byte, v uint64) []byte {
	switch {
	case v < 24:
		return append(dst, major|byte(v))
	case v <= 0xff:
		return append(dst, major|24, byte(v))
	case v <= 0xffff:
		return append(dst, major|25, byte(v>>8), byte(v))
	case v <= 0xffffffff:
		return append(dst, major|26, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return append(dst, major|27, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
		byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func headLen(v uint64) int {
	switch {
	case v < 24:
		return 1
	case v <= 0xff:
		return 2
	case v <= 0xffff:
		return 3
	case v <= 0xffffffff:
		return 5
	}
	return 9
}

// EnvelopeSize is the encoded size of e inside a batch.
func EnvelopeSize(e *transport.Envelope) int {
	n := 1 // map head: at most 8 pairs
	if e.Kind != 0 {
		n += 1 + headLen(uint64(e.Kind))
	}
	if e.Status != 0 {
		n += 1 + headLen(uint64(e.Status))
	}
	if e.ToIncarnation != 0 {
		n += 1 + headLen(e.ToIncarnation)
	}
	if e.To != 0 {
		n += 1 + headLen(e.To)
	}
	if e.From != 0 {
		n += 1 + headLen(e.From)
	}
	if e.Ref != 0 {
		n += 1 + headLen(e.Ref)
	}
	if len(e.Payload) != 0 {
		n += 1 + headLen(uint64(len(e.Payload))) + len(e.Payload)
	}
	if len(e.Trace) != 0 {
		n += 1 + headLen(uint64(len(e.Trace))) + len(e.Trace)
	}
	return n
}

// ArrayHeadLen is the size of the array head of a batch of n envelopes.
func ArrayHeadLen(n int) int { return headLen(uint64(n)) }

// AppendEnvelope appends e as a CBOR map, byte for byte what [Marshal]
// produces for it (keys ascending, zero fields omitted, shortest integers).
func AppendEnvelope(dst []byte, e *transport.Envelope) []byte {
	pairs := 0
	if e.Kind != 0 {
		pairs++
	}
	if e.Status != 0 {
		pairs++
	}
	if e.ToIncarnation != 0 {
		pairs++
	}
	if e.To != 0 {
		pairs++
	}
	if e.From != 0 {
		pairs++
	}
	if e.Ref != 0 {
		pairs++
	}
	if len(e.Payload) != 0 {
		pairs++
	}
	if len(e.Trace) != 0 {
		pairs++
	}
	dst = append(dst, majorMap|byte(pairs))
	if e.Kind != 0 {
		dst = appendHead(append(dst, 1), majorUint, uint64(e.Kind))
	}
	if e.Status != 0 {
		dst = appendHead(append(dst, 2), majorUint, uint64(e.Status))
	}
	if e.ToIncarnation != 0 {
		dst = appendHead(append(dst, 3), majorUint, e.ToIncarnation)
	}
	if e.To != 0 {
		dst = appendHead(append(dst, 4), majorUint, e.To)
	}
	if e.From != 0 {
		dst = appendHead(append(dst, 5), majorUint, e.From)
	}
	if e.Ref != 0 {
		dst = appendHead(append(dst, 6), majorUint, e.Ref)
	}
	if len(e.Payload) != 0 {
		dst = appendHead(append(dst, 7), majorBytes, uint64(len(e.Payload)))
		dst = append(dst, e.Payload...)
	}
	if len(e.Trace) != 0 {
		dst = appendHead(append(dst, 8), majorBytes, uint64(len(e.Trace)))
		dst = append(dst, e.Trace...)
	}
	return dst
}

// AppendEnvelopes appends envs as one batch body (a CBOR array).
func AppendEnvelopes(dst []byte, envs []transport.Envelope) []byte {
	dst = appendHead(dst, majorArray, uint64(len(envs)))
	for i := range envs {
		dst = AppendEnvelope(dst, &envs[i])
	}
	return dst
}

// AppendBatchFrame appends envs as one frame holding a batch body.
func AppendBatchFrame(dst []byte, envs []transport.Envelope) []byte {
	n := ArrayHeadLen(len(envs))
	for i := range envs {
		n += EnvelopeSize(&envs[i])
	}
	return AppendEnvelopes(AppendHeader(dst, n), envs)
}

// DecodeEnvelopes decodes a batch body. Payloads and trace contexts share
// body's memory (so the caller must not reuse body). It accepts and rejects exactly what
// [Unmarshal] into a []transport.Envelope does, and batches of more than
// [MaxBatch] envelopes; the common shapes are decoded without reflection.
func DecodeEnvelopes(body []byte) ([]transport.Envelope, error) {
	return AppendDecodedEnvelopes(nil, body)
}

// AppendDecodedEnvelopes is [DecodeEnvelopes] appending to dst, so several
// batches can be handed on as one. On error dst is returned unchanged.
func AppendDecodedEnvelopes(dst []transport.Envelope, body []byte) ([]transport.Envelope, error) {
	if major, n, _, ok := readHead(body, 0); ok && major == majorArray && n > MaxBatch {
		return dst, fmt.Errorf("%w: batch of %d envelopes, at most %d", ErrMalformed, n, MaxBatch)
	}
	if envs, ok := decodeFast(dst, body); ok {
		return envs, nil
	}
	var envs []transport.Envelope
	if err := Unmarshal(body, &envs); err != nil {
		return dst, err
	}
	if envs == nil {
		// Unmarshal of CBOR null leaves a nil slice; a batch must be an array.
		if len(body) == 1 && (body[0] == 0xf6 || body[0] == 0xf7) {
			return dst, fmt.Errorf("%w: batch is not an array", ErrMalformed)
		}
		if dst == nil {
			return []transport.Envelope{}, nil
		}
	}
	return append(dst, envs...), nil
}

// readHead reads a definite-length head (initial byte and argument). ok is
// false for anything the fast path does not handle.
func readHead(b []byte, i int) (major byte, v uint64, next int, ok bool) {
	if i >= len(b) {
		return 0, 0, 0, false
	}
	c := b[i]
	major, info := c&0xe0, c&0x1f
	i++
	switch {
	case info < 24:
		return major, uint64(info), i, true
	case info == 24:
		if i+1 > len(b) {
			return 0, 0, 0, false
		}
		return major, uint64(b[i]), i + 1, true
	case info == 25:
		if i+2 > len(b) {
			return 0, 0, 0, false
		}
		return major, uint64(b[i])<<8 | uint64(b[i+1]), i + 2, true
	case info == 26:
		if i+4 > len(b) {
			return 0, 0, 0, false
		}
		return major, uint64(b[i])<<24 | uint64(b[i+1])<<16 | uint64(b[i+2])<<8 | uint64(b[i+3]), i + 4, true
	case info == 27:
		if i+8 > len(b) {
			return 0, 0, 0, false
		}
		var x uint64
		for k := 0; k < 8; k++ {
			x = x<<8 | uint64(b[i+k])
		}
		return major, x, i + 8, true
	}
	return 0, 0, 0, false
}

// decodeFast handles a definite array of definite maps whose keys are the
// unsigned integers 1..8 (each at most once) with unsigned values in range
// and byte strings for the payload and the trace context. Anything else returns ok=false and the strict
// reflection decoder decides.
func decodeFast(dst []transport.Envelope, b []byte) ([]transport.Envelope, bool) {
	major, n, i, ok := readHead(b, 0)
	if !ok || major != majorArray || n > MaxBatch || n > uint64(len(b)-i) {
		return nil, false
	}
	base := len(dst)
	envs := slices.Grow(dst, int(n))[:base+int(n)]
	if envs == nil {
		envs = []transport.Envelope{} // an empty batch decodes to an empty, non-nil slice
	}
	clear(envs[base:])
	for k := base; k < len(envs); k++ {
		e := &envs[k]
		var pairs uint64
		major, pairs, i, ok = readHead(b, i)
		if !ok || major != majorMap || pairs > 8 {
			return nil, false
		}
		var seen uint16
		for p := uint64(0); p < pairs; p++ {
			var key, v uint64
			major, key, i, ok = readHead(b, i)
			if !ok || major != majorUint || key < 1 || key > 8 || seen&(1<<key) != 0 {
				return nil, false
			}
			seen |= 1 << key
			major, v, i, ok = readHead(b, i)
			if !ok {
				return nil, false
			}
			if key >= 7 {
				if major != majorBytes || v > uint64(len(b)-i) {
					return nil, false
				}
				end := i + int(v)
				if key == 7 {
					e.Payload = b[i:end:end]
				} else {
					e.Trace = b[i:end:end]
				}
				i = end
				continue
			}
			if major != majorUint {
				return nil, false
			}
			switch key {
			case 1:
				if v > 0xff {
					return nil, false
				}
				e.Kind = uint8(v)
			case 2:
				if v > 0xffff {
					return nil, false
				}
				e.Status = uint16(v)
			case 3:
				e.ToIncarnation = v
			case 4:
				e.To = v
			case 5:
				e.From = v
			case 6:
				e.Ref = v
			}
		}
	}
	if i != len(b) {
		return nil, false
	}
	return envs, true
}
