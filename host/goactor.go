package host

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/scheduler"
)

// Handler handles one message of a Go actor ([Node.SpawnFunc]). It runs on
// the actor's own goroutine, one message at a time. Returning an error, or
// panicking, stops the actor with the error's text (or "panic: <value>")
// as its reason: monitors and links fire as for any actor.
type Handler func(ctx *ActorContext, msg Message) error

// MessageKind says what a [Message] of a Go actor carries.
type MessageKind uint8

const (
	// MessageTell is a one-way message: Payload, from From.
	MessageTell MessageKind = iota + 1
	// MessageAsk is a request: Payload, from From, answered with
	// [ActorContext.Reply] (now) or [ActorContext.ReplyTo] (later).
	MessageAsk
	// MessageDown: an actor this one monitors (From) stopped with Reason;
	// Ref is the monitor, as [ActorContext.Monitor] returned it.
	MessageDown
	// MessageExit: a linked actor (From) stopped abnormally with Reason,
	// and this actor traps exits ([ActorContext.TrapExit]).
	MessageExit
)

func (k MessageKind) String() string {
	switch k {
	case MessageTell:
		return "tell"
	case MessageAsk:
		return "ask"
	case MessageDown:
		return "down"
	case MessageExit:
		return "exit"
	}
	return "unknown"
}

// Message is what a Go actor's [Handler] receives: a user message (a tell
// or an ask) or a system message (a Down or an Exit), which goes ahead of
// user messages queued before it.
type Message struct {
	Kind MessageKind
	// From is the sender of a tell or an ask (Serial 0: a node's host, such
	// as a Go API call or the CLI), or the actor that stopped.
	From PID
	// Payload is the CBOR body of a tell or an ask. It belongs to the
	// handler: nothing else refers to it.
	Payload CBOR
	// Ref is the monitor of a Down.
	Ref uint64
	// Reason is why the actor of a Down or an Exit stopped.
	Reason string
}

// Decode decodes the Payload into v.
func (m Message) Decode(v any) error { return m.Payload.Decode(v) }

// IsAsk reports whether the sender waits for an answer.
func (m Message) IsAsk() bool { return m.Kind == MessageAsk }

// Request identifies an ask, to answer it after the handler has returned
// ([ActorContext.Request], [ActorContext.ReplyTo]).
type Request struct {
	From PID
	from abi.PID
	ref  uint64
}

// goFactory is what listings show as a Go actor's factory.
const goFactory = "go"

// SpawnFunc starts a Go actor: Go code of this process that owns a PID of
// this node and takes part in the actor system like any actor. Guests and
// Go code on any node can send to it, ask it, monitor it and link to it,
// and find it by name if name is not empty (a cluster-wide name, as
// [Node.Register] gives).
//
//	pid, err := node.SpawnFunc(ctx, "greeter", func(ctx *host.ActorContext, msg host.Message) error {
//		if msg.Kind != host.MessageAsk {
//			return nil
//		}
//		var who string
//		if err := msg.Decode(&who); err != nil {
//			return ctx.Reply(map[string]string{"error": err.Error()})
//		}
//		return ctx.Reply("hello, " + who)
//	})
//
// # Notes
//
//   - The handler runs on a goroutine of the actor's own, owned by the node,
//     one message at a time, and never with a node lock held: it may block
//     (on I/O, on [ActorContext.Call]) without holding up anything but its
//     own mailbox.
//   - The mailbox is bounded like a guest's (Config.MailboxSize user
//     messages): a full one is [wasmactor.ErrMailboxFull] for the sender.
//   - The actor stops when the handler returns an error or panics, when it
//     calls [ActorContext.Stop], when the node stops or kills it
//     ([Node.Stop], [Node.Kill], an abnormal exit of a linked actor that it
//     does not trap), and when the node closes. A Go actor has no restart
//     policy: a Go program that wants one supervises it itself.
//   - [Node.Close] waits for every Go actor's goroutine: a handler that
//     blocks must return when [ActorContext.Context] is done.
//
// # Errors
//
// [wasmactor.ErrClosed] once the node is closing, [wasmactor.ErrNameTaken]
// when the name is held, [wasmactor.ErrBadArgument] for a nil handler.
func (n *Node) SpawnFunc(ctx context.Context, name string, h Handler) (PID, error) {
	if h == nil {
		return PID{}, fmt.Errorf("%w: SpawnFunc needs a handler", wasmactor.ErrBadArgument)
	}
	if err := n.reserveActor(nil); err != nil {
		return PID{}, err
	}
	a := &actor{serial: n.serials.Add(1), factory: goFactory}
	a.quota.InitBytes(n.cfg.MailboxSize, n.cfg.Limits.MailboxBytes)
	g := &goActor{n: n, a: a, h: h, wake: make(chan struct{}, 1), quit: make(chan struct{}), calls: make(map[uint64]chan callResult)}
	g.ctx = ActorContext{n: n, a: a, g: g, self: n.pidOf(a), selfABI: n.abiPID(a)}
	g.ctx.life, g.stopLife = context.WithCancel(n.life)
	a.goa = g
	if err := n.gos.add(n, a); err != nil {
		g.stopLife()
		n.releaseActor(a)
		return PID{}, err
	}
	go g.run()
	if name != "" {
		if err := n.register(name, a); err != nil {
			n.exit(a, wasmactor.ReasonShutdown, false, false)
			return PID{}, err
		}
	}
	n.stats.spawned.Add(1)
	return g.ctx.self, nil
}

// goActors tracks the node's Go actors so Close can stop them and wait for
// their goroutines.
type goActors struct {
	mu      sync.Mutex
	closing bool // set by close: no more Go actors
	wg      sync.WaitGroup
}

// add makes a alive and counts its goroutine, unless the node is closing.
// Close calls close before it stops every actor in the table, so a Go
// actor is either in the table by then or refused.
func (ga *goActors) add(n *Node, a *actor) error {
	ga.mu.Lock()
	defer ga.mu.Unlock()
	if ga.closing {
		return fmt.Errorf("%w: node %s", wasmactor.ErrClosed, n.cfg.Name)
	}
	ga.wg.Add(1)
	a.state.Store(stateAlive)
	n.actors.put(a)
	return nil
}

func (ga *goActors) close() {
	ga.mu.Lock()
	ga.closing = true
	ga.mu.Unlock()
}

// wait returns once every Go actor's goroutine has returned. Close calls it
// after it has stopped every actor.
func (ga *goActors) wait() { ga.wg.Wait() }

// goActor is the home of a Go actor: its mailbox and its goroutine, in
// place of an instance.
type goActor struct {
	n *Node
	a *actor
	h Handler

	mailbox scheduler.Mailbox[delivery]
	wake    chan struct{} // capacity 1: there is something in the mailbox
	quit    chan struct{} // closed by halt

	// ctx is the handler's context; owned by the goroutine, except for the
	// fields ReplyTo and Call read, which never change.
	ctx      ActorContext
	stopLife context.CancelFunc

	mu     sync.Mutex
	halted bool                       // dead: nothing more is queued
	calls  map[uint64]chan callResult // Calls this actor waits on, by ref
}

// push queues a record for the Go actor; replies go straight to the Call
// waiting for them. A record for a halted actor is settled at once as the
// instance's turn settles one for a dead actor.
func (g *goActor) push(d delivery, system bool) {
	if d.kind == abi.KindStop {
		return // halt, from finalize, is what stops a Go actor
	}
	// Held while queueing, so that halt (which takes it) orders every
	// push before or after it: see run.
	g.mu.Lock()
	if g.halted {
		g.mu.Unlock()
		if d.quota {
			g.a.quota.GiveBytes(1, len(d.payload))
		}
		g.n.dropped(&d)
		return
	}
	if d.kind == abi.KindReply {
		ch := g.calls[d.ref]
		delete(g.calls, d.ref)
		g.mu.Unlock()
		if ch != nil {
			ch <- callResult{reply: d.payload, err: d.status.Err()}
		}
		return
	}
	if system {
		g.mailbox.PushSystem(d)
	} else {
		g.mailbox.Push(d)
	}
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// halt stops the goroutine after its current message. Called by finalize,
// on whatever goroutine the actor died.
func (g *goActor) halt() {
	g.mu.Lock()
	if g.halted {
		g.mu.Unlock()
		return
	}
	g.halted = true
	g.mu.Unlock()
	g.stopLife()
	close(g.quit)
}

// run is the actor's goroutine.
func (g *goActor) run() {
	defer g.n.gos.wg.Done()
	var buf []delivery
	for {
		select {
		case <-g.wake:
		case <-g.quit:
		}
		buf = g.drain(buf)
		select {
		case <-g.quit:
			// halt set halted before it closed quit, and push queues
			// nothing once halted: after this drain the mailbox stays
			// empty. Its records are settled (the actor is dead).
			g.drain(buf)
			return
		default:
		}
	}
}

// drain delivers everything queued, in batches of Config.TurnBatch.
func (g *goActor) drain(buf []delivery) []delivery {
	for {
		buf = g.mailbox.Drain(buf[:0], g.n.cfg.TurnBatch)
		if len(buf) == 0 {
			return buf
		}
		for i := range buf {
			g.deliver(&buf[i])
		}
		clear(buf) // drop payload references
	}
}

// deliver hands one record to the handler, or settles it if the actor has
// died meanwhile.
func (g *goActor) deliver(d *delivery) {
	n, a := g.n, g.a
	if d.quota {
		a.quota.GiveBytes(1, len(d.payload))
	}
	if !a.alive() {
		n.dropped(d)
		return
	}
	msg := Message{From: n.pidOfABI(d.from)}
	switch d.kind {
	case abi.KindTell, abi.KindAsk:
		msg.Kind, msg.Payload = MessageTell, CBOR(d.payload)
		if d.kind == abi.KindAsk {
			msg.Kind = MessageAsk
		}
	case abi.KindDown:
		if !a.takeDown(d.ref) {
			return // demonitored after the Down was queued
		}
		msg.Kind, msg.Ref, msg.Reason = MessageDown, d.ref, string(d.payload)
	case abi.KindExit:
		msg.Kind, msg.Reason = MessageExit, string(d.payload)
	default:
		return
	}
	if reason, stop := g.handle(d, msg); stop {
		n.exit(a, reason, false, false)
	}
}

// handle runs the handler on one message and says whether the actor stops,
// and why. An ask left unanswered by a handler that fails is answered with
// ErrCrashed, as a guest's would be.
func (g *goActor) handle(d *delivery, msg Message) (reason string, stop bool) {
	c := &g.ctx
	c.req, c.hasReq = Request{}, false
	if d.kind == abi.KindAsk {
		c.req, c.hasReq = Request{From: msg.From, from: d.from, ref: d.ref}, true
	}
	defer func() {
		if r := recover(); r != nil {
			reason, stop = fmt.Sprintf("%s: %v", wasmactor.ReasonPanic, r), true
			g.n.log.Error("go actor panicked", "pid", c.self.String(), "panic", r, "stack", string(debug.Stack()))
		}
		if stop && c.hasReq {
			g.n.replyError(c.selfABI, c.req.from, c.req.ref, wasmactor.ErrCrashed, reason)
		} else if c.hasReq { // kept for ReplyTo, or forgotten: held until it exits (held.go)
			g.n.hold(&pendingReply{to: c.req.from, ref: c.req.ref, asked: c.selfABI, actor: g.a, life: g.a.life()})
		}
		c.hasReq = false
	}()
	if err := g.h(c, msg); err != nil {
		return err.Error(), true
	}
	if c.stopping {
		return c.stopReason, true
	}
	return "", false
}

// leave lets go of an actor that is dead for good: its instance unpins it,
// or its Go actor's goroutine stops.
func (a *actor) leave(in *instance) {
	if a.goa != nil {
		a.goa.halt()
		return
	}
	in.release(a)
}
