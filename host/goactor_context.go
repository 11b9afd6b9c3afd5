package host

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
)

// ActorContext is a Go actor's handle on the node, given to its [Handler].
// Use it from the handler's goroutine; [ActorContext.ReplyTo],
// [ActorContext.Self], [ActorContext.Node] and [ActorContext.Context] may
// be used from any goroutine.
type ActorContext struct {
	n       *Node
	a       *actor
	g       *goActor
	self    PID
	selfABI abi.PID
	life    context.Context

	req    Request
	hasReq bool

	stopping   bool
	stopReason string
}

// Self returns the actor's PID.
func (c *ActorContext) Self() PID { return c.self }

// Node returns the node the actor lives on, for everything the context does
// not offer (Spawn, Kill, groups...); what the Node does, it does as the
// node's host, not as this actor.
func (c *ActorContext) Node() *Node { return c.n }

// Context is done once the actor has stopped (or its node is closing).
func (c *ActorContext) Context() context.Context { return c.life }

// Send sends msg (CBOR-encoded; a [CBOR] value passes as is) one way, from
// this actor. The errors are [Node.Send]'s.
func (c *ActorContext) Send(to PID, msg any) error { return c.n.send(c.selfABI, to, msg) }

// Call asks the actor to and waits for its answer, until ctx is done or,
// if ctx has no deadline, Config.AskTimeout; the ask comes from this
// actor, so the callee sees its PID. The actor handles nothing else
// meanwhile: two actors calling each other wait for the timeout.
//
// # Errors
//
// [wasmactor.ErrTimeout], [wasmactor.ErrNoProc] (the callee is dead, or
// this actor stopped while waiting), [wasmactor.ErrNodeDown], and the
// errors of [Node.Send].
func (c *ActorContext) Call(ctx context.Context, to PID, msg any) (CBOR, error) {
	n, g := c.n, c.g
	payload, err := n.encode(msg)
	if err != nil {
		return nil, err
	}
	_, dst, err := n.local(to)
	if err != nil {
		return nil, err
	}
	timeout := n.cfg.AskTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	ref := n.refs.Add(1)
	ch := make(chan callResult, 1)
	g.mu.Lock()
	if g.halted {
		g.mu.Unlock()
		return nil, fmt.Errorf("%w: %s has stopped", wasmactor.ErrNoProc, c.self)
	}
	g.calls[ref] = ch
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.calls, ref)
		g.mu.Unlock()
	}()
	serial := c.a.serial
	key := askKey{serial: serial, ref: ref}
	switch r := n.asks.add(serial, ref, timeout, pendingAsk{target: dst}, 0, func() { n.replyToActor(key, abi.Timeout, nil) }); r {
	case added:
	case addClosed:
		return nil, fmt.Errorf("%w: %s", wasmactor.ErrClosed, n.cfg.Name)
	default: // a limit on pending asks
		return nil, fmt.Errorf("%w: %s calling %s", n.addRefused(r, limPendingAsksPerActor, limPendingAsks, limPendingAsks).Err(), c.self, to)
	}
	if e := n.tell(c.selfABI, dst, abi.KindAsk, ref, payload); e != abi.OK {
		n.asks.take(serial, ref)
		return nil, fmt.Errorf("%w: calling %s", e.Err(), to)
	}
	// Killed meanwhile, its exit may have dropped its asks before this one
	// was added: quit is closed, and the case below takes it.
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("%w: calling %s", r.err, to)
		}
		return r.reply, nil
	case <-ctx.Done():
		n.asks.take(serial, ref)
		return nil, fmt.Errorf("%w: no reply from %s: %w", wasmactor.ErrTimeout, to, ctx.Err())
	case <-g.quit:
		n.asks.take(serial, ref)
		return nil, fmt.Errorf("%w: %s stopped while calling %s", wasmactor.ErrNoProc, c.self, to)
	}
}

// Request returns the ask being handled, to answer it later with
// [ActorContext.ReplyTo]; ok is false outside an ask or once it was
// answered with Reply.
func (c *ActorContext) Request() (r Request, ok bool) { return c.req, c.hasReq }

// Reply answers the ask being handled with msg (CBOR-encoded; a [CBOR]
// value passes as is).
//
// # Errors
//
// [wasmactor.ErrBadArgument] outside an ask or once it was answered, and
// the encoding errors of [Node.Send].
func (c *ActorContext) Reply(msg any) error {
	if !c.hasReq {
		return fmt.Errorf("%w: no ask to reply to", wasmactor.ErrBadArgument)
	}
	if err := c.ReplyTo(c.req, msg); err != nil {
		return err
	}
	c.hasReq = false
	return nil
}

// ReplyTo answers an ask kept from an earlier message (see
// [ActorContext.Request]), from any goroutine. The asker keeps the first
// answer; an answer after its timeout is dropped.
func (c *ActorContext) ReplyTo(r Request, msg any) error {
	payload, err := c.n.encode(msg)
	if err != nil {
		return err
	}
	c.n.answered(c.a, r.from, r.ref) // if it held r from an earlier message (held.go)
	if e := c.n.reply(c.selfABI, r.from, r.ref, abi.OK, payload); e != abi.OK {
		return fmt.Errorf("%w: replying to %s", e.Err(), r.From)
	}
	return nil
}

// Monitor watches pid: when it stops, the handler gets a [MessageDown] with
// the returned ref (at once, with reason "noproc", if it is dead already,
// of an earlier run of its node, or on a node that is not connected).
//
// # Errors
//
// [wasmactor.ErrBadPID] for a PID with a zero Serial or Incarnation.
func (c *ActorContext) Monitor(pid PID) (uint64, error) {
	target, err := c.n.resolve(pid)
	if errors.Is(err, wasmactor.ErrBadPID) {
		return 0, err
	}
	if err != nil { // stale, or a node that is not a member: noproc
		target = abi.PID{Incarnation: pid.Incarnation, Serial: pid.Serial}
	}
	return c.n.monitor(c.a, target), nil
}

// Demonitor cancels a monitor; no Down for it is handled afterwards.
func (c *ActorContext) Demonitor(ref uint64) { c.n.demonitor(c.a, ref) }

// Link links this actor with pid, on any node: when either stops
// abnormally, the other stops too, unless it traps exits.
//
// # Errors
//
// Those of [Node.Link].
func (c *ActorContext) Link(pid PID) error { return c.n.Link(c.life, c.self, pid) }

// Unlink removes a link with pid, if there is one.
func (c *ActorContext) Unlink(pid PID) error { return c.n.Unlink(c.life, c.self, pid) }

// TrapExit turns abnormal exits of linked actors into [MessageExit]
// messages instead of stopping this actor.
func (c *ActorContext) TrapExit(on bool) {
	c.a.mu.Lock()
	c.a.setTrapExit(on)
	c.a.mu.Unlock()
}

// Register gives this actor a cluster-wide name ([wasmactor.ErrNameTaken]
// if another live actor holds it).
func (c *ActorContext) Register(name string) error { return c.n.register(name, c.a) }

// Unregister drops a name this actor holds.
func (c *ActorContext) Unregister(name string) { c.n.unregister(name, c.self) }

// Stop stops this actor once the handler returns, with reason (empty means
// "normal").
func (c *ActorContext) Stop(reason string) {
	if reason == "" {
		reason = wasmactor.ReasonNormal
	}
	c.stopping, c.stopReason = true, reason
}
