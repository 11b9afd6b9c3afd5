package actor

import (
	"encoding/binary"
	"strconv"
)

// Record kinds of a wasmactor_deliver batch (docs/abi.md).
const (
	kindStart    = 1
	kindRestore  = 2
	kindTell     = 3
	kindAsk      = 4
	kindReply    = 5
	kindDown     = 6
	kindExit     = 7
	kindStop     = 8
	kindNodeDown = 9
	kindGroup    = 10
	kindSpawned  = 11
	kindDrop     = 12
)

// GROUP record events (the first payload byte).
const (
	groupJoined   = 1
	groupLeft     = 2
	groupOverflow = 3
)

// headerSize is the fixed part of every record; records start on 8-byte
// boundaries.
const headerSize = 48

// record is one parsed batch record. payload aliases the inbox buffer and is
// valid only while the batch is being delivered.
type record struct {
	kind    uint16
	status  uint16
	actor   uint64
	from    PID
	ref     uint64
	payload []byte
}

// batchError describes why a batch could not be parsed. It is the reason the
// instance fails with, so it says where and what.
type batchError struct {
	off  int
	what string
}

func (e *batchError) Error() string {
	return "wasmactor: malformed batch: record at offset " + strconv.Itoa(e.off) + ": " + e.what
}

// parseRecord reads the record at b[off:] and returns it with the offset of
// the next one. It never panics and never allocates on success: the header
// is read field by field from fixed offsets.
func parseRecord(b []byte, off int) (record, int, error) {
	if len(b)-off < headerSize {
		return record{}, 0, headerError(b, off)
	}
	// An array pointer: one bounds check here, none per field below, which
	// matters in a Go wasm guest where every branch is a loop iteration of
	// the function's block dispatcher (and an interruption check).
	h := (*[headerSize]byte)(b[off:])
	size := binary.LittleEndian.Uint32(h[0:])
	plen := binary.LittleEndian.Uint32(h[40:])
	if size < headerSize || size%8 != 0 || uint64(size) > uint64(len(b)-off) || plen > size-headerSize {
		return record{}, 0, headerError(b, off)
	}
	p := off + headerSize
	return record{
		kind:   binary.LittleEndian.Uint16(h[4:]),
		status: binary.LittleEndian.Uint16(h[6:]),
		actor:  binary.LittleEndian.Uint64(h[8:]),
		from: PID{
			Incarnation: binary.LittleEndian.Uint64(h[16:]),
			Serial:      binary.LittleEndian.Uint64(h[24:]),
		},
		ref:     binary.LittleEndian.Uint64(h[32:]),
		payload: b[p : p+int(plen) : p+int(plen)],
	}, off + int(size), nil
}

// headerError explains why the record at b[off:] is malformed. It is kept
// out of parseRecord so the hot path stays small.
func headerError(b []byte, off int) error {
	rest := len(b) - off
	if rest < headerSize {
		return &batchError{off, "truncated header (" + strconv.Itoa(rest) + " bytes left)"}
	}
	size := binary.LittleEndian.Uint32(b[off:])
	plen := binary.LittleEndian.Uint32(b[off+40:])
	switch {
	case size < headerSize:
		return &batchError{off, "size " + strconv.FormatUint(uint64(size), 10) + " is smaller than the header"}
	case size%8 != 0:
		return &batchError{off, "size " + strconv.FormatUint(uint64(size), 10) + " is not a multiple of 8"}
	case uint64(size) > uint64(rest):
		return &batchError{off, "size " + strconv.FormatUint(uint64(size), 10) + " runs past the end of the batch"}
	}
	return &batchError{off, "payload length " + strconv.FormatUint(uint64(plen), 10) + " runs past the record"}
}

// splitStart splits a START or RESTORE payload into the factory name and
// the init arguments (or state).
func splitStart(p []byte) (name, rest []byte, ok bool) {
	if len(p) < 2 {
		return nil, nil, false
	}
	n := int(binary.LittleEndian.Uint16(p))
	if n > len(p)-2 {
		return nil, nil, false
	}
	return p[2 : 2+n], p[2+n:], true
}
