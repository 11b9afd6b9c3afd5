package actor

import (
	"encoding/binary"
	"sort"
	"strings"
)

// Actor is the behaviour every actor implements: Receive handles one user
// message (a tell or an ask). The same value lives for the actor's whole
// life, so state lives in its fields.
type Actor interface {
	Receive(ctx *Context, msg Message)
}

// Starter is implemented by actors that set themselves up from their spawn
// arguments. A non-nil error stops the actor at once with the error's text
// as its reason; Terminate is not called.
type Starter interface {
	Init(ctx *Context, args Message) error
}

// Stopper is implemented by actors that clean up when they stop, whether
// they asked to ([Context.Stop]) or were stopped by the host (a kill, a
// shutdown, an abnormal exit of a linked actor).
type Stopper interface {
	Terminate(ctx *Context, reason string)
}

// Snapshotter is implemented by actors whose state can be captured and
// rebuilt, for migration and hot upgrade. Snapshot runs outside a delivery
// and must not use the Context; Restore replaces Init for an actor rebuilt
// from a snapshot. An error (or a panic) from Restore refuses the move: the
// node keeps the actor where it was, unchanged, and the caller of the
// upgrade or migration gets the error's text. An actor without Snapshotter
// cannot be upgraded or migrated; the node says so.
//
// A Snapshot may be read by a later version of the actor's module (hot
// upgrade) or by the same version on another node (migration). See
// [SnapshotVersioner] for changing the format between versions.
type Snapshotter interface {
	Snapshot() ([]byte, error)
	Restore(state []byte) error
}

// SnapshotVersioner is implemented by actors whose snapshot format changes
// between versions of their module. The SDK stores the version with every
// snapshot of the actor, so that the next version's [VersionedRestorer]
// knows which format it reads:
//
//	func (c *Counter) SnapshotVersion() uint32 { return 2 }
//
//	func (c *Counter) RestoreVersion(v uint32, state []byte) error {
//		switch v {
//		case 0, 1: // written by versions that stored {"start": n}
//			...
//		case 2:
//			...
//		}
//		return fmt.Errorf("snapshot version %d is newer than this code", v)
//	}
//
// # Notes
//
// The version travels in front of the state: the bytes 0xff 'w' 'a' 's',
// the version as a little-endian uint32, then what Snapshot returned. 0xff
// is CBOR's "break" code, which never starts a CBOR data item, so a CBOR
// snapshot of an actor without a version is never mistaken for one with a
// version. Actors without SnapshotVersioner write their state as it is, as
// the first SDK did, so snapshots move between modules built with either.
type SnapshotVersioner interface {
	SnapshotVersion() uint32
}

// VersionedRestorer is implemented by actors that read snapshots of several
// formats: RestoreVersion runs instead of Snapshotter.Restore, with the
// version the snapshot was written with (0 for an actor without
// [SnapshotVersioner], or for a snapshot by a module built with an SDK that
// stored no version).
type VersionedRestorer interface {
	RestoreVersion(version uint32, state []byte) error
}

// snapshotMagic starts a snapshot that carries a version (see
// [SnapshotVersioner]).
const snapshotMagic = "\xffwas"

// frameSnapshot puts the actor's version in front of its state.
func frameSnapshot(a Actor, state []byte) []byte {
	v, ok := a.(SnapshotVersioner)
	if !ok {
		return state
	}
	out := make([]byte, 0, 8+len(state))
	out = append(out, snapshotMagic...)
	out = binary.LittleEndian.AppendUint32(out, v.SnapshotVersion())
	return append(out, state...)
}

// unframeSnapshot splits a snapshot into its version and state.
func unframeSnapshot(b []byte) (version uint32, state []byte) {
	if len(b) >= 8 && string(b[:4]) == snapshotMagic {
		return binary.LittleEndian.Uint32(b[4:8]), b[8:]
	}
	return 0, b
}

// DownHandler is implemented by actors that monitor others: HandleDown runs
// when a monitored actor stops. Actors without it never see Down
// notifications.
type DownHandler interface {
	HandleDown(ctx *Context, d Down)
}

// ExitHandler is implemented by actors that trap exits ([Context.TrapExit]):
// HandleExit runs when a linked actor stops abnormally. Actors without it
// that trap exits ignore them.
type ExitHandler interface {
	HandleExit(ctx *Context, e Exit)
}

// Down tells a monitoring actor that the actor it monitored has stopped.
type Down struct {
	Ref    Ref    // the monitor, as returned by [Context.Monitor]
	PID    PID    // the actor that stopped
	Reason string // why; "noproc" if it was already dead when monitored
}

// Exit tells an actor that traps exits that a linked actor stopped.
type Exit struct {
	PID    PID
	Reason string
}

// Ref identifies a monitor; never 0.
type Ref uint64

// Limits on factory names, from docs/abi.md.
const (
	maxFactories   = 256
	maxFactoryName = 128
)

// registry holds the factories registered by the guest's init functions.
// The host learns them through the wasmactor_factories export, which can run
// before any delivery, so they must be known by the end of initialisation:
// a package-level table filled from init is the only place a WASI reactor
// offers for that.
var registry = map[string]*factory{}

// factory is a registered constructor with its name, so an actor can refer
// to the name without a copy per spawn.
type factory struct {
	name string
	new  func() Actor
}

// Register makes a factory available under name, so the host can spawn
// actors of it. Call it from an init function of the guest: a reactor module
// never runs main.
//
// Register panics if name is not 1..128 bytes of [A-Za-z0-9_.-], is already
// registered, if factory is nil, or if more than 256 factories are
// registered. The panic happens while the module initialises, so the host
// rejects the module at deploy with the message.
//
// The SDK calls f once when a node loads the module, and discards the
// actor, to learn whether the factory's actors implement [Snapshotter]
// (docs/abi.md, wasmactor_snapshotters): a constructor should only build
// the value, as Init does the work.
func Register(name string, f func() Actor) {
	if err := checkFactoryName(name); err != "" {
		panic("wasmactor: Register(" + quote(name) + "): " + err)
	}
	if f == nil {
		panic("wasmactor: Register(" + quote(name) + "): nil factory")
	}
	if _, dup := registry[name]; dup {
		panic("wasmactor: Register(" + quote(name) + "): registered twice")
	}
	if len(registry) >= maxFactories {
		panic("wasmactor: Register(" + quote(name) + "): more than 256 factories")
	}
	registry[name] = &factory{name: name, new: f}
	inst.names, inst.snaps = nil, nil // rebuilt on the next wasmactor_factories and wasmactor_snapshotters
}

func checkFactoryName(name string) string {
	if len(name) == 0 || len(name) > maxFactoryName {
		return "a factory name must be 1 to 128 bytes"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return "a factory name may only hold A-Z a-z 0-9 _ . -"
		}
	}
	return ""
}

func quote(s string) string { return "\"" + s + "\"" }

// factoryNames lists the registered names in a fixed order, joined by '\n'
// as wasmactor_factories returns them.
func factoryNames(factories map[string]*factory) []byte {
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return []byte(strings.Join(names, "\n"))
}
