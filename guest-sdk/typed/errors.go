package typed

import (
	"errors"
	"strconv"
)

// Sentinels for errors of typed messaging. Match them with errors.Is.
var (
	// ErrMalformed: bytes that are not a well-formed message of the
	// expected type (wrong CBOR type for a field, an integer out of range,
	// truncated input, an indefinite length...).
	ErrMalformed = errors.New("wasmactor: malformed typed message")
	// ErrUnknownType: the actor has no handler for the message's type.
	ErrUnknownType = errors.New("wasmactor: unknown message type")
	// ErrNotAsk: the message's type is handled as a one-way message, so an
	// ask of it gets no answer but this error.
	ErrNotAsk = errors.New("wasmactor: message type takes no reply")
	// ErrUnexpectedReply: an answer that is neither the reply type the
	// caller expects nor an [Error].
	ErrUnexpectedReply = errors.New("wasmactor: unexpected reply type")
)

// wireError is a malformed-input error with a fixed text, so readers return
// it without allocating.
type wireError struct{ msg string }

func (e *wireError) Error() string        { return ErrMalformed.Error() + ": " + e.msg }
func (e *wireError) Is(target error) bool { return target == ErrMalformed }

var (
	errShort      = &wireError{"truncated, or a length larger than the input"}
	errIndefinite = &wireError{"indefinite-length items are not accepted"}
	errReserved   = &wireError{"reserved CBOR head"}
	errRange      = &wireError{"integer out of range for the field"}
	errUTF8       = &wireError{"text is not valid UTF-8"}
	errTrailing   = &wireError{"bytes after the message"}
	errWantMap    = &wireError{"want a map"}
	errWantArray  = &wireError{"want an array"}
	errWantTag    = &wireError{"want a tag"}
	errWantInt    = &wireError{"want an integer"}
	errWantBool   = &wireError{"want true or false"}
	errWantFloat  = &wireError{"want a number"}
	errWantText   = &wireError{"want a text string"}
	errWantBytes  = &wireError{"want a byte string"}
)

// FieldError says which field of which type did not decode. Generated
// readers return it; it matches [ErrMalformed].
func FieldError(typ, field string, err error) error {
	return &fieldError{typ: typ, field: field, err: err}
}

type fieldError struct {
	typ, field string
	err        error
}

func (e *fieldError) Error() string {
	path := e.typ
	var err error = e
	for {
		f, ok := err.(*fieldError)
		if !ok {
			break
		}
		if f.field != "" {
			path += "." + f.field
		}
		err = f.err
	}
	msg := err.Error()
	if w, ok := err.(*wireError); ok {
		msg = w.msg
	}
	return ErrMalformed.Error() + ": " + path + ": " + msg
}

func (e *fieldError) Unwrap() error        { return e.err }
func (e *fieldError) Is(target error) bool { return target == ErrMalformed }

// ErrorCode says what kind of failure an [Error] reply reports.
type ErrorCode uint64

const (
	// CodeFailed: the handler returned an error; Message is its text.
	CodeFailed ErrorCode = 0
	// CodeUnknownType: no handler for the message's type ([ErrUnknownType]).
	CodeUnknownType ErrorCode = 1
	// CodeMalformed: the message did not decode as its type ([ErrMalformed]).
	CodeMalformed ErrorCode = 2
	// CodeNotAsk: an ask of a one-way message type ([ErrNotAsk]).
	CodeNotAsk ErrorCode = 3
)

// Error is the reply an actor sends instead of the expected answer when an
// ask fails: its type is the well-known [ErrorType]. Typed calls return it
// as their error (match with errors.As, or errors.Is against
// [ErrUnknownType], [ErrMalformed], [ErrNotAsk]).
//
// On the wire it is tag [ErrorType] over the map {"error": text, "code": n};
// code 0 is omitted.
type Error struct {
	Message string
	Code    ErrorCode
}

// ErrorName is the type name of [Error]; [ErrorType] is its type tag.
const ErrorName = "wasmactor.Error"

// ErrorType is the type tag of [Error]: ID("wasmactor.Error").
var ErrorType = ID(ErrorName)

func (e *Error) Error() string { return e.Message }

// Is matches the sentinel of the error's code.
func (e *Error) Is(target error) bool {
	switch e.Code {
	case CodeUnknownType:
		return target == ErrUnknownType
	case CodeMalformed:
		return target == ErrMalformed
	case CodeNotAsk:
		return target == ErrNotAsk
	}
	return false
}

// MessageType returns [ErrorType].
func (Error) MessageType() uint64 { return ErrorType }

// MessageName returns [ErrorName].
func (Error) MessageName() string { return ErrorName }

// AppendCBOR appends the body: {"error": text} and, unless 0, "code".
func (e Error) AppendCBOR(b []byte) []byte {
	n := 1
	if e.Code != CodeFailed {
		n = 2
	}
	b = AppendMapHeader(b, n)
	b = AppendText(b, "error")
	b = AppendText(b, e.Message)
	if e.Code != CodeFailed {
		b = AppendText(b, "code")
		b = AppendUint(b, uint64(e.Code))
	}
	return b
}

// ReadCBOR reads the body, with or without the type tag in front.
func (e *Error) ReadCBOR(b []byte) ([]byte, error) {
	b = SkipTag(b, ErrorType)
	n, b, err := ReadMapHeader(b)
	if err != nil {
		return b, FieldError(ErrorName, "", err)
	}
	*e = Error{}
	for ; n > 0; n-- {
		var key []byte
		if key, b, err = ReadText(b); err != nil {
			return b, FieldError(ErrorName, "", err)
		}
		switch string(key) {
		case "error":
			e.Message, b, err = ReadString(b)
		case "code":
			var c uint64
			c, b, err = ReadUint(b)
			e.Code = ErrorCode(c)
		default:
			b, err = Skip(b)
		}
		if err != nil {
			return b, FieldError(ErrorName, string(key), err)
		}
	}
	return b, nil
}

// Hex formats a type tag as the CLI and error texts print it.
func Hex(id uint64) string { return "0x" + strconv.FormatUint(id, 16) }
