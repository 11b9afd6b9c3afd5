package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/wasmactor/wasmactor/internal/cbormode"
)

// Messages typed on the command line are JSON; guests speak CBOR. The
// mapping keeps JSON's types apart (an integer stays a CBOR integer, a number
// with a fraction or exponent becomes a float), so a guest decoding into an
// int field never sees a float it would reject.

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
	// The cluster's deterministic mode: the same JSON gives the same bytes on
	// every run.
	b, err := cbormode.Deterministic().Marshal(v)
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
// Replies come from guests, so they are hostile input. fxamacker/cbor checks
// a whole reply first (well-formed, declared lengths against the bytes
// present, nesting depth, no trailing data) and decodes every scalar; what
// is left here is a walk over arrays, maps and tags that writes JSON in the
// reply's own order. It does not decode maps into Go maps, which would lose
// the order of the keys: a guest's struct reply reads best in field order.

// maxCBORDepth bounds nesting (arrays, maps and tags) of replies.
const maxCBORDepth = 64

// maxJSONGrowth bounds the JSON against the CBOR it came from. Output is
// linear in the input except for map keys that are themselves maps: each
// level escapes the quotes of the one inside, doubling them, so a reply of
// a few dozen bytes could otherwise print exabytes. Other replies stay far
// below the bound: the worst, a run of one-byte tag heads, prints 18 bytes
// for each.
const maxJSONGrowth = 64

// maxJSONLen is the most JSON a reply of n bytes may print as.
func maxJSONLen(n int) int { return maxJSONGrowth*n + 4096 }

var errCBOR = errors.New("malformed CBOR")

// replyDecMode accepts any well-formed CBOR a guest may send: tags and
// indefinite lengths included, unlike the strict mode the cluster uses for
// its own bodies. Element counts are not capped beyond the input's size:
// the walk streams, allocating nothing per declared element.
var replyDecMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		MaxNestedLevels:  maxCBORDepth,
		MaxArrayElements: math.MaxInt32,
		MaxMapPairs:      math.MaxInt32,
		IndefLength:      cbor.IndefLengthAllowed,
		TagsMd:           cbor.TagsAllowed,
		BigIntDec:        cbor.BigIntDecodePointer,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// CBORToJSON converts one CBOR data item to compact JSON. An empty input (a
// reply without payload) is null. Trailing bytes are an error. What JSON
// cannot hold as is becomes:
//
//   - map keys that are not text: strings, with numbers and simple values in
//     their JSON form, byte strings in base64, arrays and maps as their JSON;
//     two keys that become the same string are an error;
//   - byte strings: base64 (standard alphabet, padded);
//   - bignums (tags 2 and 3): JSON integers; tags 0 and 1 (date/time): their
//     content; other tags: {"tag": N, "value": V};
//   - undefined: null; other simple values: {"simple": N};
//   - NaN and the infinities: the strings "NaN", "Infinity", "-Infinity".
func CBORToJSON(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return []byte("null"), nil
	}
	if err := replyDecMode.Wellformed(b); err != nil {
		return nil, fmt.Errorf("%w: %s", errCBOR, strings.TrimPrefix(err.Error(), "cbor: "))
	}
	w := jsonWalker{in: b, limit: maxJSONLen(len(b))}
	var out bytes.Buffer
	if _, err := w.item(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

type jsonWalker struct {
	in    []byte // the whole reply, for error offsets
	limit int    // most bytes any output buffer may hold
}

func (w *jsonWalker) errorf(at []byte, format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", errCBOR, len(w.in)-len(at), fmt.Sprintf(format, args...))
}

// item writes the data item at the start of b as JSON and returns the bytes
// after it. b is well-formed, so container heads are read without checks.
func (w *jsonWalker) item(out *bytes.Buffer, b []byte) ([]byte, error) {
	major, arg, indef, rest := cborHead(b)
	switch major {
	case cborArray:
		out.WriteByte('[')
		rest, err := eachItem(rest, arg, indef, func(i uint64, b []byte) ([]byte, error) {
			if i > 0 {
				out.WriteByte(',')
			}
			return w.item(out, b)
		})
		out.WriteByte(']')
		return rest, err
	case cborMap:
		return w.mapping(out, rest, arg, indef)
	case cborTag:
		if bignum := (arg == 2 || arg == 3) && rest[0]>>5 == cborBytes; !bignum {
			return w.tag(out, arg, rest)
		}
	}
	var v any // a scalar or a bignum
	rest, err := replyDecMode.UnmarshalFirst(b, &v)
	if err != nil {
		return nil, w.errorf(b, "%s", strings.TrimPrefix(err.Error(), "cbor: "))
	}
	writeJSONScalar(out, v)
	return rest, nil
}

func (w *jsonWalker) tag(out *bytes.Buffer, num uint64, content []byte) ([]byte, error) {
	if num == 0 || num == 1 {
		return w.item(out, content) // date/time: the content reads as it is
	}
	fmt.Fprintf(out, `{"tag":%d,"value":`, num)
	rest, err := w.item(out, content)
	out.WriteByte('}')
	return rest, err
}

func (w *jsonWalker) mapping(out *bytes.Buffer, b []byte, n uint64, indef bool) ([]byte, error) {
	seen := map[string]struct{}{}
	var key bytes.Buffer
	out.WriteByte('{')
	rest, err := eachItem(b, n, indef, func(i uint64, b []byte) ([]byte, error) {
		key.Reset()
		val, err := w.item(&key, b)
		if err != nil {
			return nil, err
		}
		k := key.String()
		if s := ""; len(k) > 0 && k[0] == '"' && json.Unmarshal(key.Bytes(), &s) == nil {
			k = s // text, bytes and tagged text keys: the string itself
		}
		if _, dup := seen[k]; dup {
			return nil, w.errorf(b, "duplicate map key %q (after conversion to a JSON key)", k)
		}
		seen[k] = struct{}{}
		if i > 0 {
			out.WriteByte(',')
		}
		writeJSONScalar(out, k)
		if out.Len() > w.limit {
			return nil, w.errorf(b, "map keys nested in map keys print as more than %d times the reply's size", maxJSONGrowth)
		}
		out.WriteByte(':')
		return w.item(out, val)
	})
	out.WriteByte('}')
	return rest, err
}

// CBOR major types the walk treats itself.
const (
	cborBytes = 2
	cborArray = 4
	cborMap   = 5
	cborTag   = 6
)

// cborHead splits a well-formed item's initial byte and argument from what
// follows. indef reports an indefinite length.
func cborHead(b []byte) (major byte, arg uint64, indef bool, rest []byte) {
	major, info := b[0]>>5, b[0]&0x1f
	b = b[1:]
	switch {
	case info < 24:
		return major, uint64(info), false, b
	case info == 31:
		return major, 0, true, b
	}
	n := 1 << (info - 24) // 24..27: 1, 2, 4 or 8 bytes follow
	for _, c := range b[:n] {
		arg = arg<<8 | uint64(c)
	}
	return major, arg, false, b[n:]
}

// eachItem calls f on each of the n elements (items, or key/value pairs for
// f to split) that follow a container head, or on each element up to the
// break code of an indefinite-length container, and returns what follows.
func eachItem(b []byte, n uint64, indef bool, f func(i uint64, b []byte) ([]byte, error)) ([]byte, error) {
	for i := uint64(0); indef || i < n; i++ {
		if indef && b[0] == 0xff {
			return b[1:], nil
		}
		var err error
		if b, err = f(i, b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// writeJSONScalar writes a value decoded by replyDecMode, or a string,
// without HTML escaping: replies are read by people and shells, not
// embedded in web pages. Byte strings become base64, *big.Int an integer.
func writeJSONScalar(out *bytes.Buffer, v any) {
	switch v := v.(type) {
	case float64:
		switch {
		case math.IsNaN(v):
			out.WriteString(`"NaN"`)
			return
		case math.IsInf(v, 1):
			out.WriteString(`"Infinity"`)
			return
		case math.IsInf(v, -1):
			out.WriteString(`"-Infinity"`)
			return
		}
	case cbor.SimpleValue:
		fmt.Fprintf(out, `{"simple":%d}`, v)
		return
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // what replyDecMode decodes always encodes
	out.Truncate(out.Len() - 1)
}
