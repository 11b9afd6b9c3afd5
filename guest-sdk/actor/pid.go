package actor

import (
	"errors"
	"strconv"
)

// PID names an actor in the cluster as the guest sees it: Incarnation is
// the random id of the run of the node the actor lives on (the host maps it
// to the node's name), Serial is unique within that incarnation. The zero
// PID names nothing; a record whose sender is the host itself (a Go API or
// CLI call) carries a PID with Serial 0.
//
// A node restarted on the same name numbers its actors from 1 again; the
// Incarnation is what keeps a PID of the earlier run from reaching an actor
// of the new one (the host answers [ErrStaleIncarnation]).
//
// In CBOR a PID is the two-element array [incarnation, serial], the form
// every SDK and the host agree on, so PIDs can travel inside messages.
type PID struct {
	Incarnation uint64
	Serial      uint64
}

// IsZero reports whether p names nothing.
func (p PID) IsZero() bool { return p.Incarnation == 0 && p.Serial == 0 }

// String prints p as <incarnation.serial>, the incarnation as 16 lowercase
// hex digits: <3f9a0c11d2e4b607.17>. Guests never see node names, so this
// is the host's <node.incarnation.serial> form without the node.
func (p PID) String() string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 40)
	b = append(b, '<')
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[p.Incarnation>>uint(shift)&0xf])
	}
	b = append(b, '.')
	b = strconv.AppendUint(b, p.Serial, 10)
	b = append(b, '>')
	return string(b)
}

// MarshalCBOR encodes p as [incarnation, serial].
func (p PID) MarshalCBOR() ([]byte, error) {
	return AppendPID(make([]byte, 0, 19), p), nil
}

// UnmarshalCBOR decodes the [incarnation, serial] form.
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

var errBadPIDCBOR = errors.New("wasmactor: a PID must be the CBOR array [incarnation, serial] of two unsigned integers")

// AppendPID appends the CBOR form of p to b without allocating beyond b's
// growth. Together with [AppendUint] and [ReadPID] it lets hot paths build
// and parse small messages by hand.
func AppendPID(b []byte, p PID) []byte {
	b = append(b, 0x82) // array of 2
	b = AppendUint(b, p.Incarnation)
	return AppendUint(b, p.Serial)
}

// ReadPID reads a CBOR [incarnation, serial] array from the start of b and
// returns the rest.
func ReadPID(b []byte) (PID, []byte, error) {
	if len(b) == 0 || b[0] != 0x82 {
		return PID{}, b, errBadPIDCBOR
	}
	inc, rest, err := ReadUint(b[1:])
	if err != nil {
		return PID{}, b, errBadPIDCBOR
	}
	serial, rest, err := ReadUint(rest)
	if err != nil {
		return PID{}, b, errBadPIDCBOR
	}
	return PID{Incarnation: inc, Serial: serial}, rest, nil
}
