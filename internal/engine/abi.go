package engine

import (
	"errors"
	"time"

	"github.com/wasmactor/wasmactor"
)

// ABIVersion is the only guest ABI version this engine implements (docs/abi.md).
const ABIVersion = 1

// DefaultAskTimeout is the ABI's default for an ask with timeout_ms 0
// (docs/abi.md). The engine passes 0 through to [Host.Ask]; the node applies
// its configured default, normally this.
const DefaultAskTimeout = 5 * time.Second

// PID is the ABI form of a PID: the node's incarnation and the serial.
type PID struct{ Node, Serial uint64 }

// Kind is the kind of a batch record.
type Kind uint16

// Record kinds (docs/abi.md, "Batch records").
const (
	KindStart   Kind = 1
	KindRestore Kind = 2
	KindTell    Kind = 3
	KindAsk     Kind = 4
	KindReply   Kind = 5
	KindDown    Kind = 6
	KindExit    Kind = 7
	KindStop    Kind = 8
)

func (k Kind) String() string {
	switch k {
	case KindStart:
		return "START"
	case KindRestore:
		return "RESTORE"
	case KindTell:
		return "TELL"
	case KindAsk:
		return "ASK"
	case KindReply:
		return "REPLY"
	case KindDown:
		return "DOWN"
	case KindExit:
		return "EXIT"
	case KindStop:
		return "STOP"
	}
	return "UNKNOWN"
}

// Errno is an ABI error code (docs/abi.md, "Error codes").
type Errno uint16

// Error codes.
const (
	OK             Errno = 0
	NoProc         Errno = 1
	MailboxFull    Errno = 2
	UnknownFactory Errno = 3
	BadArgument    Errno = 4
	NameTaken      Errno = 5
	NotFound       Errno = 6
	NodeDown       Errno = 7
	Timeout        Errno = 8
	TooLarge       Errno = 9
	Internal       Errno = 10
	Stale          Errno = 11
)

var errnoNames = [...]string{"OK", "NOPROC", "MAILBOX_FULL", "UNKNOWN_FACTORY", "BAD_ARGUMENT",
	"NAME_TAKEN", "NOT_FOUND", "NODE_DOWN", "TIMEOUT", "TOO_LARGE", "INTERNAL", "STALE"}

func (e Errno) String() string {
	if int(e) < len(errnoNames) {
		return errnoNames[e]
	}
	return "INTERNAL"
}

// errInternal is what [Errno.Err] gives for INTERNAL and unknown codes; the
// root package has no sentinel for it.
var errInternal = errors.New("wasmactor: internal error")

// errnoSentinels maps codes to the root package's sentinels, in code order.
var errnoSentinels = [...]error{
	NoProc:         wasmactor.ErrNoProc,
	MailboxFull:    wasmactor.ErrMailboxFull,
	UnknownFactory: wasmactor.ErrUnknownFactory,
	BadArgument:    wasmactor.ErrBadArgument,
	NameTaken:      wasmactor.ErrNameTaken,
	NotFound:       wasmactor.ErrNotFound,
	NodeDown:       wasmactor.ErrNodeDown,
	Timeout:        wasmactor.ErrTimeout,
	TooLarge:       wasmactor.ErrTooLarge,
	Internal:       errInternal,
	Stale:          wasmactor.ErrStaleIncarnation,
}

// ErrnoOf maps an error to its ABI code by matching the wasmactor sentinels
// with errors.Is: nil is OK, anything unrecognised is INTERNAL.
// ErrAmbiguousFactory counts as UNKNOWN_FACTORY and ErrUnknownNode as NODE_DOWN,
// the nearest codes a guest can act on.
func ErrnoOf(err error) Errno {
	if err == nil {
		return OK
	}
	for code, sentinel := range errnoSentinels {
		if sentinel != nil && errors.Is(err, sentinel) {
			return Errno(code)
		}
	}
	switch {
	case errors.Is(err, wasmactor.ErrAmbiguousFactory):
		return UnknownFactory
	case errors.Is(err, wasmactor.ErrUnknownNode):
		return NodeDown
	case errors.Is(err, wasmactor.ErrBadPID):
		return BadArgument
	}
	return Internal
}

// Err returns the sentinel error for e: nil for OK, a wasmactor.Err* value
// otherwise (an internal error for INTERNAL and unknown codes).
func (e Errno) Err() error {
	if e == OK {
		return nil
	}
	if int(e) < len(errnoSentinels) {
		return errnoSentinels[e]
	}
	return errInternal
}

// SpawnFlags are the flags of the spawn import.
type SpawnFlags uint32

const (
	// SpawnLink links the child to the caller.
	SpawnLink SpawnFlags = 1
	// SpawnIsolated gives the child an instance of its own.
	SpawnIsolated SpawnFlags = 2

	spawnKnownFlags = SpawnLink | SpawnIsolated
)
