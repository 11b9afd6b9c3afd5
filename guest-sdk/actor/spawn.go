package actor

import (
	"fmt"
	"math"
	"time"
)

// SpawnOption modifies a spawn: a [SpawnFlag] ([SpawnLink],
// [SpawnIsolated], [SpawnMonitor]), [On] or [Restart].
type SpawnOption interface{ applySpawn(*spawnConfig) }

// SpawnFlag is a spawn option that is a flag of docs/abi.md's spawn
// imports. Flags combine with |.
type SpawnFlag uint32

const (
	// SpawnLink links the child to the caller before it runs (flag bit 0),
	// as Erlang's spawn_link: an abnormal stop of either stops the other.
	SpawnLink SpawnFlag = 1 << 0
	// SpawnIsolated gives the child an instance of its own (bit 1), for
	// untrusted or crash-prone code: its failure cannot take others down.
	SpawnIsolated SpawnFlag = 1 << 1
	// SpawnMonitor monitors the child from the caller before it runs (bit
	// 2), as Erlang's spawn_monitor: its Down carries the real reason even
	// if it dies at once. Use it with [Context.SpawnRequest]; for a local
	// spawn, [Context.SpawnMonitor] returns the monitor's Ref.
	SpawnMonitor SpawnFlag = 1 << 2
)

func (f SpawnFlag) applySpawn(c *spawnConfig) { c.flags |= uint32(f) }

// RestartPolicy says whether a supervised actor is restarted when it
// stops, as Erlang/OTP's child restart types (and the host's
// wasmactor.RestartPolicy).
type RestartPolicy uint8

const (
	// Temporary actors are never restarted (the default).
	Temporary RestartPolicy = 0
	// Transient actors are restarted after an abnormal stop.
	Transient RestartPolicy = 1
	// Permanent actors are always restarted.
	Permanent RestartPolicy = 2
)

// On spawns on the named node instead of this one (an empty name means
// this one). Only [Context.SpawnRequest] takes it: a spawn on another node
// answers later.
func On(node string) SpawnOption { return onNode(node) }

type onNode string

func (o onNode) applySpawn(c *spawnConfig) { c.node = string(o) }

// Restart supervises the child: its node restarts it in place (same PID)
// as policy says, at most maxRestarts times within period (0 and 0 mean
// the host's defaults, 3 in 5 s); beyond that it stays dead and its
// monitors get the reason. Only [Context.SpawnRequest] takes it.
func Restart(policy RestartPolicy, maxRestarts int, period time.Duration) SpawnOption {
	return restartOption{policy: policy, max: maxRestarts, period: period}
}

type restartOption struct {
	policy RestartPolicy
	max    int
	period time.Duration
}

func (r restartOption) applySpawn(c *spawnConfig) {
	c.restart = restart{policy: uint32(r.policy), maxRestarts: clampU32(r.max), periodMS: millis(r.period)}
	c.supervised = true
}

func clampU32(v int) uint32 {
	switch {
	case v < 0:
		return 0
	case v > math.MaxInt32:
		return math.MaxInt32
	}
	return uint32(v)
}

type spawnConfig struct {
	flags      uint32
	node       string
	restart    restart
	supervised bool
}

func spawnOptions(opts []SpawnOption) spawnConfig {
	var c spawnConfig
	for _, o := range opts {
		if o != nil {
			o.applySpawn(&c)
		}
	}
	return c
}

// Spawn starts an actor of factory (a name, or name@hashprefix to pin a
// module version) on this node, with args encoded as CBOR as its init
// arguments (nil for none). The child starts asynchronously: its PID is
// usable at once, its Init runs in a later turn.
//
// Options: [SpawnLink], [SpawnIsolated]. A child on another node, a
// monitored child and a supervised one are for [Context.SpawnRequest]
// ([On], [Restart]) and [Context.SpawnMonitor]; given here they are
// [ErrBadArgument].
//
// # Notes
//
// Spawn runs inside the host's import: when this node lacks the factory's
// module and must pull and compile it first, the instance waits for that
// (bounded by the guest call deadline). [Context.SpawnRequest] never
// waits.
func (c *Context) Spawn(factory string, args any, opts ...SpawnOption) (PID, error) {
	b, err := c.encodeArgs(args)
	if err != nil {
		return PID{}, err
	}
	return c.SpawnRaw(factory, b, opts...)
}

// SpawnRaw is [Context.Spawn] with the init arguments given as bytes.
func (c *Context) SpawnRaw(factory string, args []byte, opts ...SpawnOption) (PID, error) {
	cfg := spawnOptions(opts)
	if cfg.flags&uint32(SpawnMonitor) != 0 {
		return PID{}, fmt.Errorf("%w: Spawn with SpawnMonitor: use SpawnMonitor, which returns the monitor's Ref", ErrBadArgument)
	}
	pid, _, err := c.spawnNow(factory, args, cfg)
	return pid, err
}

// SpawnLink is [Context.Spawn] with [SpawnLink]: the child is linked to
// this actor before it runs, as Erlang's spawn_link.
func (c *Context) SpawnLink(factory string, args any, opts ...SpawnOption) (PID, error) {
	return c.Spawn(factory, args, append(opts[:len(opts):len(opts)], SpawnLink)...)
}

// SpawnMonitor is [Context.Spawn] with the child monitored by this actor
// before it runs, as Erlang's spawn_monitor: HandleDown gets the returned
// Ref when it stops, with the real reason even if it dies at once.
func (c *Context) SpawnMonitor(factory string, args any, opts ...SpawnOption) (PID, Ref, error) {
	b, err := c.encodeArgs(args)
	if err != nil {
		return PID{}, 0, err
	}
	cfg := spawnOptions(opts)
	cfg.flags |= uint32(SpawnMonitor)
	return c.spawnNow(factory, b, cfg)
}

func (c *Context) spawnNow(factory string, args []byte, cfg spawnConfig) (PID, Ref, error) {
	if cfg.node != "" || cfg.supervised {
		return PID{}, 0, fmt.Errorf("%w: Spawn is local and unsupervised; use SpawnRequest with On or Restart", ErrBadArgument)
	}
	pid, ref, code := c.in.now().spawn(c.id, factory, args, cfg.flags)
	if err := codeError(code); err != nil {
		return PID{}, 0, err
	}
	return pid, Ref(ref), nil
}

func (c *Context) encodeArgs(args any) ([]byte, error) {
	if args == nil {
		return nil, nil
	}
	return c.in.encode(args)
}

// SpawnFunc continues a spawn request. It runs as its own turn of the
// requesting actor once the child exists (child is its PID, mon the
// monitor's Ref with [SpawnMonitor], else 0) or the spawn failed (err:
// [ErrUnknownFactory], [ErrNodeDown], [ErrTimeout], [ErrLimit]...).
type SpawnFunc func(ctx *Context, child PID, mon Ref, err error)

// SpawnRequest starts an actor of factory on this node or, with [On],
// another, and returns at once, as Erlang's spawn_request: then runs
// later with the outcome. The instance never waits for it, not even for
// a module that must be pulled and compiled first.
//
// With [SpawnLink] or [SpawnMonitor] the link or monitor is in place
// before the child runs, and then runs before any exit or Down from the
// child. [Restart] supervises the child on its node; [SpawnIsolated]
// gives it an instance of its own.
//
// If SpawnRequest itself returns an error nothing was started and then
// never runs: [ErrBadArgument], [ErrUnknownFactory] (a factory no module
// of the cluster exports), [ErrNodeDown] (the node is not connected or
// unknown), [ErrLimit] (too many requests in flight).
//
// # Notes
//
// If this actor stops or is restarted before the outcome arrives, then
// never runs and the child is abandoned: a linked child gets an exit
// signal with reason "abandoned", a monitor is dropped. The same happens
// when the request times out (the node's compile deadline plus its ask
// timeout, a minute by default); then runs with [ErrTimeout].
func (c *Context) SpawnRequest(factory string, args any, then SpawnFunc, opts ...SpawnOption) error {
	b, err := c.encodeArgs(args)
	if err != nil {
		return err
	}
	return c.SpawnRequestRaw(factory, b, then, opts...)
}

// SpawnRequestRaw is [Context.SpawnRequest] with the init arguments given
// as bytes.
func (c *Context) SpawnRequestRaw(factory string, args []byte, then SpawnFunc, opts ...SpawnOption) error {
	if then == nil {
		return fmt.Errorf("%w: SpawnRequest needs a continuation", ErrBadArgument)
	}
	cfg := spawnOptions(opts)
	c.in.lastRef++
	ref := c.in.lastRef
	if err := codeError(c.in.now().spawnRequest(c.id, ref, factory, args, cfg.node, cfg.flags, cfg.restart)); err != nil {
		return err
	}
	x := c.ext()
	if x.spawns == nil {
		x.spawns = make(map[uint64]SpawnFunc)
	}
	x.spawns[ref] = then
	return nil
}
