package wasmactor

import (
	"fmt"
	"strconv"
	"strings"
)

// PID identifies one actor in the cluster. The zero PID identifies nothing.
//
// A PID stays valid for the life of the actor; once the actor has died, or
// its node has restarted (a new Incarnation), sending to it fails with
// [ErrNoProc] or [ErrStaleIncarnation].
type PID struct {
	// Node is the name of the node the actor runs on.
	Node string `cbor:"1,keyasint" json:"node"`
	// Incarnation is the random id the node chose when it started.
	Incarnation uint64 `cbor:"2,keyasint" json:"incarnation"`
	// Serial is unique among the actors of one incarnation; never 0.
	Serial uint64 `cbor:"3,keyasint" json:"serial"`
}

// IsZero reports whether p identifies nothing.
func (p PID) IsZero() bool { return p.Serial == 0 }

// String prints p as <node.serial>, the form users type on the command line.
func (p PID) String() string {
	return "<" + p.Node + "." + strconv.FormatUint(p.Serial, 10) + ">"
}

// ParsePID parses the <node.serial> form printed by [PID.String]. The
// incarnation is not part of the text form; the caller resolves it against
// the node's current incarnation.
func ParsePID(s string) (PID, error) {
	if len(s) < 5 || s[0] != '<' || s[len(s)-1] != '>' {
		return PID{}, fmt.Errorf("%w: %q is not of the form <node.serial>", ErrBadPID, s)
	}
	body := s[1 : len(s)-1]
	dot := strings.LastIndexByte(body, '.')
	if dot <= 0 || dot == len(body)-1 {
		return PID{}, fmt.Errorf("%w: %q is not of the form <node.serial>", ErrBadPID, s)
	}
	serial, err := strconv.ParseUint(body[dot+1:], 10, 64)
	if err != nil || serial == 0 {
		return PID{}, fmt.Errorf("%w: %q has no valid serial", ErrBadPID, s)
	}
	return PID{Node: body[:dot], Serial: serial}, nil
}

// Less orders PIDs (node, incarnation, serial); used wherever every node must
// break a tie the same way.
func (p PID) Less(q PID) bool {
	if p.Node != q.Node {
		return p.Node < q.Node
	}
	if p.Incarnation != q.Incarnation {
		return p.Incarnation < q.Incarnation
	}
	return p.Serial < q.Serial
}
