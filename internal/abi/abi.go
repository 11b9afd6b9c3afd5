package abi

import (
	"errors"
	"time"

	"github.com/wasmactor/wasmactor"
)

// Version is the only guest ABI version this node implements: a module's
// wasmactor_abi_version export must return it.
const Version = 1

// DefaultAskTimeout is the timeout of an ask with timeout_ms 0.
const DefaultAskTimeout = 5 * time.Second

// PID is a PID as it crosses the ABI: the incarnation of the actor's node
// and its serial. Guests never see node names; the node maps incarnations
// to them. A PID with a zero Incarnation names nothing a guest can reach;
// with a zero Serial and the node's own Incarnation it is the node's host
// (a Go API or CLI caller).
type PID struct{ Incarnation, Serial uint64 }

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
	// KindNodeDown: a node this actor monitors (monitor_node) went down.
	KindNodeDown Kind = 9
	// KindGroup: a member joined or left a group this actor monitors
	// (monitor_group).
	KindGroup Kind = 10
	// KindSpawned: the outcome of this actor's spawn_request.
	KindSpawned Kind = 11
	// KindDrop: the actor has left this instance (hot upgrade, migration);
	// the guest forgets it without running its stop hook.
	KindDrop Kind = 12
)

var kindNames = [...]string{
	KindStart:   "START",
	KindRestore: "RESTORE",
	KindTell:    "TELL",
	KindAsk:     "ASK",
	KindReply:   "REPLY",
	KindDown:    "DOWN",
	KindExit:    "EXIT",
	KindStop:    "STOP",

	KindNodeDown: "NODEDOWN",
	KindGroup:    "GROUP",
	KindSpawned:  "SPAWNED",
	KindDrop:     "DROP",
}

// String is the kind's name in docs/abi.md, or UNKNOWN.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "UNKNOWN"
}

// SpawnFlags are the flags of the spawn import.
type SpawnFlags uint32

const (
	// SpawnLink links the child to the caller.
	SpawnLink SpawnFlags = 1 << 0
	// SpawnIsolated gives the child an instance of its own.
	SpawnIsolated SpawnFlags = 1 << 1
	// SpawnMonitor monitors the child from the caller, set up before the
	// child runs. With the spawn import the out region then holds 24
	// bytes: the PID and the monitor ref.
	SpawnMonitor SpawnFlags = 1 << 2

	// KnownSpawnFlags are all the flags of this version; a spawn with any
	// other bit set is BAD_ARGUMENT.
	KnownSpawnFlags = SpawnLink | SpawnIsolated | SpawnMonitor
)

// GroupEvent is the first payload byte of a GROUP record.
type GroupEvent uint8

const (
	// GroupJoined: the PID in the record's from joined the group.
	GroupJoined GroupEvent = 1
	// GroupLeft: the PID in the record's from left the group (it left, died
	// or its node went down).
	GroupLeft GroupEvent = 2
	// GroupOverflow: changes were dropped because the monitoring actor had
	// too many GROUP records queued; read the members again.
	GroupOverflow GroupEvent = 3
)

// RestartPolicy is the policy argument of spawn_request: the values of
// wasmactor.RestartPolicy.
type RestartPolicy uint32

const (
	RestartTemporary RestartPolicy = 0
	RestartTransient RestartPolicy = 1
	RestartPermanent RestartPolicy = 2
)

// SnapshotRefusal is why wasmactor_snapshot gave no state. The export
// answers a refusal as the negative number -code; -1 is all that guests of
// the first SDK say, whatever the reason.
type SnapshotRefusal uint32

const (
	// SnapshotUnspecified (-1): no state, for a reason the guest does not
	// say (the factory has no snapshots, or Snapshot failed).
	SnapshotUnspecified SnapshotRefusal = 1
	// SnapshotNoActor (-2): the instance has no actor with that id.
	SnapshotNoActor SnapshotRefusal = 2
	// SnapshotUnsupported (-3): the actor's factory does not implement
	// snapshots.
	SnapshotUnsupported SnapshotRefusal = 3
	// SnapshotError (-4): the actor's Snapshot failed (returned an error or
	// panicked); the guest writes why to stderr.
	SnapshotError SnapshotRefusal = 4

	// MaxSnapshotRefusal bounds the codes: a result r of the export with
	// -MaxSnapshotRefusal <= int64(r) <= -1 is a refusal. No (ptr, len) pair
	// inside a wasm32 memory packs to such a value.
	MaxSnapshotRefusal = 255
)

// LogLevel is the level argument of the log import.
type LogLevel uint32

// Log levels. Anything above LogError counts as LogError.
const (
	LogDebug LogLevel = 0
	LogInfo  LogLevel = 1
	LogWarn  LogLevel = 2
	LogError LogLevel = 3
)

// Errno is an error code (docs/abi.md, "Error codes"; see the package doc
// for the codes from 100).
type Errno uint16

// Error codes a guest sees.
const (
	OK               Errno = 0
	NoProc           Errno = 1
	MailboxFull      Errno = 2
	UnknownFactory   Errno = 3
	BadArgument      Errno = 4
	NameTaken        Errno = 5
	NotFound         Errno = 6
	NodeDown         Errno = 7
	Timeout          Errno = 8
	TooLarge         Errno = 9
	Internal         Errno = 10
	StaleIncarnation Errno = 11
	Limit            Errno = 12
)

// Error codes a guest never sees: only nodes and clients exchange them.
const (
	BadModule         Errno = 100
	UnknownNode       Errno = 101
	AmbiguousFactory  Errno = 102
	Crashed           Errno = 103
	ModuleUnavailable Errno = 104
	Closed            Errno = 105
	BadPID            Errno = 106
	Permission        Errno = 107

	// Refusals of code mobility, numbered apart from the codes above so
	// that work adding codes in parallel does not collide.
	CannotSnapshot Errno = 120
	SnapshotFailed Errno = 121
	RestoreFailed  Errno = 122
	Busy           Errno = 123
	InUse          Errno = 124
)

// errInternal is the sentinel of INTERNAL and of unknown codes; the root
// package has none, since nothing in it fails that way on purpose.
var errInternal = errors.New("wasmactor: internal error")

// code is one row of the only table of codes: its name, its sentinel and,
// for a code a guest never sees, the nearest one it does.
type code struct {
	errno Errno
	name  string
	err   error
	guest Errno
}

// codes lists the guest codes in order, then the others. CodeOf and ErrnoOf
// both walk it; the order decides which code an error wrapping two
// sentinels gets.
var codes = [...]code{
	{OK, "OK", nil, OK},
	{NoProc, "NOPROC", wasmactor.ErrNoProc, NoProc},
	{MailboxFull, "MAILBOX_FULL", wasmactor.ErrMailboxFull, MailboxFull},
	{UnknownFactory, "UNKNOWN_FACTORY", wasmactor.ErrUnknownFactory, UnknownFactory},
	{BadArgument, "BAD_ARGUMENT", wasmactor.ErrBadArgument, BadArgument},
	{NameTaken, "NAME_TAKEN", wasmactor.ErrNameTaken, NameTaken},
	{NotFound, "NOT_FOUND", wasmactor.ErrNotFound, NotFound},
	{NodeDown, "NODE_DOWN", wasmactor.ErrNodeDown, NodeDown},
	{Timeout, "TIMEOUT", wasmactor.ErrTimeout, Timeout},
	{TooLarge, "TOO_LARGE", wasmactor.ErrTooLarge, TooLarge},
	{Internal, "INTERNAL", errInternal, Internal},
	{StaleIncarnation, "STALE_INCARNATION", wasmactor.ErrStaleIncarnation, StaleIncarnation},
	{Limit, "LIMIT", wasmactor.ErrLimit, Limit},

	// The nearest guest code is what a guest can act on: a pinned factory
	// that matches two modules is still no factory to spawn, an unknown
	// node is as unreachable as a down one.
	{BadModule, "BAD_MODULE", wasmactor.ErrBadModule, Internal},
	{UnknownNode, "UNKNOWN_NODE", wasmactor.ErrUnknownNode, NodeDown},
	{AmbiguousFactory, "AMBIGUOUS_FACTORY", wasmactor.ErrAmbiguousFactory, UnknownFactory},
	{Crashed, "CRASHED", wasmactor.ErrCrashed, Internal},
	{ModuleUnavailable, "MODULE_UNAVAILABLE", wasmactor.ErrModuleUnavailable, Internal},
	{Closed, "CLOSED", wasmactor.ErrClosed, Internal},
	{BadPID, "BAD_PID", wasmactor.ErrBadPID, BadArgument},
	// A client's token does not allow the request; a guest has no
	// credentials of its own, and a refusal is closest to a bad argument.
	{Permission, "PERMISSION", wasmactor.ErrPermission, BadArgument},
	// A guest never asks for a move; were one refused, the request was
	// not acceptable as made.
	{CannotSnapshot, "CANNOT_SNAPSHOT", wasmactor.ErrCannotSnapshot, BadArgument},
	{SnapshotFailed, "SNAPSHOT_FAILED", wasmactor.ErrSnapshotFailed, Internal},
	{RestoreFailed, "RESTORE_FAILED", wasmactor.ErrRestoreFailed, Internal},
	{Busy, "BUSY", wasmactor.ErrBusy, Internal},
	{InUse, "IN_USE", wasmactor.ErrInUse, BadArgument},
}

// firstHostOnly is the index in codes of the first code a guest never sees.
const firstHostOnly = int(Limit) + 1

func lookup(e Errno) (code, bool) {
	if int(e) < firstHostOnly {
		return codes[e], true
	}
	for _, c := range codes[firstHostOnly:] {
		if c.errno == e {
			return c, true
		}
	}
	return code{}, false
}

// String is the code's name in docs/abi.md; unknown codes print as INTERNAL,
// which is what they mean.
func (e Errno) String() string {
	if c, ok := lookup(e); ok {
		return c.name
	}
	return "INTERNAL"
}

// Err is the sentinel error of e: nil for OK, a wasmactor.Err* value for
// the others, an internal error for INTERNAL and unknown codes.
func (e Errno) Err() error {
	if c, ok := lookup(e); ok {
		return c.err
	}
	return errInternal
}

// Guest is the code a guest gets for e: e itself for a guest code, the
// nearest guest code for the others, INTERNAL for unknown codes.
func (e Errno) Guest() Errno {
	if c, ok := lookup(e); ok {
		return c.guest
	}
	return Internal
}

// CodeOf is the exact code of err, matching the sentinels with errors.Is:
// OK for nil, a code from 100 where one matches, INTERNAL for anything
// unrecognised. Use it where a node or a client receives the code.
func CodeOf(err error) Errno {
	if err == nil {
		return OK
	}
	for _, c := range codes[firstHostOnly:] {
		if errors.Is(err, c.err) {
			return c.errno
		}
	}
	for _, c := range codes[1:firstHostOnly] {
		if errors.Is(err, c.err) {
			return c.errno
		}
	}
	return Internal
}

// ErrnoOf is the code a guest gets for err: like [CodeOf], but a guest code
// wins over a code from 100, which is replaced by its nearest guest code
// ([Errno.Guest]).
func ErrnoOf(err error) Errno {
	if err == nil {
		return OK
	}
	for _, c := range codes[1:] {
		if errors.Is(err, c.err) {
			return c.guest
		}
	}
	return Internal
}
