package typedgen

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wasmactor/wasmactor/guest-sdk/typed"
)

func (g *gen) writeMessage(w io.Writer, m *message) {
	t := m.GoName
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	tag := typed.Hex(m.Tag)

	p("// MessageType returns the type tag of %s: typed.ID(%q).", t, m.Name)
	p("func (%s) MessageType() uint64 { return %s }", t, tag)
	p("")
	p("// MessageName returns the name of %s on the wire.", t)
	p("func (%s) MessageName() string { return %q }", t, m.Name)
	p("")
	if m.Reply != "" {
		p("// ReplyType marks %s as the answer to an ask of %s.", m.Reply, t)
		p("func (%s) ReplyType() (r %s) { return }", t, m.Reply)
		p("")
	}

	// AppendCBOR
	fixed := 0
	for _, f := range m.fields {
		if !f.omitEmpty || f.t.kind == kCodec {
			fixed++
		}
	}
	p("// AppendCBOR appends the body of v (a map; no type tag) to b.")
	p("func (v %s) AppendCBOR(b []byte) []byte {", t)
	if fixed == len(m.fields) {
		p("b = typed.AppendMapHeader(b, %d)", fixed)
	} else {
		p("n := %d", fixed)
		for _, f := range m.fields {
			if f.omitEmpty && f.t.kind != kCodec {
				p("if %s { n++ }", nonEmpty("v."+f.goName, f.t))
			}
		}
		p("b = typed.AppendMapHeader(b, n)")
	}
	for _, f := range m.fields {
		key := keyLiteral(f.key)
		if f.omitEmpty && f.t.kind != kCodec {
			p("if %s {", nonEmpty("v."+f.goName, f.t))
		}
		p("b = append(b, %s...)", key)
		enc(w, "v."+f.goName, f.t, 0)
		if f.omitEmpty && f.t.kind != kCodec {
			p("}")
		}
	}
	p("return b")
	p("}")
	p("")

	// ReadCBOR
	p("// ReadCBOR decodes a body of %s, with or without its type tag in front,", t)
	p("// from the start of b and returns the bytes after it. Keys it does not")
	p("// know are skipped; fields absent from b are zero.")
	p("func (v *%s) ReadCBOR(b []byte) ([]byte, error) {", t)
	p("*v = %s{}", t)
	p("b = typed.SkipTag(b, %s)", tag)
	p("if typed.IsNull(b) { return b[1:], nil }")
	strs := 0
	for _, f := range m.fields {
		if f.t.kind == kString {
			strs++
		}
	}
	if strs >= 2 {
		p("var strs typed.Strings // one copy for the %d string fields", strs)
		p("strs.Init(b)")
	}
	p("n, b, err := typed.ReadMapHeader(b)")
	p("if err != nil { return b, typed.FieldError(%q, \"\", err) }", m.Name)
	p("for ; n > 0; n-- {")
	// Short keys are read here rather than by a call: in a Go wasm guest a
	// call costs more than the read (docs/RATIONALE.md).
	p("var key []byte")
	p("if len(b) > 1 && b[0]-0x60 < 24 && int(b[0]-0x60) < len(b) {")
	p("key, b = b[1:1+b[0]-0x60], b[1+b[0]-0x60:]")
	p("} else if key, b, err = typed.ReadText(b); err != nil { return b, typed.FieldError(%q, \"\", err) }", m.Name)
	p("switch string(key) {")
	for _, f := range m.fields {
		p("case %q:", f.key)
		if strs >= 2 && f.t.kind == kString {
			p("{")
			p("var x0 string")
			p("x0, b, err = strs.ReadString(b)")
			p("v.%s = %s(x0)", f.goName, f.t.goType)
			p("}")
			p("if err != nil { return b, typed.FieldError(%q, %q, err) }", m.Name, f.key)
			continue
		}
		dec(w, "v."+f.goName, f.t, 0)
		p("if err != nil { return b, typed.FieldError(%q, %q, err) }", m.Name, f.key)
	}
	p("default:")
	p("if b, err = typed.Skip(b); err != nil { return b, typed.FieldError(%q, string(key), err) }", m.Name)
	p("}")
	p("}")
	p("return b, nil")
	p("}")
	p("")

	p("// MarshalCBOR returns v tagged with its type, so fxamacker/cbor writes")
	p("// %s as the typed APIs do.", t)
	p("func (v %s) MarshalCBOR() ([]byte, error) { return typed.Marshal(v), nil }", t)
	p("")
	p("// UnmarshalCBOR decodes a whole %s, tagged or not.", t)
	p("func (v *%s) UnmarshalCBOR(b []byte) error { return typed.Unmarshal(b, v) }", t)
	p("")
}

// nonEmpty is the omitempty test of a field.
func nonEmpty(x string, t *ftype) string {
	switch t.kind {
	case kBool:
		return x
	case kString:
		return x + ` != ""`
	case kInt, kUint, kFloat32, kFloat64:
		return x + " != 0"
	case kBytes, kSlice, kMap:
		return "len(" + x + ") != 0"
	case kPtr:
		return x + " != nil"
	}
	return "true"
}

// enc writes statements appending the value x of type t to b. depth names
// loop variables apart.
func enc(w io.Writer, x string, t *ftype, depth int) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	switch t.kind {
	case kBool:
		p("b = typed.AppendBool(b, bool(%s))", x)
	case kString:
		p("b = typed.AppendText(b, string(%s))", x)
	case kInt:
		p("b = typed.AppendInt(b, int64(%s))", x)
	case kUint:
		p("b = typed.AppendUint(b, uint64(%s))", x)
	case kFloat32:
		p("b = typed.AppendFloat32(b, float32(%s))", x)
	case kFloat64:
		p("b = typed.AppendFloat64(b, float64(%s))", x)
	case kBytes:
		p("b = typed.AppendBytes(b, []byte(%s))", x)
	case kCodec:
		p("b = %s.AppendCBOR(b)", x)
	case kPtr:
		p("if %s == nil { b = typed.AppendNull(b) } else {", x)
		enc(w, "(*"+x+")", t.elem, depth)
		p("}")
	case kSlice:
		e := "e" + strconv.Itoa(depth)
		p("if %s == nil { b = typed.AppendNull(b) } else {", x)
		p("b = typed.AppendArrayHeader(b, len(%s))", x)
		p("for _, %s := range %s {", e, x)
		enc(w, e, t.elem, depth+1)
		p("}")
		p("}")
	case kMap:
		k, e := "k"+strconv.Itoa(depth), "e"+strconv.Itoa(depth)
		p("if %s == nil { b = typed.AppendNull(b) } else {", x)
		p("b = typed.AppendMapHeader(b, len(%s))", x)
		p("for %s, %s := range %s {", k, e, x)
		p("b = typed.AppendText(b, %s)", k)
		enc(w, e, t.elem, depth+1)
		p("}")
		p("}")
	}
}

// dec writes statements decoding a value of type t from b into the
// addressable x. On failure they leave err set and read no further.
func dec(w io.Writer, x string, t *ftype, depth int) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	d := strconv.Itoa(depth)
	scalar := func(tmp, read, conv string) {
		p("{")
		p("var x%s %s", d, tmp)
		p("x%s, b, err = %s", d, read)
		p("%s = %s(x%s)", x, conv, d)
		p("}")
	}
	switch t.kind {
	case kBool:
		scalar("bool", "typed.ReadBool(b)", t.goType)
	case kString:
		scalar("string", "typed.ReadString(b)", t.goType)
	case kInt, kUint:
		// Values below 24 fit every integer type and are one byte: read
		// inline, like keys.
		read, tmp := "typed.ReadIntN(b, "+bitsOf(t)+")", "int64"
		if t.kind == kUint {
			read, tmp = "typed.ReadUintN(b, "+bitsOf(t)+")", "uint64"
		}
		p("if len(b) > 0 && b[0] < 24 {")
		p("%s, b = %s(b[0]), b[1:]", x, t.goType)
		p("} else {")
		scalar(tmp, read, t.goType)
		p("}")
	case kFloat32, kFloat64:
		scalar("float64", "typed.ReadFloat(b)", t.goType)
	case kBytes:
		scalar("[]byte", "typed.ReadBytes(b)", parenType(t.goType))
	case kCodec:
		p("b, err = %s.ReadCBOR(b)", x)
	case kPtr:
		p("if typed.IsNull(b) { b, %s = b[1:], nil } else {", x)
		p("%s = new(%s)", x, t.elem.goType)
		dec(w, "(*"+x+")", t.elem, depth+1)
		p("}")
	case kSlice, kMap:
		n, e := "n"+d, "e"+d
		p("if typed.IsNull(b) { b, %s = b[1:], nil } else {", x)
		p("var %s int", n)
		if t.kind == kSlice {
			p("%s, b, err = typed.ReadArrayHeader(b)", n)
			p("if err == nil { %s = make(%s, 0, min(%s, typed.MaxPrealloc)) }", x, parenType(t.goType), n)
		} else {
			p("%s, b, err = typed.ReadMapHeader(b)", n)
			p("if err == nil { %s = make(%s, min(%s, typed.MaxPrealloc)) }", x, t.goType, n)
		}
		p("for ; err == nil && %s > 0; %s-- {", n, n)
		if t.kind == kMap {
			k := "k" + d
			p("var %s string", k)
			p("if %s, b, err = typed.ReadString(b); err != nil { break }", k)
			p("var %s %s", e, t.elem.goType)
			dec(w, e, t.elem, depth+1)
			p("%s[%s] = %s", x, k, e)
		} else {
			p("var %s %s", e, t.elem.goType)
			dec(w, e, t.elem, depth+1)
			p("%s = append(%s, %s)", x, x, e)
		}
		p("}")
		p("}")
	}
}

func bitsOf(t *ftype) string {
	if t.bits == 0 {
		return "typed.IntBits"
	}
	return strconv.Itoa(t.bits)
}

// parenType makes a type usable in a conversion: []byte(x) is fine, but
// a pointer type needs parentheses.
func parenType(s string) string {
	if strings.HasPrefix(s, "*") {
		return "(" + s + ")"
	}
	return s
}

// keyLiteral is a map key in its CBOR form as a Go string literal: the
// text head as an escape, then the key, so the generated code reads as the
// key it writes.
func keyLiteral(key string) string {
	var b strings.Builder
	b.WriteByte('"')
	head := typed.AppendText(nil, key)
	head = head[:len(head)-len(key)]
	for _, c := range head {
		fmt.Fprintf(&b, "\\x%02x", c)
	}
	q := strconv.Quote(key)
	b.WriteString(q[1 : len(q)-1])
	b.WriteByte('"')
	return b.String()
}
