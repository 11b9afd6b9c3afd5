package engine

import (
	"time"

	"github.com/wasmactor/wasmactor/internal/abi"
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

// Errno is an ABI error code (docs/abi.md, "Error codes"); the vocabulary
// lives in internal/abi so that clients can decode codes without this
// package's WebAssembly runtime.
type Errno = abi.Errno

// Error codes.
const (
	OK             = abi.OK
	NoProc         = abi.NoProc
	MailboxFull    = abi.MailboxFull
	UnknownFactory = abi.UnknownFactory
	BadArgument    = abi.BadArgument
	NameTaken      = abi.NameTaken
	NotFound       = abi.NotFound
	NodeDown       = abi.NodeDown
	Timeout        = abi.Timeout
	TooLarge       = abi.TooLarge
	Internal       = abi.Internal
	Stale          = abi.Stale
)

// errInternal is what [Errno.Err] gives for INTERNAL and unknown codes.
var errInternal = abi.ErrInternal

// ErrnoOf maps an error to its ABI code (see [abi.ErrnoOf]).
func ErrnoOf(err error) Errno { return abi.ErrnoOf(err) }

// SpawnFlags are the flags of the spawn import.
type SpawnFlags uint32

const (
	// SpawnLink links the child to the caller.
	SpawnLink SpawnFlags = 1
	// SpawnIsolated gives the child an instance of its own.
	SpawnIsolated SpawnFlags = 2

	spawnKnownFlags = SpawnLink | SpawnIsolated
)
