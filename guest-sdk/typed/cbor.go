package typed

import (
	"encoding/binary"
	"math"
	"unicode/utf8"
)

// The primitives below are the part of CBOR (RFC 8949) that generated codecs
// need: definite-length items only, shortest heads on output. Readers take
// the encoded bytes and return the value and the bytes after it; they never
// allocate except to copy a string or byte string out of the input, which
// the caller's buffer (a guest's inbox) does not outlive.

// CBOR major types.
const (
	majorUint   = 0
	majorNegInt = 1
	majorBytes  = 2
	majorText   = 3
	majorArray  = 4
	majorMap    = 5
	majorTag    = 6
	majorSimple = 7
)

// Simple values and float heads (major type 7).
const (
	cborFalse   = 0xf4
	cborTrue    = 0xf5
	cborNull    = 0xf6
	cborUndef   = 0xf7
	cborFloat16 = 0xf9
	cborFloat32 = 0xfa
	cborFloat64 = 0xfb
)

func appendHead(b []byte, major byte, v uint64) []byte {
	m := major << 5
	switch {
	case v < 24:
		return append(b, m|byte(v))
	case v <= math.MaxUint8:
		return append(b, m|24, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), v)
}

// AppendTag appends the head of a tag: the tagged item must follow.
func AppendTag(b []byte, tag uint64) []byte { return appendHead(b, majorTag, tag) }

// AppendMapHeader appends the head of a map of n pairs.
func AppendMapHeader(b []byte, n int) []byte { return appendHead(b, majorMap, uint64(n)) }

// AppendArrayHeader appends the head of an array of n items.
func AppendArrayHeader(b []byte, n int) []byte { return appendHead(b, majorArray, uint64(n)) }

// AppendUint appends an unsigned integer.
func AppendUint(b []byte, v uint64) []byte { return appendHead(b, majorUint, v) }

// AppendInt appends a signed integer (major type 1 below zero).
func AppendInt(b []byte, v int64) []byte {
	if v < 0 {
		return appendHead(b, majorNegInt, uint64(-(v + 1)))
	}
	return appendHead(b, majorUint, uint64(v))
}

// AppendBool appends true or false.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, cborTrue)
	}
	return append(b, cborFalse)
}

// AppendNull appends null, the form of a nil pointer, slice or map.
func AppendNull(b []byte) []byte { return append(b, cborNull) }

// AppendFloat64 appends a 64-bit float.
func AppendFloat64(b []byte, v float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, cborFloat64), math.Float64bits(v))
}

// AppendFloat32 appends a 32-bit float.
func AppendFloat32(b []byte, v float32) []byte {
	return binary.BigEndian.AppendUint32(append(b, cborFloat32), math.Float32bits(v))
}

// AppendText appends s as a text string. s is not checked for UTF-8: Go
// strings from Go code are text by convention, as in fxamacker/cbor.
func AppendText(b []byte, s string) []byte {
	return append(appendHead(b, majorText, uint64(len(s))), s...)
}

// AppendBytes appends p as a byte string; nil is null, as fxamacker/cbor
// encodes a nil slice.
func AppendBytes(b, p []byte) []byte {
	if p == nil {
		return append(b, cborNull)
	}
	return append(appendHead(b, majorBytes, uint64(len(p))), p...)
}

// head reads an item's initial byte and argument. Indefinite lengths and
// the reserved additional-information values are malformed here.
func head(b []byte) (major byte, arg uint64, rest []byte, err error) {
	if len(b) == 0 {
		return 0, 0, b, errShort
	}
	major, info := b[0]>>5, b[0]&0x1f
	switch {
	case info < 24:
		return major, uint64(info), b[1:], nil
	case info == 24 && len(b) >= 2:
		return major, uint64(b[1]), b[2:], nil
	case info == 25 && len(b) >= 3:
		return major, uint64(binary.BigEndian.Uint16(b[1:])), b[3:], nil
	case info == 26 && len(b) >= 5:
		return major, uint64(binary.BigEndian.Uint32(b[1:])), b[5:], nil
	case info == 27 && len(b) >= 9:
		return major, binary.BigEndian.Uint64(b[1:]), b[9:], nil
	case info == 31:
		return 0, 0, b, errIndefinite
	case info >= 28:
		return 0, 0, b, errReserved
	}
	return 0, 0, b, errShort
}

// IsNull reports whether b starts with null (or undefined, which CBOR
// decoders treat alike).
func IsNull(b []byte) bool { return len(b) > 0 && (b[0] == cborNull || b[0] == cborUndef) }

// ReadMapHeader reads the head of a definite-length map and returns its
// number of pairs.
func ReadMapHeader(b []byte) (int, []byte, error) {
	return container(b, majorMap, 2, errWantMap)
}

// ReadArrayHeader reads the head of a definite-length array and returns its
// number of items.
func ReadArrayHeader(b []byte) (int, []byte, error) {
	return container(b, majorArray, 1, errWantArray)
}

// container reads a container head whose n elements each take at least
// per bytes, so a declared count never exceeds what the input can hold.
func container(b []byte, major byte, per uint64, want error) (int, []byte, error) {
	m, n, rest, err := head(b)
	switch {
	case err != nil:
		return 0, b, err
	case m != major:
		return 0, b, want
	case n > uint64(len(rest))/per:
		return 0, b, errShort
	}
	return int(n), rest, nil
}

// ReadTag reads a tag head and returns its number; the tagged item follows.
func ReadTag(b []byte) (uint64, []byte, error) {
	m, n, rest, err := head(b)
	if err != nil {
		return 0, b, err
	}
	if m != majorTag {
		return 0, b, errWantTag
	}
	return n, rest, nil
}

// SkipTag skips tag if b starts with it: a message's own type tag in front
// of its body, which the body's reader accepts but does not need.
func SkipTag(b []byte, tag uint64) []byte {
	if n, rest, err := ReadTag(b); err == nil && n == tag {
		return rest
	}
	return b
}

// ReadUint reads an unsigned integer.
func ReadUint(b []byte) (uint64, []byte, error) {
	m, n, rest, err := head(b)
	switch {
	case err != nil:
		return 0, b, err
	case m == majorNegInt:
		return 0, b, errRange
	case m != majorUint:
		return 0, b, errWantInt
	}
	return n, rest, nil
}

// ReadUintN reads an unsigned integer that must fit in bits bits.
func ReadUintN(b []byte, bits int) (uint64, []byte, error) {
	v, rest, err := ReadUint(b)
	if err == nil && bits < 64 && v>>bits != 0 {
		return 0, b, errRange
	}
	return v, rest, err
}

// ReadInt reads a signed integer that fits in an int64.
func ReadInt(b []byte) (int64, []byte, error) {
	m, n, rest, err := head(b)
	switch {
	case err != nil:
		return 0, b, err
	case m != majorUint && m != majorNegInt:
		return 0, b, errWantInt
	case n > math.MaxInt64:
		return 0, b, errRange
	case m == majorNegInt:
		return -1 - int64(n), rest, nil
	}
	return int64(n), rest, nil
}

// ReadIntN reads a signed integer that must fit in bits bits.
func ReadIntN(b []byte, bits int) (int64, []byte, error) {
	v, rest, err := ReadInt(b)
	if err == nil && bits < 64 && (v < -1<<(bits-1) || v > 1<<(bits-1)-1) {
		return 0, b, errRange
	}
	return v, rest, err
}

// ReadBool reads true or false.
func ReadBool(b []byte) (bool, []byte, error) {
	if len(b) > 0 {
		switch b[0] {
		case cborTrue:
			return true, b[1:], nil
		case cborFalse:
			return false, b[1:], nil
		}
	}
	return false, b, errWantBool
}

// ReadFloat reads a float of any width, or an integer (JSON typed on a
// command line writes 5 rather than 5.0).
func ReadFloat(b []byte) (float64, []byte, error) {
	if len(b) == 0 {
		return 0, b, errShort
	}
	switch b[0] {
	case cborFloat16:
		if len(b) >= 3 {
			return halfToFloat(binary.BigEndian.Uint16(b[1:])), b[3:], nil
		}
		return 0, b, errShort
	case cborFloat32:
		if len(b) >= 5 {
			return float64(math.Float32frombits(binary.BigEndian.Uint32(b[1:]))), b[5:], nil
		}
		return 0, b, errShort
	case cborFloat64:
		if len(b) >= 9 {
			return math.Float64frombits(binary.BigEndian.Uint64(b[1:])), b[9:], nil
		}
		return 0, b, errShort
	}
	m, n, rest, err := head(b)
	switch {
	case err != nil:
		return 0, b, err
	case m == majorUint:
		return float64(n), rest, nil
	case m == majorNegInt:
		return -1 - float64(n), rest, nil
	}
	return 0, b, errWantFloat
}

// halfToFloat widens an IEEE 754 half-precision float.
func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, frac := int(h>>10&0x1f), float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(1024+frac, exp-25)
}

// ReadText reads a text string and returns it as a view of b: map keys are
// compared this way without allocating. It is not checked for UTF-8.
func ReadText(b []byte) ([]byte, []byte, error) {
	m, n, rest, err := head(b)
	switch {
	case err != nil:
		return nil, b, err
	case m != majorText:
		return nil, b, errWantText
	case n > uint64(len(rest)):
		return nil, b, errShort
	}
	return rest[:n], rest[n:], nil
}

// ReadString reads a text string into a new Go string; it must be UTF-8.
func ReadString(b []byte) (string, []byte, error) {
	s, rest, err := ReadText(b)
	if err != nil {
		return "", b, err
	}
	if !utf8.Valid(s) {
		return "", b, errUTF8
	}
	return string(s), rest, nil
}

// ReadBytes reads a byte string and returns a copy; null reads as nil.
func ReadBytes(b []byte) ([]byte, []byte, error) {
	if IsNull(b) {
		return nil, b[1:], nil
	}
	m, n, rest, err := head(b)
	switch {
	case err != nil:
		return nil, b, err
	case m != majorBytes:
		return nil, b, errWantBytes
	case n > uint64(len(rest)):
		return nil, b, errShort
	}
	return append(make([]byte, 0, n), rest[:n]...), rest[n:], nil
}

// Skip skips one data item of any type, nested items included: the value
// of a map key a reader does not know (a field added by a newer sender).
// It walks without recursion, so deep nesting costs no stack.
func Skip(b []byte) ([]byte, error) {
	rest := b
	for pending := uint64(1); pending > 0; pending-- {
		m, n, r, err := head(rest)
		if err != nil {
			return b, err
		}
		switch m {
		case majorBytes, majorText:
			if n > uint64(len(r)) {
				return b, errShort
			}
			r = r[n:]
		case majorArray, majorMap:
			if m == majorMap {
				if n > math.MaxUint64/2 {
					return b, errShort
				}
				n *= 2
			}
			if n > uint64(len(r)) { // each item takes a byte at least
				return b, errShort
			}
			pending += n
		case majorTag:
			pending++ // the tagged item
		case majorSimple:
			// head consumed the 1-, 2-, 4- or 8-byte argument: floats and
			// simple values have no further content.
		}
		rest = r
	}
	return rest, nil
}

// IntBits is the size of int and uint on the platform the code runs on
// (64 in a wasip1 guest), for readers of int fields.
const IntBits = 32 << (^uint(0) >> 63)

// MaxPrealloc bounds what a reader allocates ahead for a declared count: a
// slice or map grows past it only as items actually decode.
const MaxPrealloc = 1024

// Strings hands out the text fields of one body as substrings of a single
// copy of it: one allocation per message instead of one per field, which
// is what a Go wasm guest pays most for. Generated readers of types with
// several string fields use it. A kept field keeps the whole body's copy
// alive (bytes, not the inbox).
type Strings struct {
	s    string
	base []byte
}

// Init copies the data item at the start of b, the body about to be read.
func (st *Strings) Init(b []byte) {
	st.s, st.base = "", nil
	if rest, err := Skip(b); err == nil {
		n := len(b) - len(rest)
		st.s, st.base = string(b[:n]), b[:n]
	}
}

// ReadString is [ReadString] for a text string inside the body given to
// Init: the result is a substring of the copy.
func (st *Strings) ReadString(b []byte) (string, []byte, error) {
	t, rest, err := ReadText(b)
	if err != nil {
		return "", b, err
	}
	if !utf8.Valid(t) {
		return "", b, errUTF8
	}
	if len(t) == 0 {
		return "", rest, nil
	}
	// t lies inside base: their capacities differ by its offset.
	if off := cap(st.base) - cap(t); st.base != nil && off >= 0 && off+len(t) <= len(st.s) {
		return st.s[off : off+len(t)], rest, nil
	}
	return string(t), rest, nil
}
