package host

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/engine"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/transport"
)

// imports answers the guest's import calls for one instance. The engine calls
// it on the goroutine running that instance's turn.
type imports struct {
	n  *Node
	in *instance

	envs []transport.Envelope // SendBatch's runs of remote tells, reused
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

// sender is caller for a send: an actor that is exiting may still send,
// as a dying Erlang process's last messages go out. Its STOP's Terminate
// runs in a turn that can come before or after a restart in place marks
// it alive again; its sends went out or not depending on which came first.
func (im *imports) sender(serial uint64) *actor {
	a := im.n.actors.get(serial)
	if a == nil || a.inst.Load() != im.in || !(a.alive() || a.state.Load() == stateExiting) {
		return nil
	}
	return a
}

// target resolves an ABI PID to a local actor, or errRemote.
func (im *imports) target(p abi.PID) (*actor, abi.Errno) { return im.n.actorAt(p) }

func (im *imports) SelfNode() uint64 { return im.n.incarnation }

func (im *imports) Send(serial uint64, to abi.PID, msg []byte) abi.Errno {
	if im.sender(serial) == nil {
		return abi.BadArgument
	}
	im.in.mod.counters.sent.Add(1)
	return im.n.tellTraced(abi.PID{Incarnation: im.n.incarnation, Serial: serial}, to, abi.KindTell, 0, msg, im.in.trace.of(serial))
}

// SendBatch is Send for each of a guest's batched sends, in order: the
// caller is checked once, as the batch is one import call, and each send
// then goes the way of Send (tellTraced), so its code is what Send would
// have answered at that point.
func (im *imports) SendBatch(serial uint64, sends []engine.Outgoing) abi.Errno {
	if im.sender(serial) == nil {
		return abi.BadArgument
	}
	from := abi.PID{Incarnation: im.n.incarnation, Serial: serial}
	tc := im.in.trace.of(serial)
	var tried uint64
	for k := 0; k < len(sends); {
		s := &sends[k]
		if s.Code != abi.OK { // TOO_LARGE
			k++
			continue
		}
		if run := im.n.tellRemoteRun(from, sends[k:], tc, &im.envs); run > 0 {
			tried += uint64(run)
			k += run
			continue
		}
		tried++
		s.Code = im.n.tellTraced(from, s.To, abi.KindTell, 0, s.Msg, tc)
		k++
	}
	im.in.mod.counters.sent.Add(tried)
	return abi.OK
}

func (im *imports) Ask(serial uint64, to abi.PID, ref uint64, timeout time.Duration, msg []byte) abi.Errno {
	a := im.caller(serial)
	if a == nil {
		return abi.BadArgument
	}
	if timeout <= 0 {
		timeout = im.n.cfg.AskTimeout
	}
	im.in.mod.counters.sent.Add(1)
	key := askKey{serial: serial, ref: ref}
	from := abi.PID{Incarnation: im.n.incarnation, Serial: serial}
	ask := pendingAsk{target: to, trace: im.in.trace.of(serial).clone()}
	var tc *traceCtx
	ask.span, tc = im.n.startAsk(ask.trace, from, to)
	// Registered before sending: the reply can come from another worker
	// before tell returns.
	if r := im.n.asks.add(serial, ref, timeout, ask, 0, func() { im.n.replyToActor(key, abi.Timeout, nil) }); r != added {
		// A ref reused while pending, the node closing, or a limit.
		e := im.n.addRefused(r, limPendingAsksPerActor, limPendingAsks, limPendingAsks)
		endAsk(ask.span, e)
		return e
	}
	if e := im.n.tellTraced(from, to, abi.KindAsk, ref, msg, tc); e != abi.OK {
		if _, ok := im.n.asks.take(serial, ref); ok {
			endAsk(ask.span, e)
		}
		return e
	}
	if !a.alive() {
		// Killed meanwhile by another goroutine: its exit may have dropped
		// its asks before this one was added.
		if _, ok := im.n.asks.take(serial, ref); ok {
			endAsk(ask.span, abi.NoProc)
		}
	}
	return abi.OK
}

func (im *imports) Reply(serial uint64, to abi.PID, ref uint64, msg []byte) abi.Errno {
	a := im.caller(serial)
	if a == nil {
		return abi.BadArgument
	}
	if !im.in.answeredInTurn(serial, to, ref) {
		im.n.answered(a, to, ref) // an ask it held from an earlier turn
	}
	return im.n.reply(abi.PID{Incarnation: im.n.incarnation, Serial: serial}, to, ref, abi.OK, msg)
}

func (im *imports) Spawn(serial uint64, factory string, args []byte, flags abi.SpawnFlags) (abi.PID, uint64, abi.Errno) {
	parent := im.caller(serial)
	if parent == nil {
		return abi.PID{}, 0, abi.BadArgument
	}
	spec := spawnSpec{factory: factory, args: args, isolated: flags&abi.SpawnIsolated != 0, parent: im.n.abiPID(parent), spawner: parent}
	if flags&abi.SpawnLink != 0 {
		spec.link = parent
	}
	var monRef uint64
	if flags&abi.SpawnMonitor != 0 {
		if !im.n.roomToMonitor(parent) {
			return abi.PID{}, 0, abi.Limit
		}
		// Before the child's START: it cannot stop unwatched.
		spec.prepare = func(a *actor) error {
			monRef = im.n.watch(a, watcher{actor: parent})
			return nil
		}
	}
	// Spawning from inside a turn may instantiate a new instance (pool
	// growth or isolated) or even pull the module from a peer; that happens
	// on this worker, so it is bounded by the guest call deadline.
	ctx, cancel := context.WithTimeout(im.n.life, im.n.cfg.GuestTimeout)
	defer cancel()
	tc := im.in.trace.of(serial)
	var span trace.Span
	if tc != nil {
		ctx, span = im.n.startSpan(tc.context(ctx), spanSpawn, trace.SpanKindInternal, attrFactory.String(factory), attrActor.String(im.n.pidOf(parent).String()))
	}
	a, err := im.n.spawnLocal(ctx, spec)
	endSpan(span, err)
	if err != nil {
		args := []any{"parent", im.n.pidOf(parent).String(), "factory", factory, "err", err}
		if tc != nil {
			args = append(args, "trace_id", tc.traceID())
		}
		im.n.log.Debug("guest spawn failed", args...)
		return abi.PID{}, 0, abi.ErrnoOf(err)
	}
	return im.n.abiPID(a), monRef, abi.OK
}

func (im *imports) SpawnRequest(serial uint64, r engine.SpawnRequest) abi.Errno {
	parent := im.caller(serial)
	if parent == nil {
		return abi.BadArgument
	}
	return im.n.spawnRequest(parent, r)
}

func (im *imports) Stop(serial uint64, reason string) {
	a := im.caller(serial)
	if a == nil {
		if w := im.in.restoring; w != nil && w.serial == serial {
			w.failed = reason // the guest refused to restore it (mobility.go)
		}
		return
	}
	if reason == "" {
		reason = wasmactor.ReasonNormal
	}
	im.n.exit(a, reason, false, true)
}

func (im *imports) Kill(serial uint64, target abi.PID, reason string) abi.Errno {
	target = im.n.followABI(target) // it may have migrated
	if im.caller(serial) == nil {
		return abi.BadArgument
	}
	if reason == "" {
		reason = wasmactor.ReasonKilled
	}
	t, e := im.target(target)
	if e == errRemote {
		p := im.n.pidOfABI(target)
		return abi.ErrnoOf(im.n.castTry(p.Node, proto.KindKill, proto.Exit{From: serial, To: p.Serial, Reason: reason, ToIncarnation: p.Incarnation}))
	}
	if e != abi.OK {
		return e
	}
	im.n.exit(t, reason, true, true)
	return abi.OK
}

// Monitor returns 0, which is never a ref, for a refusal: an unknown
// caller, or one that holds Limits.MonitorsPerActor monitors already.
func (im *imports) Monitor(serial uint64, target abi.PID) uint64 {
	target = im.n.followABI(target) // it may have migrated
	a := im.caller(serial)
	if a == nil {
		return 0
	}
	if !im.n.roomToMonitor(a) {
		return 0
	}
	return im.n.monitor(a, target)
}

func (im *imports) Demonitor(serial uint64, ref uint64) {
	if a := im.caller(serial); a != nil {
		im.n.demonitor(a, ref)
	}
}

func (im *imports) Link(serial uint64, target abi.PID) abi.Errno {
	target = im.n.followABI(target) // it may have migrated
	a := im.caller(serial)
	if a == nil {
		return abi.BadArgument
	}
	t, e := im.target(target)
	if e == errRemote {
		return abi.ErrnoOf(im.n.linkRemote(a, im.n.pidOfABI(target)))
	}
	if e != abi.OK {
		return e
	}
	return abi.ErrnoOf(im.n.link(a, t))
}

func (im *imports) Unlink(serial uint64, target abi.PID) {
	target = im.n.followABI(target) // it may have migrated
	a := im.caller(serial)
	if a == nil {
		return
	}
	switch t, e := im.target(target); e {
	case abi.OK:
		im.n.unlink(a, t)
	case errRemote:
		im.n.unlinkRemote(a, im.n.pidOfABI(target))
	}
}

func (im *imports) TrapExit(serial uint64, on bool) {
	if a := im.caller(serial); a != nil {
		a.mu.Lock()
		a.setTrapExit(on)
		a.mu.Unlock()
	}
}

func (im *imports) Register(serial uint64, name string) abi.Errno {
	a := im.caller(serial)
	if a == nil {
		return abi.BadArgument
	}
	return abi.ErrnoOf(im.n.register(name, a))
}

func (im *imports) Unregister(serial uint64, name string) {
	if a := im.caller(serial); a != nil {
		im.n.unregister(name, im.n.pidOf(a))
	}
}

func (im *imports) Whereis(name string) (abi.PID, abi.Errno) {
	pid, ok := im.n.names.Whereis(name)
	if !ok {
		return abi.PID{}, abi.NotFound
	}
	return abi.PID{Incarnation: pid.Incarnation, Serial: pid.Serial}, abi.OK
}

func (im *imports) SendAfter(serial uint64, to abi.PID, delay time.Duration, msg []byte) (uint64, abi.Errno) {
	a := im.caller(serial)
	if a == nil {
		return 0, abi.BadArgument
	}
	if _, e := im.target(to); e != abi.OK && e != errRemote {
		return 0, e
	}
	n := im.n
	t := sendTimer{key: n.refs.Add(1), to: to, msg: msg, due: time.Now().Add(delay), tc: im.in.trace.of(serial).clone()}
	if r := n.armTimer(a, t); r != added {
		return 0, n.addRefused(r, limTimersPerActor, limTimers, limTimerBytes)
	}
	if !a.alive() {
		n.timers.take(serial, t.key) // killed meanwhile, see Ask
	}
	return t.key, abi.OK
}

// sendTimer is a SendAfter timer: a tell of msg to to at due, from the
// actor that owns it. key is the handle its guest cancels it with.
type sendTimer struct {
	key uint64
	to  abi.PID
	msg []byte
	due time.Time
	tc  *traceCtx
}

// armTimer arms t for a. The timer is a's: stopped when a dies (the
// message is lost then, as abi.md says), when it cancels it, and when the
// node closes; it moves with a migration (migrate.go).
func (n *Node) armTimer(a *actor, t sendTimer) addResult {
	from, serial := n.abiPID(a), a.serial
	return n.timers.add(serial, t.key, time.Until(t.due), t, int64(len(t.msg)), func() {
		if _, ok := n.timers.take(serial, t.key); ok && !n.closed.Load() {
			n.tellTraced(from, t.to, abi.KindTell, 0, t.msg, t.tc)
		}
	})
}

func (im *imports) CancelTimer(serial, timer uint64) abi.Errno {
	if im.caller(serial) == nil {
		return abi.BadArgument
	}
	if _, ok := im.n.timers.take(serial, timer); !ok {
		return abi.NotFound // fired, cancelled, or never this actor's
	}
	return abi.OK
}

// Log logs a guest's line under its instance, and under the actor it names
// if that actor has a record in the batch being delivered (a STOP's
// Terminate runs after the host let the actor go). A guest names the actor
// itself, and the host cannot tell which of the batch's records it is
// handling, so "the actor running" can be any actor of the batch; any other
// id (an idle actor of the same instance, another instance's, nobody) is
// logged as "claimed_actor" rather than trusted. Each actor's lines, and
// the instance's claimed ones, are rate limited (Limits.LogLinesPerSecond).
func (im *imports) Log(serial uint64, level slog.Level, msg string) {
	n, in := im.n, im.in
	a := im.running(serial)
	if !im.allowLog(a) {
		return
	}
	key := "claimed_actor"
	if a != nil {
		key = "actor"
	}
	actor := PID{Node: n.cfg.Name, Incarnation: n.incarnation, Serial: serial}.String()
	ctx, attrs := n.life, []any{key, actor, "module", in.mod.info.Hash.Short(), "instance", in.id}
	if tc := in.trace.of(serial); tc != nil {
		ctx, attrs = tc.context(n.life), append(attrs, "trace_id", tc.traceID())
	}
	n.log.Log(ctx, level, msg, attrs...)
}

// running returns the actor serial if it has a record in the batch being
// delivered, else nil. It runs on the turn's goroutine (imports are called
// during Deliver), which owns in.buf.
func (im *imports) running(serial uint64) *actor {
	for i := range im.in.buf {
		if a := im.in.buf[i].actor; a != nil && a.serial == serial {
			return a
		}
	}
	return nil
}

// allowLog takes a line from the rate limit of actor a, or of the
// instance's claimed lines if a is nil, counting a refusal if there is
// none left; the first line let through after some were dropped is
// preceded by one note saying how many.
func (im *imports) allowLog(a *actor) bool {
	n, in := im.n, im.in
	now, rate := time.Now(), n.cfg.Limits.LogLinesPerSecond
	var ok bool
	var dropped uint64
	if a != nil {
		a.mu.Lock()
		x := a.extra()
		if x.logb == nil {
			x.logb = newLogBucket(now, rate)
		}
		ok, dropped = x.logb.allow(now, rate)
		a.mu.Unlock()
	} else {
		if in.logb == nil {
			in.logb = newLogBucket(now, rate)
		}
		ok, dropped = in.logb.allow(now, rate)
	}
	if !ok {
		n.refused(limLogLines)
		return false
	}
	if dropped > 0 {
		who := []any{"instance", in.id, "module", in.mod.info.Hash.Short()}
		if a != nil {
			who = append(who, "actor", n.pidOf(a).String())
		}
		n.log.Warn("guest log lines dropped: over the rate limit", append(who, "dropped", dropped)...)
	}
	return true
}

// addRefused is the error code for a timer or ask that add did not arm,
// counting the refusal if a limit was the reason.
func (n *Node) addRefused(r addResult, perOwner, total, bytes limit) abi.Errno {
	switch r {
	case addDup:
		return abi.BadArgument // a guest's ask ref reused while pending
	case addClosed:
		return abi.ErrnoOf(wasmactor.ErrClosed)
	case addPerOwner:
		n.refused(perOwner)
	case addTotal:
		n.refused(total)
	case addBytes:
		n.refused(bytes)
	}
	return abi.Limit
}

func (im *imports) MonitorNode(serial uint64, node string) (uint64, abi.Errno) {
	a := im.caller(serial)
	if a == nil {
		return 0, abi.BadArgument
	}
	return im.n.monitorNode(a, node)
}

func (im *imports) JoinGroup(serial uint64, group string) abi.Errno {
	a := im.caller(serial)
	if a == nil || registry.ValidateName(group) != nil {
		return abi.BadArgument
	}
	return abi.ErrnoOf(im.n.joinLocal(a, group))
}

func (im *imports) LeaveGroup(serial uint64, group string) abi.Errno {
	a := im.caller(serial)
	if a == nil || registry.ValidateName(group) != nil {
		return abi.BadArgument
	}
	if !im.n.leaveLocal(a, group) {
		return abi.NotFound
	}
	return abi.OK
}

func (im *imports) GroupMembers(group string) ([]abi.PID, abi.Errno) {
	if registry.ValidateName(group) != nil {
		return nil, abi.BadArgument
	}
	members := im.n.groups.Members(group)
	out := make([]abi.PID, len(members))
	for i, p := range members {
		out[i] = abi.PID{Incarnation: p.Incarnation, Serial: p.Serial}
	}
	return out, abi.OK
}

func (im *imports) SendGroup(serial uint64, group string, msg []byte) (uint32, uint32, abi.Errno) {
	a := im.caller(serial)
	if a == nil || registry.ValidateName(group) != nil {
		return 0, 0, abi.BadArgument
	}
	r := im.n.sendGroup(im.n.abiPID(a), group, msg)
	im.in.mod.counters.sent.Add(uint64(r.Sent))
	return uint32(r.Sent), uint32(r.Refused), abi.OK
}

func (im *imports) MonitorGroup(serial uint64, group string) (uint64, abi.Errno) {
	a := im.caller(serial)
	if a == nil {
		return 0, abi.BadArgument
	}
	return im.n.monitorGroup(a, group)
}
