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
// [ErrNoProc] or [ErrStaleIncarnation]. A PID never reaches an actor other
// than the one it was given for: serials restart at 1 when a node restarts,
// and the Incarnation tells the two runs apart.
type PID struct {
	// Node is the name of the node the actor runs on.
	Node string `cbor:"1,keyasint" json:"node"`
	// Incarnation is the random id the node chose when it started; never 0
	// in a PID that names an actor.
	Incarnation uint64 `cbor:"2,keyasint" json:"incarnation"`
	// Serial is unique among the actors of one incarnation; never 0.
	Serial uint64 `cbor:"3,keyasint" json:"serial"`
}

// IsZero reports whether p identifies nothing.
func (p PID) IsZero() bool { return p.Serial == 0 }

// incDigits is the width of the incarnation in a PID's text: all 64 bits,
// so the text of two runs of a node can never be the same.
const incDigits = 16

// String prints p as <node.incarnation.serial>, the incarnation as 16
// lowercase hex digits and the serial in decimal: <n2.3f9a0c11d2e4b607.17>.
// It is the form users copy on the command line; [ParsePID] reads it back
// exactly.
func (p PID) String() string {
	b := make([]byte, 0, len(p.Node)+incDigits+24)
	b = append(b, '<')
	b = append(b, p.Node...)
	b = append(b, '.')
	b = appendHex16(b, p.Incarnation)
	b = append(b, '.')
	b = strconv.AppendUint(b, p.Serial, 10)
	return string(append(b, '>'))
}

// FormatIncarnation prints an incarnation as PIDs, logs, listings and the
// observer all print it: 16 lowercase hex digits.
func FormatIncarnation(inc uint64) string { return string(appendHex16(nil, inc)) }

func appendHex16(b []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[v>>uint(shift)&0xf])
	}
	return b
}

// pidHint ends every ParsePID error: the text is only ever copied, never
// composed, so the fix is always the same.
const pidHint = "copy the PID as printed (<node.incarnation.serial>, as spawn and ps print it) or use a registered name"

// ParsePID parses the <node.incarnation.serial> form printed by
// [PID.String].
//
// # Errors
//
// [ErrBadPID] for anything else, including the <node.serial> form without
// an incarnation: a serial alone could name an actor of a later run of the
// node (serials restart at 1), so it is refused rather than guessed.
func ParsePID(s string) (PID, error) {
	if len(s) < 2 || s[0] != '<' || s[len(s)-1] != '>' {
		return PID{}, fmt.Errorf("%w: %q is not of the form <node.incarnation.serial>: %s", ErrBadPID, s, pidHint)
	}
	body := s[1 : len(s)-1]
	dot := strings.LastIndexByte(body, '.')
	if dot < 0 {
		return PID{}, fmt.Errorf("%w: %q is not of the form <node.incarnation.serial>: %s", ErrBadPID, s, pidHint)
	}
	rest, serialText := body[:dot], body[dot+1:]
	serial, err := strconv.ParseUint(serialText, 10, 64)
	if err != nil || serial == 0 || strconv.FormatUint(serial, 10) != serialText {
		return PID{}, fmt.Errorf("%w: %q has no valid serial: %s", ErrBadPID, s, pidHint)
	}
	dot = strings.LastIndexByte(rest, '.')
	if dot < 0 {
		return PID{}, fmt.Errorf("%w: %q has no incarnation: %s", ErrBadPID, s, pidHint)
	}
	node, incText := rest[:dot], rest[dot+1:]
	if node == "" {
		return PID{}, fmt.Errorf("%w: %q has no node name: %s", ErrBadPID, s, pidHint)
	}
	inc, ok := parseHex16(incText)
	if !ok || inc == 0 {
		return PID{}, fmt.Errorf("%w: %q: the incarnation must be 16 lowercase hex digits, not %q: %s", ErrBadPID, s, incText, pidHint)
	}
	return PID{Node: node, Incarnation: inc, Serial: serial}, nil
}

func parseHex16(s string) (uint64, bool) {
	if len(s) != incDigits {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
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
