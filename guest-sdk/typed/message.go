package typed

// Type tags: a message type named N travels as CBOR tag ID(N) over its body.
const (
	// TagBase is the first tag number of message types; ID(name) is
	// TagBase plus the 30-bit FNV-1a hash of name, so every type tag is a
	// 5-byte head (0xda and four bytes) in [0x80000000, 0xbfffffff].
	TagBase = 0x8000_0000
	tagMask = 0x3fff_ffff
)

// ID returns the type tag of the message type named name: TagBase plus the
// low 30 bits of the 32-bit FNV-1a hash of name's bytes. Any language
// computes it in a few lines, and the CLI computes it from --type NAME, so
// no schema is needed to address a type.
//
// Two names of one actor's protocol that hash alike are caught when the
// actor's router is built (the SDK panics at init, so deploy refuses the
// module); across protocols a shared tag means a shared name, as a shared
// JSON "op" does.
func ID(name string) uint64 {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	return TagBase + uint64(h&tagMask)
}

// IsType reports whether tag is in the range of message type tags.
func IsType(tag uint64) bool { return tag >= TagBase && tag <= TagBase+tagMask }

// Encoder is implemented by every type `wasmactor gen` writes a codec for:
// AppendCBOR appends the value's body (without the type tag) to b.
type Encoder interface {
	AppendCBOR(b []byte) []byte
}

// Decoder is implemented by pointers to generated types: ReadCBOR decodes
// one body from the start of b (accepting the type's own tag in front of
// it) and returns the bytes after it. It resets the value first, so fields
// absent from the input are zero.
type Decoder interface {
	ReadCBOR(b []byte) ([]byte, error)
}

// Message is a type declared with //wasmactor:message: it has a name, a
// type tag (ID of the name) and a generated codec.
type Message interface {
	Encoder
	MessageType() uint64
	MessageName() string
}

// Request is a message declared with a reply type
// (//wasmactor:message reply=R): ReplyType is a marker that returns R's zero
// value, so a typed call's answer type is inferred from its request.
type Request[R any] interface {
	Message
	ReplyType() R
}

// Ptr is the constraint a typed call puts on a pointer to its answer type:
// *T decodes.
type Ptr[T any] interface {
	*T
	Decoder
}

// Append appends m in its wire form, tag then body.
func Append[M Message](b []byte, m M) []byte {
	return m.AppendCBOR(AppendTag(b, m.MessageType()))
}

// Marshal returns m in its wire form. Generated MarshalCBOR methods use it,
// so fxamacker/cbor (the untyped APIs) writes typed messages in the same
// form.
func Marshal[M Message](m M) []byte { return Append(make([]byte, 0, 64), m) }

// Unmarshal decodes data, a whole message (tagged or bare body), into v.
// Generated UnmarshalCBOR methods use it.
func Unmarshal(data []byte, v Decoder) error {
	rest, err := v.ReadCBOR(data)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errTrailing
	}
	return nil
}

// Split reads the type tag in front of a typed message: the tag and the
// body after it. ok is false for anything else (an untyped message).
func Split(data []byte) (tag uint64, body []byte, ok bool) {
	// The fast path: a type tag is always 0xda and four bytes.
	if len(data) >= 5 && data[0] == 0xda && data[1]&0xc0 == 0x80 {
		tag = uint64(data[1])<<24 | uint64(data[2])<<16 | uint64(data[3])<<8 | uint64(data[4])
		return tag, data[5:], true
	}
	return 0, data, false
}

// Decode decodes a typed message of type T: data must carry T's tag.
//
// # Errors
//
// An [*Error] when data is an error reply; [ErrUnexpectedReply] when it is
// a message of another type or untyped; [ErrMalformed] when the body does
// not decode.
func Decode[T Message, P Ptr[T]](data []byte) (T, error) {
	var v T
	tag, body, ok := Split(data)
	switch {
	case ok && tag == v.MessageType():
		rest, err := P(&v).ReadCBOR(body)
		if err == nil && len(rest) != 0 {
			err = errTrailing
		}
		return v, err
	case ok && tag == ErrorType:
		e := new(Error)
		if err := Unmarshal(body, e); err != nil {
			return v, err
		}
		return v, e
	case !ok:
		return v, &unexpectedError{want: v.MessageName(), wantTag: v.MessageType(), untyped: true}
	}
	return v, &unexpectedError{want: v.MessageName(), wantTag: v.MessageType(), got: tag}
}

// unexpectedError names the type that was expected and the tag that came.
type unexpectedError struct {
	want         string
	wantTag, got uint64
	untyped      bool
}

func (e *unexpectedError) Error() string {
	got := "an untyped message"
	if !e.untyped {
		got = "a message of type tag " + Hex(e.got)
	}
	return ErrUnexpectedReply.Error() + ": want " + e.want + " (" + Hex(e.wantTag) + "), got " + got
}

func (e *unexpectedError) Unwrap() error { return ErrUnexpectedReply }
