package wasmactor

import "errors"

// Sentinel errors. Every layer wraps them with context; match with errors.Is.
var (
	// ErrNoProc: the target actor does not exist or has died.
	ErrNoProc = errors.New("wasmactor: no such actor")
	// ErrStaleIncarnation: the PID belongs to an earlier run of its node.
	ErrStaleIncarnation = errors.New("wasmactor: pid belongs to a previous incarnation of its node")
	// ErrMailboxFull: the target's bounded mailbox is full; the message was not queued.
	ErrMailboxFull = errors.New("wasmactor: mailbox full")
	// ErrUnknownFactory: no deployed module exports the factory (or the pinned version).
	ErrUnknownFactory = errors.New("wasmactor: unknown factory")
	// ErrModuleUnavailable: the module is known but neither stored here nor
	// held by any connected node.
	ErrModuleUnavailable = errors.New("wasmactor: module unavailable")
	// ErrAmbiguousFactory: a Factory@prefix matches more than one module.
	ErrAmbiguousFactory = errors.New("wasmactor: ambiguous factory version")
	// ErrNameTaken: the name is registered to another live actor.
	ErrNameTaken = errors.New("wasmactor: name already registered")
	// ErrNotFound: no actor holds the name.
	ErrNotFound = errors.New("wasmactor: name not found")
	// ErrNodeDown: the target's node is not connected.
	ErrNodeDown = errors.New("wasmactor: node down")
	// ErrUnknownNode: no member of the cluster has that name.
	ErrUnknownNode = errors.New("wasmactor: unknown node")
	// ErrTimeout: a call got no reply in time.
	ErrTimeout = errors.New("wasmactor: timeout")
	// ErrCrashed: the actor's instance failed (trap, panic, deadline) while
	// it handled the request.
	ErrCrashed = errors.New("wasmactor: actor crashed")
	// ErrTooLarge: a module or message exceeds a configured cap.
	ErrTooLarge = errors.New("wasmactor: too large")
	// ErrBadModule: a module is malformed, does not speak the ABI, or failed to compile.
	ErrBadModule = errors.New("wasmactor: bad module")
	// ErrBadPID: text that is not a PID.
	ErrBadPID = errors.New("wasmactor: malformed pid")
	// ErrBadArgument: a malformed request (bad CBOR, empty name...).
	ErrBadArgument = errors.New("wasmactor: bad argument")
	// ErrLimit: a per-actor or per-node limit on a resource (actors,
	// instances, guest memory, timers, pending asks, monitors, links, names,
	// group memberships, pending spawns...) was reached; nothing was done.
	// host.Limits lists most of them.
	ErrLimit = errors.New("wasmactor: limit reached")
	// ErrPermission: the caller's credentials do not allow the request (a
	// token's role, factories, names or expiry).
	ErrPermission = errors.New("wasmactor: permission denied")
	// ErrClosed: the node (or transport) is closed. It unwraps to net.ErrClosed
	// where the closed thing is a network endpoint.
	ErrClosed = errors.New("wasmactor: closed")

	// Refusals of code mobility (upgrade, migration, undeploy): the actor or
	// module stays exactly as it was.

	// ErrCannotSnapshot: the actor's factory does not implement snapshots, so
	// it cannot be upgraded or migrated.
	ErrCannotSnapshot = errors.New("wasmactor: actor cannot snapshot")
	// ErrSnapshotFailed: the actor's Snapshot returned an error or panicked.
	ErrSnapshotFailed = errors.New("wasmactor: snapshot failed")
	// ErrRestoreFailed: the new version (or the target node) could not
	// restore the actor from its snapshot; it carries on where it was.
	ErrRestoreFailed = errors.New("wasmactor: restore failed")
	// ErrBusy: the actor has asks of its own in flight, whose continuations
	// live in its instance's memory, and did not settle before the deadline.
	ErrBusy = errors.New("wasmactor: actor busy")
	// ErrInUse: a module cannot be undeployed while actors of it run.
	ErrInUse = errors.New("wasmactor: module in use")
)
