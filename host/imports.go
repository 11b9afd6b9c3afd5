package host

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/engine"
	"github.com/wasmactor/wasmactor/internal/proto"
)

// imports answers the guest's import calls for one instance. The engine calls
// it on the goroutine running that instance's turn.
type imports struct {
	n  *Node
	in *instance
}

var _ engine.Host = (*imports)(nil)

// caller returns the calling actor if it is alive and pinned to this
// instance; a guest cannot act on behalf of actors it does not host.
func (im *imports) caller(serial uint64) *actor {
	a := im.n.actors.get(serial)
	if a == nil || a.inst.Load() != im.in || !a.alive() {
		return nil
	}
	return a
}

// errRemote is returned by target for a PID on another node; callers that
// support remote targets check for it.
const errRemote engine.Errno = 0xffff

// target resolves an ABI PID to a local actor, or errRemote.
func (im *imports) target(p engine.PID) (*actor, engine.Errno) {
	if p.Node != im.n.incarnation {
		if _, e := im.n.peerByInc(p.Node); e != engine.OK {
			return nil, e
		}
		return nil, errRemote
	}
	a := im.n.actors.get(p.Serial)
	if a == nil || !a.alive() {
		return nil, engine.NoProc
	}
	return a, engine.OK
}

func (im *imports) SelfNode() uint64 { return im.n.incarnation }

func (im *imports) Send(serial uint64, to engine.PID, msg []byte) engine.Errno {
	if im.caller(serial) == nil {
		return engine.BadArgument
	}
	im.in.mod.counters.sent.Add(1)
	return im.n.tell(engine.PID{Node: im.n.incarnation, Serial: serial}, to, engine.KindTell, 0, msg)
}

func (im *imports) Ask(serial uint64, to engine.PID, ref uint64, timeout time.Duration, msg []byte) engine.Errno {
	a := im.caller(serial)
	if a == nil {
		return engine.BadArgument
	}
	if timeout <= 0 {
		timeout = im.n.cfg.AskTimeout
	}
	im.in.mod.counters.sent.Add(1)
	key := askKey{serial: serial, ref: ref}
	// Registered before sending: the reply can come from another worker
	// before tell returns.
	if !im.n.asks.add(key, to, timeout, func() { im.n.replyToActor(key, engine.Timeout, nil) }) {
		return engine.BadArgument // ref reused while pending
	}
	if e := im.n.tell(engine.PID{Node: im.n.incarnation, Serial: serial}, to, engine.KindAsk, ref, msg); e != engine.OK {
		im.n.asks.take(key)
		return e
	}
	return engine.OK
}

func (im *imports) Reply(serial uint64, to engine.PID, ref uint64, msg []byte) engine.Errno {
	if im.caller(serial) == nil {
		return engine.BadArgument
	}
	return im.n.reply(engine.PID{Node: im.n.incarnation, Serial: serial}, to, ref, engine.OK, msg)
}

func (im *imports) Spawn(serial uint64, factory string, args []byte, flags engine.SpawnFlags) (engine.PID, engine.Errno) {
	parent := im.caller(serial)
	if parent == nil {
		return engine.PID{}, engine.BadArgument
	}
	spec := spawnSpec{factory: factory, args: args, isolated: flags&engine.SpawnIsolated != 0, parent: im.n.abiPID(parent)}
	if flags&engine.SpawnLink != 0 {
		spec.link = parent
	}
	// Spawning from inside a turn may instantiate a new instance (pool
	// growth or isolated) or even pull the module from a peer; that happens
	// on this worker, so it is bounded by the guest call deadline.
	ctx, cancel := context.WithTimeout(im.n.life, im.n.cfg.GuestTimeout)
	defer cancel()
	a, err := im.n.spawnLocal(ctx, spec)
	if err != nil {
		im.n.log.Debug("guest spawn failed", "parent", im.n.pidOf(parent).String(), "factory", factory, "err", err)
		return engine.PID{}, engine.ErrnoOf(err)
	}
	return im.n.abiPID(a), engine.OK
}

func (im *imports) Stop(serial uint64, reason string) {
	a := im.caller(serial)
	if a == nil {
		return
	}
	if reason == "" {
		reason = wasmactor.ReasonNormal
	}
	im.n.exit(a, reason, false, true)
}

func (im *imports) Kill(serial uint64, target engine.PID, reason string) engine.Errno {
	if im.caller(serial) == nil {
		return engine.BadArgument
	}
	if reason == "" {
		reason = wasmactor.ReasonKilled
	}
	t, e := im.target(target)
	if e == errRemote {
		p := im.n.pidOfABI(target)
		im.n.cast(p.Node, proto.KindKill, proto.Exit{From: serial, To: p.Serial, Reason: reason})
		return engine.OK
	}
	if e != engine.OK {
		return e
	}
	im.n.exit(t, reason, true, true)
	return engine.OK
}

func (im *imports) Monitor(serial uint64, target engine.PID) uint64 {
	a := im.caller(serial)
	if a == nil {
		return 0
	}
	t, e := im.target(target)
	if e == errRemote {
		return im.n.watchRemote(im.n.pidOfABI(target), watcher{actor: a})
	}
	if e == engine.NoProc && target.Node == im.n.incarnation {
		t = im.n.actors.get(target.Serial) // maybe being restarted: watch decides
	}
	if t == nil {
		// Already dead or unknown: DOWN "noproc" follows, as abi.md promises.
		ref := im.n.refs.Add(1)
		im.n.notifyDown(watcher{actor: a}, ref, PID{Incarnation: target.Node, Serial: target.Serial}, wasmactor.ReasonNoProc)
		return ref
	}
	return im.n.watch(t, watcher{actor: a})
}

func (im *imports) Demonitor(serial uint64, ref uint64) {
	a := im.caller(serial)
	if a == nil {
		return
	}
	a.mu.Lock()
	t, ok := a.watching[ref]
	delete(a.watching, ref)
	delete(a.downs, ref) // a DOWN already queued is not delivered either
	a.mu.Unlock()
	switch {
	case t != nil:
		im.n.unwatch(t, ref)
	case ok:
		im.n.unwatchRemote(ref)
	}
}

func (im *imports) Link(serial uint64, target engine.PID) engine.Errno {
	a := im.caller(serial)
	if a == nil {
		return engine.BadArgument
	}
	t, e := im.target(target)
	if e == errRemote {
		return engine.ErrnoOf(im.n.linkRemote(a, im.n.pidOfABI(target)))
	}
	if e != engine.OK {
		return e
	}
	return engine.ErrnoOf(im.n.link(a, t))
}

func (im *imports) Unlink(serial uint64, target engine.PID) {
	a := im.caller(serial)
	if a == nil {
		return
	}
	switch t, e := im.target(target); e {
	case engine.OK:
		im.n.unlink(a, t)
	case errRemote:
		im.n.unlinkRemote(a, im.n.pidOfABI(target))
	}
}

func (im *imports) TrapExit(serial uint64, on bool) {
	if a := im.caller(serial); a != nil {
		a.mu.Lock()
		a.trapExit = on
		a.mu.Unlock()
	}
}

func (im *imports) Register(serial uint64, name string) engine.Errno {
	a := im.caller(serial)
	if a == nil {
		return engine.BadArgument
	}
	return engine.ErrnoOf(im.n.register(name, a))
}

func (im *imports) Unregister(serial uint64, name string) {
	if a := im.caller(serial); a != nil {
		im.n.unregister(name, im.n.pidOf(a))
	}
}

func (im *imports) Whereis(name string) (engine.PID, engine.Errno) {
	pid, ok := im.n.names.Whereis(name)
	if !ok {
		return engine.PID{}, engine.NotFound
	}
	return engine.PID{Node: pid.Incarnation, Serial: pid.Serial}, engine.OK
}

func (im *imports) SendAfter(serial uint64, to engine.PID, delay time.Duration, msg []byte) engine.Errno {
	a := im.caller(serial)
	if a == nil {
		return engine.BadArgument
	}
	if _, e := im.target(to); e != engine.OK && e != errRemote {
		return e
	}
	from := im.n.abiPID(a)
	time.AfterFunc(delay, func() {
		// The message is lost if the sender died meanwhile, as abi.md says.
		if a.alive() && !im.n.closed.Load() {
			im.n.tell(from, to, engine.KindTell, 0, msg)
		}
	})
	return engine.OK
}

func (im *imports) Log(serial uint64, level slog.Level, msg string) {
	im.n.log.Log(im.n.life, level, msg, "actor", fmt.Sprintf("<%s.%d>", im.n.cfg.Name, serial), "module", im.in.mod.info.Hash.Short())
}
