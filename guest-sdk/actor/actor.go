package actor

import (
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
// from a snapshot, and an error stops the actor with that reason.
type Snapshotter interface {
	Snapshot() ([]byte, error)
	Restore(state []byte) error
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
	inst.names = nil // rebuilt on the next wasmactor_factories
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
