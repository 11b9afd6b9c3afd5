package actor

import (
	"errors"
	"strconv"
)

// PID names an actor in the cluster as the guest sees it: Node is the
// incarnation of the node the actor runs on (the host maps it to a node
// name), Serial is unique within that incarnation. The zero PID names
// nothing; a record whose sender is the host itself (a Go API or CLI call)
// carries a PID with Node 0.
//
// In CBOR a PID is the two-element array [node, serial], the form every SDK
// and the host agree on, so PIDs can travel inside messages.
type PID struct {
	Node   uint64
	Serial uint64
}

// IsZero reports whether p names nothing.
func (p PID) IsZero() bool { return p.Node == 0 && p.Serial == 0 }

// String prints p as <node.serial> with the incarnation in hex. Guests never
// see node names, so this differs from the host's <name.serial> form.
func (p PID) String() string {
	b := make([]byte, 0, 40)
	b = append(b, '<')
	b = strconv.AppendUint(b, p.Node, 16)
	b = append(b, '.')
	b = strconv.AppendUint(b, p.Serial, 10)
	b = append(b, '>')
	return string(b)
}

// MarshalCBOR encodes p as [node, serial].
func (p PID) MarshalCBOR() ([]byte, error) {
	return AppendPID(make([]byte, 0, 19), p), nil
}

// UnmarshalCBOR decodes the [node, serial] form.
func (p *PID) UnmarshalCBOR(data []byte) error {
	q, rest, err := ReadPID(data)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errBadPIDCBOR
	}
	*p = q
	return nil
}

var errBadPIDCBOR = errors.New("wasmactor: a PID must be the CBOR array [node, serial] of two unsigned integers")

// AppendPID appends the CBOR form of p to b without allocating beyond b's
// growth. Together with [AppendUint] and [ReadPID] it lets hot paths build
// and parse small messages by hand.
func AppendPID(b []byte, p PID) []byte {
	b = append(b, 0x82) // array of 2
	b = AppendUint(b, p.Node)
	return AppendUint(b, p.Serial)
}

// ReadPID reads a CBOR [node, serial] array from the start of b and returns
// the rest.
func ReadPID(b []byte) (PID, []byte, error) {
	if len(b) == 0 || b[0] != 0x82 {
		return PID{}, b, errBadPIDCBOR
	}
	node, rest, err := ReadUint(b[1:])
	if err != nil {
		return PID{}, b, errBadPIDCBOR
	}
	serial, rest, err := ReadUint(rest)
	if err != nil {
		return PID{}, b, errBadPIDCBOR
	}
	return PID{Node: node, Serial: serial}, rest, nil
}
