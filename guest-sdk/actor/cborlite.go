package actor

import (
	"encoding/binary"
	"errors"
)

// The helpers here are the allocation-free corner of CBOR a hot path needs:
// unsigned integers, array headers and byte strings. Anything richer goes
// through fxamacker/cbor ([Message.Decode], [Context.Send]).

var errCBOR = errors.New("wasmactor: unexpected CBOR")

// AppendUint appends v as a CBOR unsigned integer (major type 0), shortest
// form.
func AppendUint(b []byte, v uint64) []byte { return appendHead(b, 0x00, v) }

// AppendArrayHeader appends the head of a CBOR array of n elements.
func AppendArrayHeader(b []byte, n int) []byte { return appendHead(b, 0x80, uint64(n)) }

// AppendBytes appends p as a CBOR byte string.
func AppendBytes(b, p []byte) []byte {
	b = appendHead(b, 0x40, uint64(len(p)))
	return append(b, p...)
}

func appendHead(b []byte, major byte, v uint64) []byte {
	switch {
	case v < 24:
		return append(b, major|byte(v))
	case v <= 0xff:
		return append(b, major|24, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, major|25), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, major|26), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, major|27), v)
}

// ReadUint reads a CBOR unsigned integer from the start of b and returns the
// rest.
func ReadUint(b []byte) (uint64, []byte, error) { return readHead(b, 0x00) }

// ReadArrayHeader reads the head of a definite-length CBOR array and returns
// its element count and the rest.
func ReadArrayHeader(b []byte) (int, []byte, error) {
	n, rest, err := readHead(b, 0x80)
	if err != nil || n > uint64(len(rest)) { // each element takes at least a byte
		return 0, b, errCBOR
	}
	return int(n), rest, nil
}

// ReadBytes reads a definite-length CBOR byte string from the start of b. The
// result aliases b.
func ReadBytes(b []byte) ([]byte, []byte, error) {
	n, rest, err := readHead(b, 0x40)
	if err != nil || n > uint64(len(rest)) {
		return nil, b, errCBOR
	}
	return rest[:n], rest[n:], nil
}

func readHead(b []byte, major byte) (uint64, []byte, error) {
	if len(b) == 0 || b[0]&0xe0 != major {
		return 0, b, errCBOR
	}
	info := b[0] & 0x1f
	switch {
	case info < 24:
		return uint64(info), b[1:], nil
	case info == 24 && len(b) >= 2:
		return uint64(b[1]), b[2:], nil
	case info == 25 && len(b) >= 3:
		return uint64(binary.BigEndian.Uint16(b[1:])), b[3:], nil
	case info == 26 && len(b) >= 5:
		return uint64(binary.BigEndian.Uint32(b[1:])), b[5:], nil
	case info == 27 && len(b) >= 9:
		return binary.BigEndian.Uint64(b[1:]), b[9:], nil
	}
	return 0, b, errCBOR
}
