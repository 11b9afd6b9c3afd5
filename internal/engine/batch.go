package engine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/wasmactor/wasmactor/internal/abi"
)

// HeaderSize is the size of a batch record header (docs/abi.md).
const HeaderSize = 48

// MaxFactoryName is the longest factory reference START and RESTORE records
// carry: a 128-byte name, '@' and a hash prefix of up to 64 hex digits.
const MaxFactoryName = 128 + 1 + 64

// Record is one entry of a batch. Decoded records alias the batch's bytes.
type Record struct {
	Kind    abi.Kind
	Status  abi.Errno // REPLY only
	Actor   uint64
	From    abi.PID
	Ref     uint64
	Factory string // START and RESTORE only
	Payload []byte
}

// Batch accumulates the records of one [Instance.Deliver], encoded straight
// into the abi.md layout. It is meant to be reused: [Batch.Reset] keeps the
// buffer, so a steady state allocates nothing.
//
// A Batch is not safe for concurrent use.
type Batch struct {
	buf []byte
	n   int
}

// Reset empties b, keeping its capacity.
func (b *Batch) Reset() { b.buf, b.n = b.buf[:0], 0 }

// Len is the number of records in b.
func (b *Batch) Len() int { return b.n }

// Bytes is the encoded batch; valid until the next Add or Reset.
func (b *Batch) Bytes() []byte { return b.buf }

// Add appends r to the batch.
//
// It panics if r.Factory is longer than [MaxFactoryName] on a START or
// RESTORE: factory references are validated before they get this far, so
// that is a bug in the caller.
func (b *Batch) Add(r *Record) {
	body := len(r.Payload)
	named := r.Kind == abi.KindStart || r.Kind == abi.KindRestore
	if named {
		if len(r.Factory) > MaxFactoryName {
			panic(fmt.Sprintf("engine: factory name of %d bytes in a %v record", len(r.Factory), r.Kind))
		}
		body += 2 + len(r.Factory)
	}
	size := (HeaderSize + body + 7) &^ 7
	off := len(b.buf)
	b.buf = grow(b.buf, size)
	rec := b.buf[off : off+size]
	le := binary.LittleEndian
	le.PutUint32(rec[0:], uint32(size))
	le.PutUint16(rec[4:], uint16(r.Kind))
	le.PutUint16(rec[6:], uint16(r.Status))
	le.PutUint64(rec[8:], r.Actor)
	le.PutUint64(rec[16:], r.From.Incarnation)
	le.PutUint64(rec[24:], r.From.Serial)
	le.PutUint64(rec[32:], r.Ref)
	le.PutUint32(rec[40:], uint32(body))
	le.PutUint32(rec[44:], 0)
	p := rec[HeaderSize:]
	if named {
		le.PutUint16(p, uint16(len(r.Factory)))
		p = p[2+copy(p[2:], r.Factory):]
	}
	p = p[copy(p, r.Payload):]
	clear(p) // padding: the buffer is reused, so old bytes would leak through
	b.n++
}

// grow extends buf by n bytes, amortised like append.
func grow(buf []byte, n int) []byte {
	l := len(buf)
	if l+n <= cap(buf) {
		return buf[:l+n]
	}
	nb := make([]byte, l+n, max(2*cap(buf), l+n, 4096))
	copy(nb, buf)
	return nb
}

// ErrBadBatch is returned by [DecodeBatch] for bytes that are not a valid batch.
var ErrBadBatch = errors.New("engine: malformed batch")

// DecodeBatch walks an encoded batch, calling fn for each record in order.
// The record and its Payload alias buf and are valid only during the call;
// Factory is a fresh string. It stops at the first error fn returns.
//
// It is the reference decoder of the abi.md layout for tests and tools (the
// host only encodes); it checks every length against the buffer.
func DecodeBatch(buf []byte, fn func(*Record) error) error {
	le := binary.LittleEndian
	var r Record
	for off := 0; off < len(buf); {
		rest := buf[off:]
		if len(rest) < HeaderSize {
			return fmt.Errorf("%w: %d trailing bytes at offset %d", ErrBadBatch, len(rest), off)
		}
		size := le.Uint32(rest[0:])
		plen := le.Uint32(rest[40:])
		switch {
		case size < HeaderSize || size%8 != 0 || uint64(size) > uint64(len(rest)):
			return fmt.Errorf("%w: record size %d at offset %d", ErrBadBatch, size, off)
		case uint64(plen) > uint64(size-HeaderSize):
			return fmt.Errorf("%w: payload of %d bytes in a %d-byte record at offset %d", ErrBadBatch, plen, size, off)
		}
		r = Record{
			Kind:    abi.Kind(le.Uint16(rest[4:])),
			Status:  abi.Errno(le.Uint16(rest[6:])),
			Actor:   le.Uint64(rest[8:]),
			From:    abi.PID{Incarnation: le.Uint64(rest[16:]), Serial: le.Uint64(rest[24:])},
			Ref:     le.Uint64(rest[32:]),
			Payload: rest[HeaderSize : HeaderSize+plen : HeaderSize+plen],
		}
		if r.Kind == abi.KindStart || r.Kind == abi.KindRestore {
			if len(r.Payload) < 2 {
				return fmt.Errorf("%w: %v record without a factory name at offset %d", ErrBadBatch, r.Kind, off)
			}
			n := int(le.Uint16(r.Payload))
			if n > len(r.Payload)-2 {
				return fmt.Errorf("%w: factory name of %d bytes overruns its record at offset %d", ErrBadBatch, n, off)
			}
			r.Factory = string(r.Payload[2 : 2+n])
			r.Payload = r.Payload[2+n:]
		}
		if err := fn(&r); err != nil {
			return err
		}
		off += int(size)
	}
	return nil
}
