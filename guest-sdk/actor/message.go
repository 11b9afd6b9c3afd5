package actor

import (
	"github.com/fxamacker/cbor/v2"
)

// Message is a zero-copy view of one delivered message: its bytes live in
// the SDK's inbox buffer and are valid only until the handler returns. Copy
// what you keep (Decode copies; Bytes does not).
type Message struct {
	data []byte
	from PID
	ref  uint64
	kind uint16
}

// Bytes returns the raw payload (CBOR unless the sender used a raw variant).
// It aliases the inbox: do not keep or modify it past the handler.
func (m Message) Bytes() []byte { return m.data }

// Len returns the payload size in bytes.
func (m Message) Len() int { return len(m.data) }

// From returns the sender. For a message sent by the host itself (a Go API
// or CLI call) the PID's Node is 0. For init arguments it is the parent.
func (m Message) From() PID { return m.from }

// IsAsk reports whether the sender waits for an answer ([Context.Reply]).
func (m Message) IsAsk() bool { return m.kind == kindAsk }

// Decode unmarshals the CBOR payload into v (a pointer) with fxamacker/cbor.
// Struct fields match map keys by their `cbor` tag, then by name.
func (m Message) Decode(v any) error { return decMode.Unmarshal(m.data, v) }

// Decode returns the payload of m decoded as a T.
//
//	inc, err := actor.Decode[Inc](msg)
func Decode[T any](m Message) (T, error) {
	var v T
	err := m.Decode(&v)
	return v, err
}

// decMode uses fxamacker/cbor's defaults, which already bound nesting depth
// and container sizes for input the actor does not control.
var decMode, _ = cbor.DecOptions{}.DecMode()
