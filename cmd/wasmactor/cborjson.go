package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// Messages typed on the command line are JSON; guests speak CBOR. The
// mapping keeps JSON's types apart (an integer stays a CBOR integer, a number
// with a fraction or exponent becomes a float), so a guest decoding into an
// int field never sees a float it would reject.

// jsonEncMode writes the CBOR sent to guests: deterministic (sorted keys,
// shortest forms), the same bytes for the same JSON on every run.
var jsonEncMode = func() cbor.EncMode {
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// errJSON marks bad JSON on the command line, a usage error.
var errJSON = errors.New("invalid JSON")

// jsonError says where in the input the JSON went wrong.
type jsonError struct {
	what   string // which argument, e.g. "message"
	offset int64  // byte offset of the problem
	line   int
	col    int
	msg    string
}

func (e *jsonError) Error() string {
	return fmt.Sprintf("invalid JSON in %s at line %d, column %d (byte %d): %s", e.what, e.line, e.col, e.offset, e.msg)
}

func (e *jsonError) Unwrap() error { return errJSON }

func newJSONError(what string, src []byte, offset int64, msg string) *jsonError {
	if offset < 0 {
		offset = 0
	}
	if offset > int64(len(src)) {
		offset = int64(len(src))
	}
	line, col := 1, 1
	for _, c := range src[:offset] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &jsonError{what: what, offset: offset, line: line, col: col, msg: msg}
}

// maxJSONDepth bounds nesting so a hostile argument cannot exhaust the stack.
const maxJSONDepth = 64

// JSONToCBOR converts one JSON value to CBOR. what names the argument in
// error messages. Objects become maps with text keys, integers CBOR integers
// (bignums beyond 64 bits), other numbers floats. Duplicate object keys and
// trailing data are errors rather than silently dropped.
func JSONToCBOR(what string, src []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	p := jsonParser{dec: dec, src: src, what: what}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, newJSONError(what, src, dec.InputOffset(), "unexpected data after the value")
	}
	b, err := jsonEncMode.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot encode as CBOR: %w", what, err)
	}
	return b, nil
}

type jsonParser struct {
	dec  *json.Decoder
	src  []byte
	what string
}

func (p *jsonParser) fail(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// A Decoder's offsets are relative to its buffer, not the input;
		// validating the whole input again gives the absolute position.
		// SyntaxError.Offset counts the bad byte as read.
		var whole *json.SyntaxError
		if errors.As(json.Unmarshal(p.src, new(json.RawMessage)), &whole) {
			se = whole
		}
		return newJSONError(p.what, p.src, se.Offset-1, se.Error())
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		if len(bytes.TrimSpace(p.src)) == 0 {
			return newJSONError(p.what, p.src, int64(len(p.src)), "empty; give a JSON value such as {} or null")
		}
		return newJSONError(p.what, p.src, int64(len(p.src)), "unexpected end of input")
	}
	return newJSONError(p.what, p.src, p.dec.InputOffset(), err.Error())
}

func (p *jsonParser) value(depth int) (any, error) {
	start := p.dec.InputOffset()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.fail(err)
	}
	return p.fromToken(tok, start, depth)
}

func (p *jsonParser) fromToken(tok json.Token, start int64, depth int) (any, error) {
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxJSONDepth {
			return nil, newJSONError(p.what, p.src, start, fmt.Sprintf("nested deeper than %d levels", maxJSONDepth))
		}
		switch t {
		case '{':
			return p.object(depth + 1)
		case '[':
			return p.array(depth + 1)
		}
		return nil, newJSONError(p.what, p.src, start, fmt.Sprintf("unexpected %q", t))
	case json.Number:
		return p.number(t, start)
	case string, bool, nil:
		return t, nil
	}
	return nil, newJSONError(p.what, p.src, start, fmt.Sprintf("unexpected token %v", tok))
}

func (p *jsonParser) object(depth int) (any, error) {
	m := map[string]any{}
	for p.dec.More() {
		at := p.dec.InputOffset()
		tok, err := p.dec.Token()
		if err != nil {
			return nil, p.fail(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, newJSONError(p.what, p.src, at, "object key must be a string")
		}
		if _, dup := m[key]; dup {
			return nil, newJSONError(p.what, p.src, skipSpace(p.src, at), fmt.Sprintf("duplicate key %q", key))
		}
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		m[key] = v
	}
	if _, err := p.dec.Token(); err != nil { // the closing brace
		return nil, p.fail(err)
	}
	return m, nil
}

func (p *jsonParser) array(depth int) (any, error) {
	a := []any{}
	for p.dec.More() {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
	}
	if _, err := p.dec.Token(); err != nil {
		return nil, p.fail(err)
	}
	return a, nil
}

// number keeps integers integral: int64 or uint64 when they fit, a big.Int
// (a CBOR integer up to 64 bits of magnitude, a bignum beyond) otherwise.
func (p *jsonParser) number(n json.Number, start int64) (any, error) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u, nil
		}
		b, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, newJSONError(p.what, p.src, skipSpace(p.src, start), fmt.Sprintf("bad number %s", s))
		}
		return b, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, newJSONError(p.what, p.src, skipSpace(p.src, start), fmt.Sprintf("number %s does not fit a 64-bit float", s))
	}
	return f, nil
}

// skipSpace moves an offset reported before a token to the token itself
// (json.Decoder offsets point after the previous token, separators included).
func skipSpace(src []byte, at int64) int64 {
	for at < int64(len(src)) {
		switch src[at] {
		case ' ', '\t', '\r', '\n', ',', ':':
			at++
			continue
		}
		break
	}
	return at
}

// CBOR → JSON.
//
// Replies come from guests, so the decoder is written for hostile input: it
// never allocates more than the input's size suggests, bounds nesting, and
// turns anything JSON cannot hold into an error or a documented stand-in:
//
//   - map keys that are not text become strings: numbers and simple values in
//     their JSON form, byte strings in base64, arrays and maps as their JSON;
//   - byte strings become base64 (standard alphabet, padded);
//   - bignums (tags 2 and 3) become JSON integers; tags 0 and 1 (date/time)
//     become their content; other tags become {"tag": N, "value": V};
//   - undefined becomes null; other simple values become {"simple": N};
//   - NaN and the infinities become the strings "NaN", "Infinity", "-Infinity".

// maxCBORDepth bounds nesting of replies.
const maxCBORDepth = 64

var errCBOR = errors.New("malformed CBOR")

// CBORToJSON converts one CBOR data item to compact JSON. An empty input (a
// reply without payload) is null. Trailing bytes are an error.
func CBORToJSON(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return []byte("null"), nil
	}
	d := cborDecoder{b: b}
	var out bytes.Buffer
	if err := d.item(&out, 0); err != nil {
		return nil, err
	}
	if d.off != len(d.b) {
		return nil, d.errorf("%d trailing bytes after the value", len(d.b)-d.off)
	}
	return out.Bytes(), nil
}

type cborDecoder struct {
	b   []byte
	off int
}

func (d *cborDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", errCBOR, d.off, fmt.Sprintf(format, args...))
}

// head reads an initial byte and its argument. indef reports additional
// information 31 (indefinite length, or the break code for major type 7).
func (d *cborDecoder) head() (major byte, info byte, arg uint64, indef bool, err error) {
	if d.off >= len(d.b) {
		return 0, 0, 0, false, d.errorf("unexpected end of input")
	}
	ib := d.b[d.off]
	d.off++
	major, info = ib>>5, ib&0x1f
	var n int
	switch {
	case info < 24:
		return major, info, uint64(info), false, nil
	case info == 24:
		n = 1
	case info == 25:
		n = 2
	case info == 26:
		n = 4
	case info == 27:
		n = 8
	case info == 31:
		return major, info, 0, true, nil
	default:
		d.off--
		return 0, 0, 0, false, d.errorf("reserved additional information %d", info)
	}
	if len(d.b)-d.off < n {
		return 0, 0, 0, false, d.errorf("unexpected end of input")
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	switch n {
	case 1:
		arg = uint64(p[0])
	case 2:
		arg = uint64(binary.BigEndian.Uint16(p))
	case 4:
		arg = uint64(binary.BigEndian.Uint32(p))
	case 8:
		arg = binary.BigEndian.Uint64(p)
	}
	return major, info, arg, false, nil
}

// remaining guards declared lengths: every element takes at least one byte,
// so a count above what is left is malformed, and nothing is preallocated
// from an attacker's number.
func (d *cborDecoder) remaining() uint64 { return uint64(len(d.b) - d.off) }

func (d *cborDecoder) item(out *bytes.Buffer, depth int) error {
	if depth > maxCBORDepth {
		return d.errorf("nested deeper than %d levels", maxCBORDepth)
	}
	start := d.off
	major, info, arg, indef, err := d.head()
	if err != nil {
		return err
	}
	switch major {
	case 0:
		out.WriteString(strconv.FormatUint(arg, 10))
	case 1:
		writeNegative(out, arg)
	case 2:
		s, err := d.str(major, arg, indef)
		if err != nil {
			return err
		}
		writeJSONString(out, base64.StdEncoding.EncodeToString(s))
	case 3:
		s, err := d.str(major, arg, indef)
		if err != nil {
			return err
		}
		if !utf8.Valid(s) {
			d.off = start
			return d.errorf("text string is not valid UTF-8")
		}
		writeJSONString(out, string(s))
	case 4:
		return d.array(out, arg, indef, depth)
	case 5:
		return d.mapping(out, arg, indef, depth)
	case 6:
		return d.tag(out, arg, indef, depth)
	case 7:
		return d.simple(out, info, arg, indef)
	}
	return nil
}

// str reads a byte or text string, joining indefinite-length chunks.
func (d *cborDecoder) str(major byte, n uint64, indef bool) ([]byte, error) {
	if !indef {
		if n > d.remaining() {
			return nil, d.errorf("string of %d bytes with only %d left", n, d.remaining())
		}
		s := d.b[d.off : d.off+int(n)]
		d.off += int(n)
		return s, nil
	}
	var s []byte
	for {
		if d.off < len(d.b) && d.b[d.off] == 0xff {
			d.off++
			return s, nil
		}
		m, _, cn, cindef, err := d.head()
		if err != nil {
			return nil, err
		}
		if m != major || cindef {
			return nil, d.errorf("indefinite-length string chunk of the wrong type")
		}
		if cn > d.remaining() {
			return nil, d.errorf("string chunk of %d bytes with only %d left", cn, d.remaining())
		}
		s = append(s, d.b[d.off:d.off+int(cn)]...)
		d.off += int(cn)
	}
}

// more reports whether a container has another element, consuming the break
// code of an indefinite-length one.
func (d *cborDecoder) more(i, n uint64, indef bool) (bool, error) {
	if !indef {
		return i < n, nil
	}
	if d.off >= len(d.b) {
		return false, d.errorf("unexpected end of input in an indefinite-length container")
	}
	if d.b[d.off] == 0xff {
		d.off++
		return false, nil
	}
	return true, nil
}

func (d *cborDecoder) array(out *bytes.Buffer, n uint64, indef bool, depth int) error {
	if !indef && n > d.remaining() {
		return d.errorf("array of %d items with only %d bytes left", n, d.remaining())
	}
	out.WriteByte('[')
	for i := uint64(0); ; i++ {
		ok, err := d.more(i, n, indef)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if i > 0 {
			out.WriteByte(',')
		}
		if err := d.item(out, depth+1); err != nil {
			return err
		}
	}
	out.WriteByte(']')
	return nil
}

func (d *cborDecoder) mapping(out *bytes.Buffer, n uint64, indef bool, depth int) error {
	if !indef && n > d.remaining()/2 {
		return d.errorf("map of %d pairs with only %d bytes left", n, d.remaining())
	}
	seen := map[string]struct{}{}
	var key bytes.Buffer
	out.WriteByte('{')
	for i := uint64(0); ; i++ {
		ok, err := d.more(i, n, indef)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if i > 0 {
			out.WriteByte(',')
		}
		at := d.off
		k, err := d.key(&key, depth+1)
		if err != nil {
			return err
		}
		if _, dup := seen[k]; dup {
			d.off = at
			return d.errorf("duplicate map key %q (after conversion to a JSON key)", k)
		}
		seen[k] = struct{}{}
		writeJSONString(out, k)
		out.WriteByte(':')
		if err := d.item(out, depth+1); err != nil {
			return err
		}
	}
	out.WriteByte('}')
	return nil
}

// key reads a map key as the string JSON will use.
func (d *cborDecoder) key(buf *bytes.Buffer, depth int) (string, error) {
	if d.off < len(d.b) {
		switch d.b[d.off] >> 5 {
		case 3: // text: itself
			start := d.off
			major, _, arg, indef, err := d.head()
			if err != nil {
				return "", err
			}
			s, err := d.str(major, arg, indef)
			if err != nil {
				return "", err
			}
			if !utf8.Valid(s) {
				d.off = start
				return "", d.errorf("text string is not valid UTF-8")
			}
			return string(s), nil
		case 2: // bytes: base64, as the value would print
			major, _, arg, indef, err := d.head()
			if err != nil {
				return "", err
			}
			s, err := d.str(major, arg, indef)
			if err != nil {
				return "", err
			}
			return base64.StdEncoding.EncodeToString(s), nil
		}
	}
	// Anything else: its JSON text, unquoted for a bare string result.
	buf.Reset()
	if err := d.item(buf, depth); err != nil {
		return "", err
	}
	k := buf.String()
	if len(k) > 0 && k[0] == '"' {
		var s string
		if err := json.Unmarshal(buf.Bytes(), &s); err == nil {
			return s, nil
		}
	}
	return k, nil
}

func (d *cborDecoder) tag(out *bytes.Buffer, num uint64, indef bool, depth int) error {
	if indef {
		return d.errorf("a tag cannot have indefinite length")
	}
	switch num {
	case 2, 3: // bignums
		if d.off < len(d.b) && d.b[d.off]>>5 == 2 {
			major, _, arg, sindef, err := d.head()
			if err != nil {
				return err
			}
			s, err := d.str(major, arg, sindef)
			if err != nil {
				return err
			}
			v := new(big.Int).SetBytes(s)
			if num == 3 {
				v.Neg(v).Sub(v, big.NewInt(1))
			}
			out.WriteString(v.String())
			return nil
		}
	case 0, 1: // date/time: the content is readable as it is
		return d.item(out, depth+1)
	}
	out.WriteString(`{"tag":`)
	out.WriteString(strconv.FormatUint(num, 10))
	out.WriteString(`,"value":`)
	if err := d.item(out, depth+1); err != nil {
		return err
	}
	out.WriteByte('}')
	return nil
}

func (d *cborDecoder) simple(out *bytes.Buffer, info byte, arg uint64, indef bool) error {
	if indef {
		d.off--
		return d.errorf("unexpected break code")
	}
	switch info {
	case 25:
		writeFloat(out, float64(halfToFloat32(uint16(arg))))
		return nil
	case 26:
		writeFloat(out, float64(math.Float32frombits(uint32(arg))))
		return nil
	case 27:
		writeFloat(out, math.Float64frombits(arg))
		return nil
	}
	if info == 24 && arg < 32 {
		return d.errorf("simple value %d in two-byte form", arg)
	}
	switch arg {
	case 20:
		out.WriteString("false")
	case 21:
		out.WriteString("true")
	case 22, 23: // null, undefined
		out.WriteString("null")
	default:
		out.WriteString(`{"simple":`)
		out.WriteString(strconv.FormatUint(arg, 10))
		out.WriteByte('}')
	}
	return nil
}

// writeNegative writes CBOR's -1-n, which may be below math.MinInt64.
func writeNegative(out *bytes.Buffer, n uint64) {
	if n < math.MaxInt64 {
		out.WriteString(strconv.FormatInt(-1-int64(n), 10))
		return
	}
	v := new(big.Int).SetUint64(n)
	out.WriteString(v.Neg(v).Sub(v, big.NewInt(1)).String())
}

func writeFloat(out *bytes.Buffer, f float64) {
	switch {
	case math.IsNaN(f):
		out.WriteString(`"NaN"`)
	case math.IsInf(f, 1):
		out.WriteString(`"Infinity"`)
	case math.IsInf(f, -1):
		out.WriteString(`"-Infinity"`)
	default:
		b, _ := json.Marshal(f) // finite floats always marshal
		out.Write(b)
	}
}

// writeJSONString quotes s without HTML escaping: replies are read by people
// and shells, not embedded in web pages.
func writeJSONString(out *bytes.Buffer, s string) {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // strings always encode
	out.Truncate(out.Len() - 1)
}

// halfToFloat32 widens an IEEE 754 half-precision float.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h & 0x3ff)
	switch exp {
	case 0:
		if frac == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: value = frac * 2^-24.
		f := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}
