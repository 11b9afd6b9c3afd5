package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fxamacker/cbor/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/transport"
)

// PID is re-exported so users of the Go API need only this package.
type PID = wasmactor.PID

// ModuleInfo describes a deployed module: its hash, size and factories.
// It is re-exported, like PID, so users of the Go API need only this package.
type ModuleInfo = registry.ModuleInfo

// NodeInfo identifies one running node: its name, incarnation and address.
type NodeInfo = transport.NodeInfo

// CBOR is a message that is already CBOR-encoded: Send and Call pass it to
// the guest unchanged, and Call returns replies as CBOR.
type CBOR []byte

// Decode decodes the CBOR into v.
func (c CBOR) Decode(v any) error { return cbor.Unmarshal(c, v) }

// encMode encodes user messages (Send, Call, spawn args). It is not the
// cluster protocol's mode (internal/cbormode): a user's value may carry tags
// (time.Time, big numbers) that the guest decodes, while the protocol
// refuses tags.
var encMode = func() cbor.EncMode {
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// encode turns a Go value into a message payload.
func (n *Node) encode(v any) ([]byte, error) {
	var b []byte
	switch m := v.(type) {
	case CBOR:
		b = m
	case nil:
		return nil, nil
	default:
		var err error
		if b, err = encMode.Marshal(v); err != nil {
			return nil, fmt.Errorf("%w: cannot encode message as CBOR: %v", wasmactor.ErrBadArgument, err)
		}
	}
	if len(b) > n.cfg.MaxMessageSize {
		return nil, fmt.Errorf("%w: message of %d bytes, the cap is %d", wasmactor.ErrTooLarge, len(b), n.cfg.MaxMessageSize)
	}
	return b, nil
}

// SpawnOptions are the options of Spawn. The zero value spawns a temporary,
// unnamed actor into a shared instance with no init args.
type SpawnOptions struct {
	// Name registers the actor under a cluster-wide name.
	Name string
	// Args is the actor's init argument, CBOR-encoded (a CBOR value passes as is).
	Args any
	// Isolated gives the actor an instance of its own, so a crash of its
	// neighbours cannot take it down (and the other way round).
	Isolated bool
	// Restart is the supervision policy. Restarts keep the PID and the name;
	// the actor is restarted on the node it runs on.
	Restart wasmactor.Restart
	// Node is the node to spawn on. Empty lets placement choose among the
	// nodes that can run the factory (those holding its module and, while
	// one of them is up, every member, which pulls it): the one with the
	// fewest actors (counts refreshed at most once a second), preferring on
	// a tie a node that holds the module, then this node. Placement does not
	// know other limits of a member (its module size cap, memory): a spawn
	// that must land somewhere in particular names the node.
	Node string
}

// Spawn starts an actor of factory ("Counter", or "Counter@<hash prefix>"
// to pin a module version) and returns its PID. The actor is constructed by
// its guest asynchronously; messages sent to the PID at once are queued
// behind its start.
//
// # Errors
//
// [wasmactor.ErrUnknownFactory], [wasmactor.ErrAmbiguousFactory],
// [wasmactor.ErrNameTaken], [wasmactor.ErrTooLarge] for oversized args,
// [wasmactor.ErrUnknownNode] for a Node that is not a member,
// [wasmactor.ErrModuleUnavailable] when no node holding the module is up,
// or an error instantiating the module.
func (n *Node) Spawn(ctx context.Context, factory string, opts SpawnOptions) (PID, error) {
	if n.tracer == nil {
		return n.spawn(ctx, factory, opts)
	}
	ctx, span := n.startSpan(ctx, spanSpawn, trace.SpanKindClient, attrFactory.String(factory), attrNode.String(opts.Node))
	pid, err := n.spawn(ctx, factory, opts)
	if err == nil {
		span.SetAttributes(attrActor.String(pid.String()))
	}
	endSpan(span, err)
	return pid, err
}

func (n *Node) spawn(ctx context.Context, factory string, opts SpawnOptions) (PID, error) {
	args, err := n.encode(opts.Args)
	if err != nil {
		return PID{}, err
	}
	node := opts.Node
	if node == "" {
		if node, err = n.chooseNode(ctx, factory); err != nil {
			return PID{}, err
		}
	}
	if node != n.cfg.Name {
		return n.spawnRemote(ctx, node, proto.Spawn{Factory: factory, Args: args, Name: opts.Name, Isolated: opts.Isolated, Restart: opts.Restart})
	}
	a, err := n.spawnLocal(ctx, spawnSpec{factory: factory, args: args, isolated: opts.Isolated, restart: opts.Restart, name: opts.Name})
	if err != nil {
		return PID{}, err
	}
	return n.pidOf(a), nil
}

// spawnRemote asks another node to spawn. The factory is resolved here
// first, so a pinned version means the same module there, and the peer
// learns which node holds the module in case it must pull it.
func (n *Node) spawnRemote(ctx context.Context, node string, req proto.Spawn) (PID, error) {
	if _, err := n.peer(node); err != nil {
		return PID{}, err
	}
	ref := req.Factory
	for tries := 0; ; tries++ {
		factory, info, err := n.factories.Resolve(ref)
		if err != nil {
			return PID{}, err
		}
		req.Factory = factory + "@" + info.Hash.String()
		req.Module = &info
		req.Holder = n.holderOf(info.Hash)
		req.Trace = n.traceFrom(ctx).bytes()
		var rep proto.SpawnReply
		err = n.call(ctx, node, proto.KindSpawn, req, &rep)
		if err == nil {
			return rep.PID, nil
		}
		if !errors.Is(err, wasmactor.ErrUnknownFactory) || n.factories.Checked(info.Hash) || tries == 3 {
			return PID{}, err
		}
		// The target derived the module's factories from its bytes and the
		// factory is not among them: the list this node was announced is
		// wrong. Derive it here too (loading the module does), then resolve
		// again; this happens once per module.
		if _, lerr := n.module(ctx, info, req.Holder); lerr != nil {
			return PID{}, err
		}
	}
}

// local resolves a PID of this node to its live actor. For a PID of a
// connected peer it returns (nil, to, nil): the caller goes remote.
func (n *Node) local(pid PID) (*actor, abi.PID, error) {
	to, err := n.resolve(pid)
	if err != nil {
		return nil, to, err
	}
	if to.Incarnation != n.incarnation {
		return nil, to, nil
	}
	a := n.actors.get(to.Serial)                              // pid's, or where it migrated to
	if a == nil || a.dead() || a.state.Load() == stateMoved { // an exiting actor may come back: monitors and links wait
		return nil, to, fmt.Errorf("%w: %s", wasmactor.ErrNoProc, pid)
	}
	return a, to, nil
}

// Send delivers msg to the actor one way (at most once).
//
// # Errors
//
// [wasmactor.ErrNoProc], [wasmactor.ErrStaleIncarnation] for a PID of an
// earlier run of its node, [wasmactor.ErrMailboxFull],
// [wasmactor.ErrTooLarge], and [wasmactor.ErrBadPID] for a PID with a zero
// Serial or Incarnation (never taken to mean the node's current run).
func (n *Node) Send(ctx context.Context, to PID, msg any) error {
	return n.send(n.hostPID(), to, msg)
}

// send is a tell from the actor (or node host) from.
func (n *Node) send(from abi.PID, to PID, msg any) error {
	payload, err := n.encode(msg)
	if err != nil {
		return err
	}
	_, dst, err := n.local(to)
	if err != nil {
		return err
	}
	if e := n.tell(from, dst, abi.KindTell, 0, payload); e != abi.OK {
		return fmt.Errorf("%w: sending to %s", e.Err(), to)
	}
	return nil
}

// Call asks the actor and waits for its reply, until ctx is done or, if ctx
// has no deadline, Config.AskTimeout. It fails fast if the actor dies first.
//
// # Errors
//
// [wasmactor.ErrTimeout] (also wrapping ctx's error), [wasmactor.ErrNoProc]
// when the actor is or becomes dead, and the errors of Send.
func (n *Node) Call(ctx context.Context, to PID, msg any) (CBOR, error) {
	if n.tracer == nil {
		reply, err := n.callActor(ctx, to, msg, nil)
		if err != nil {
			n.callFailed(ctx, to, err, trace.SpanContext{})
		}
		return reply, err
	}
	ctx, span := n.tracer.Start(ctx, spanCall, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrTarget.String(to.String())))
	reply, err := n.callActor(ctx, to, msg, traceOf(span.SpanContext()))
	endSpan(span, err)
	if err != nil {
		n.callFailed(ctx, to, err, span.SpanContext())
	}
	return reply, err
}

// callFailed logs a failed Call at debug level (the caller has the error),
// with its trace id if it was traced.
func (n *Node) callFailed(ctx context.Context, to PID, err error, sc trace.SpanContext) {
	if !n.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	if sc.IsValid() {
		n.log.LogAttrs(ctx, slog.LevelDebug, "call failed", slog.String("target", to.String()), slog.Any("err", err), traceIDAttr(sc))
		return
	}
	n.log.LogAttrs(ctx, slog.LevelDebug, "call failed", slog.String("target", to.String()), slog.Any("err", err))
}

// callActor is Call, the message travelling in trace context tc (nil: none).
func (n *Node) callActor(ctx context.Context, to PID, msg any, tc *traceCtx) (CBOR, error) {
	payload, err := n.encode(msg)
	if err != nil {
		return nil, err
	}
	a, dst, err := n.local(to)
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.AskTimeout)
		defer cancel()
	}
	defer observeSince(n.metrics.call, time.Now())
	ref := newRef()
	pc := &pendingCall{ch: make(chan callResult, 1), callee: dst}
	n.calls.Store(ref, pc)
	if a != nil {
		// A local callee that dies fails the call at once. A remote one is
		// covered by its node answering NOPROC and by node-down.
		mref := n.watch(a, watcher{call: ref})
		defer n.unwatch(a, mref)
	}
	if e := n.tellTraced(n.hostPID(), dst, abi.KindAsk, ref, payload, tc); e != abi.OK {
		n.calls.Delete(ref)
		return nil, fmt.Errorf("%w: calling %s", e.Err(), to)
	}
	select {
	case r := <-pc.ch:
		return r.reply, r.err
	case <-ctx.Done():
		n.calls.Delete(ref)
		if a != nil {
			n.answered(a, n.hostPID(), ref) // if it held the call (held.go)
		}
		return nil, fmt.Errorf("%w: no reply from %s: %w", wasmactor.ErrTimeout, to, ctx.Err())
	}
}

// Stop stops the actor with reason "shutdown"; its restart policy does not
// bring it back, on this node or another. Its monitors and links fire.
//
// For an actor on another node, Stop returns once the request is sent.
//
// # Errors
//
// [wasmactor.ErrNoProc] and [wasmactor.ErrStaleIncarnation] for a dead
// actor; [wasmactor.ErrNodeDown], or [wasmactor.ErrMailboxFull] for a full
// control queue, when the request could not be sent to the actor's node.
func (n *Node) Stop(ctx context.Context, pid PID) error {
	a, _, err := n.local(pid)
	if err != nil {
		return err
	}
	if a == nil {
		return n.castTry(pid.Node, proto.KindStop, proto.Exit{To: pid.Serial, Reason: wasmactor.ReasonShutdown, ToIncarnation: pid.Incarnation})
	}
	n.exit(a, wasmactor.ReasonShutdown, true, false)
	return nil
}

// Kill stops the actor with an exit reason (default "killed") as if a linked
// actor had died: abnormal reasons propagate over links and the restart
// policy applies.
//
// For an actor on another node, Kill returns once the request is sent; it
// fails as Stop does when it cannot be.
func (n *Node) Kill(ctx context.Context, pid PID, reason string) error {
	a, to, err := n.local(pid)
	if err != nil {
		return err
	}
	if reason == "" {
		reason = wasmactor.ReasonKilled
	}
	if a == nil {
		pid = n.pidOfABI(to) // where it is, if it migrated
		return n.castTry(pid.Node, proto.KindKill, proto.Exit{To: pid.Serial, Reason: reason, ToIncarnation: pid.Incarnation})
	}
	n.exit(a, reason, true, true)
	return nil
}

// Down reports that a monitored actor has stopped for good.
type Down struct {
	PID    PID
	Reason string
}

// Monitor watches one actor from Go.
type Monitor struct {
	// C receives exactly one Down when the actor is dead for good (at once,
	// with reason "noproc", if it already was).
	C      <-chan Down
	cancel func()
}

// Cancel stops the monitor; no Down is sent after it returns.
func (m *Monitor) Cancel() { m.cancel() }

// Monitor starts watching pid. A PID of a dead actor, or of an earlier run
// of its node, gives a Monitor whose Down (reason "noproc") is already sent.
//
// # Errors
//
// [wasmactor.ErrBadPID] for a PID with a zero Serial or Incarnation.
func (n *Node) Monitor(ctx context.Context, pid PID) (*Monitor, error) {
	ch := make(chan Down, 1)
	a, target, err := n.local(pid)
	if errors.Is(err, wasmactor.ErrBadPID) {
		return nil, err
	}
	if errors.Is(err, wasmactor.ErrNoProc) && n.IsLocal(pid) {
		// Maybe being restarted, not dead: watch decides.
		if a = n.actors.get(pid.Serial); a != nil {
			err = nil
		}
	}
	if err != nil {
		ch <- Down{PID: pid, Reason: wasmactor.ReasonNoProc}
		return &Monitor{C: ch, cancel: func() {}}, nil
	}
	if a == nil {
		ref := n.watchRemote(n.pidOfABI(target), watcher{ch: ch})
		return &Monitor{C: ch, cancel: func() { n.unwatchRemote(ref) }}, nil
	}
	ref := n.watch(a, watcher{ch: ch})
	return &Monitor{C: ch, cancel: func() { n.unwatch(a, ref) }}, nil
}

// Link links two actors: when one dies abnormally the other dies with the
// same reason, unless it traps exits.
//
// At least one of the two must be on this node.
func (n *Node) Link(ctx context.Context, a, b PID) error {
	x, xabi, err := n.local(a)
	if err != nil {
		return err
	}
	y, yabi, err := n.local(b)
	if err != nil {
		return err
	}
	switch {
	case x != nil && y != nil:
		return n.link(x, y)
	case x != nil:
		return n.linkRemote(x, n.pidOfABI(yabi))
	case y != nil:
		return n.linkRemote(y, n.pidOfABI(xabi))
	}
	return fmt.Errorf("%w: neither %s nor %s is on node %s", wasmactor.ErrBadArgument, a, b, n.cfg.Name)
}

// Unlink removes the link between two actors, if there is one, on both
// sides: an abnormal stop of one no longer stops the other. At least one of
// the two must be on this node; the other may be anywhere.
//
// Unlinking actors that are not linked, or that are dead, or whose node is
// gone, is not an error (their links are already gone), as in Erlang.
//
// # Errors
//
// [wasmactor.ErrBadPID] for a PID without a serial,
// [wasmactor.ErrBadArgument] when neither actor is on this node.
func (n *Node) Unlink(ctx context.Context, a, b PID) error {
	if a.Serial == 0 || b.Serial == 0 {
		return fmt.Errorf("%w: unlink %s and %s", wasmactor.ErrBadPID, a, b)
	}
	if !n.IsLocal(a) && !n.IsLocal(b) {
		return fmt.Errorf("%w: neither %s nor %s is on node %s", wasmactor.ErrBadArgument, a, b, n.cfg.Name)
	}
	x, xabi, errx := n.local(a)
	y, yabi, erry := n.local(b)
	switch {
	case errx != nil || erry != nil:
		// A dead actor's links went with it; a lost node's links broke
		// with "noconnection".
		return nil
	case x != nil && y != nil:
		n.unlink(x, y)
	case x != nil:
		n.unlinkRemote(x, n.pidOfABI(yabi))
	default:
		n.unlinkRemote(y, n.pidOfABI(xabi))
	}
	return nil
}

// IsLocal reports whether pid names an actor of this run of this node
// (alive or not): its node is this one and its incarnation is this node's
// current one, or zero, which the Go API reads as "current". A PID of an
// earlier run of this node is not local: it names an actor that no longer
// exists anywhere ([wasmactor.ErrStaleIncarnation]). A PID's text form
// alone cannot say which run it belongs to, which is why this is a method
// of the Node.
func (n *Node) IsLocal(pid PID) bool {
	return pid.Node == n.cfg.Name && (pid.Incarnation == 0 || pid.Incarnation == n.incarnation)
}
