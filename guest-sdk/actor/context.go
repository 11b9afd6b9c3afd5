package actor

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Context is an actor's handle on the node: who it is, and the requests it
// makes (send, ask, spawn, monitor...). Each actor has one Context for life;
// it is valid only inside the actor's callbacks (Init, Receive, HandleDown,
// HandleExit, Terminate and ask continuations), because the host accepts
// requests only while it is delivering to the instance.
//
// Requests never block: an ask returns at once and its answer runs a
// continuation later.
type Context struct {
	in     *instance
	id     uint64
	parent PID
	actor  Actor
	fac    *factory

	// x holds what few actors need (a stop, pending asks and spawn
	// requests), allocated on first use: a node holds a million actors,
	// and each byte here is a byte per actor of guest memory. The ask being
	// handled is the instance's (instance.req), since one actor runs at a
	// time: a Context is 64 bytes.
	x *contextExt
}

// contextExt is the part of a Context that most actors never use.
type contextExt struct {
	stopping   bool // Stop was called, or the host stopped the actor
	stopReason string
	// pending holds ask continuations by ref.
	pending map[uint64]ReplyFunc
	// spawns holds spawn request continuations by ref.
	spawns map[uint64]SpawnFunc
	// refused counts posted messages the host refused (post.go).
	refused uint64
}

// ext returns c.x, allocating it on first use.
func (c *Context) ext() *contextExt {
	if c.x == nil {
		c.x = &contextExt{}
	} else if c.x == &stoppedByHost {
		c.x = &contextExt{stopping: true}
	}
	return c.x
}

// stoppedByHost is the extension of an actor that had none when the host
// stopped it: it marks the Context stopping without an allocation (a spawn
// and stop cycle costs the guest heap the Context alone). It is shared and
// never written: ext replaces it first.
var stoppedByHost = contextExt{stopping: true}

// Request identifies an ask so it can be answered after the handler has
// returned (a deferred reply), with [Context.ReplyTo].
type Request struct {
	From PID
	Ref  uint64
}

// ReplyFunc continues an ask. It runs when the answer arrives, as its own
// turn of the asking actor: reply is the answer (valid during the call), err
// is nil or the failure ([ErrTimeout], [ErrNoProc], [ErrMailboxFull]...).
type ReplyFunc func(ctx *Context, reply Message, err error)

// Level is a log severity, as the log import numbers them.
type Level int32

const (
	LevelDebug Level = 0
	LevelInfo  Level = 1
	LevelWarn  Level = 2
	LevelError Level = 3
)

// Self returns the actor's own PID.
func (c *Context) Self() PID { return PID{Incarnation: c.in.incarnation, Serial: c.id} }

// Parent returns the PID of the actor that spawned this one, or the zero
// PID if the host spawned it.
func (c *Context) Parent() PID { return c.parent }

// Factory returns the name the actor was spawned from.
func (c *Context) Factory() string {
	if c.fac == nil {
		return ""
	}
	return c.fac.name
}

// Request returns the ask being handled, for answering it later with
// [Context.ReplyTo]; ok is false outside an ask or once it was answered.
func (c *Context) Request() (r Request, ok bool) {
	if !c.hasReq() {
		return Request{}, false
	}
	return c.in.req, true
}

// hasReq reports whether c is handling an ask it has not answered.
func (c *Context) hasReq() bool { return c.in.reqOf == c }

// dropReq marks the ask c is handling, if any, as answered or taken over.
func (c *Context) dropReq() {
	if c.in.reqOf == c {
		c.in.reqOf = nil
	}
}

// stopping reports whether the actor is stopping (see Stop).
func (c *Context) stopping() bool { return c.x != nil && c.x.stopping }

// Reply answers the ask being handled with v encoded as CBOR. It returns
// [ErrNotAsk] outside an ask or if the ask was already answered.
func (c *Context) Reply(v any) error {
	if !c.hasReq() {
		return ErrNotAsk
	}
	b, err := c.in.encode(v)
	if err != nil {
		return err
	}
	return c.replyRaw(b)
}

// ReplyRaw answers the ask being handled with data as is.
func (c *Context) ReplyRaw(data []byte) error {
	if !c.hasReq() {
		return ErrNotAsk
	}
	return c.replyRaw(data)
}

func (c *Context) replyRaw(data []byte) error {
	c.in.reqOf = nil
	return codeError(c.in.now().reply(c.id, c.in.req.From, c.in.req.Ref, data))
}

// ReplyTo answers an ask kept from an earlier turn (see [Context.Request]).
// Answering the same ask twice is the caller's mistake; the host keeps the
// first answer.
func (c *Context) ReplyTo(r Request, v any) error {
	b, err := c.in.encode(v)
	if err != nil {
		return err
	}
	return c.ReplyRawTo(r, b)
}

// ReplyRawTo is [Context.ReplyTo] with data sent as is.
func (c *Context) ReplyRawTo(r Request, data []byte) error {
	if c.hasReq() && c.in.req == r {
		c.in.reqOf = nil
	}
	return codeError(c.in.now().reply(c.id, r.From, r.Ref, data))
}

// Send sends v, encoded as CBOR, to the actor to. It returns once the host
// has queued (or refused) the message: [ErrNoProc], [ErrMailboxFull],
// [ErrNodeDown], [ErrTooLarge]...
func (c *Context) Send(to PID, v any) error {
	b, err := c.in.encode(v)
	if err != nil {
		return err
	}
	return codeError(c.in.now().send(c.id, to, b))
}

// SendRaw sends data as is: no encoding, no allocation. The host copies it
// before returning, so data may be reused at once.
func (c *Context) SendRaw(to PID, data []byte) error {
	return codeError(c.in.now().send(c.id, to, data))
}

// Ask sends v, encoded as CBOR, to the actor to as a request, and returns at
// once. When the answer arrives, or the ask fails later (timeout, target
// died), then runs as a turn of this actor. A timeout of 0 means the host's
// default (5 s).
//
// If Ask itself returns an error the request was not sent and then will
// never run.
func (c *Context) Ask(to PID, v any, timeout time.Duration, then ReplyFunc) error {
	b, err := c.in.encode(v)
	if err != nil {
		return err
	}
	return c.AskRaw(to, b, timeout, then)
}

// AskRaw is [Context.Ask] with data sent as is.
func (c *Context) AskRaw(to PID, data []byte, timeout time.Duration, then ReplyFunc) error {
	if then == nil {
		return fmt.Errorf("%w: Ask needs a continuation", ErrBadArgument)
	}
	c.in.lastRef++
	ref := c.in.lastRef
	if err := codeError(c.in.now().ask(c.id, to, ref, millis(timeout), data)); err != nil {
		return err
	}
	x := c.ext()
	if x.pending == nil {
		x.pending = make(map[uint64]ReplyFunc)
	}
	x.pending[ref] = then
	return nil
}

// Pending returns how many asks and spawn requests of this actor await an
// answer.
func (c *Context) Pending() int {
	if c.x == nil {
		return 0
	}
	return len(c.x.pending) + len(c.x.spawns)
}

// Stop stops this actor once the current callback returns: Terminate runs
// (if the actor has it), the host is told, and records still queued for the
// actor are dropped. An empty reason means "normal"; anything other than
// "normal" and "shutdown" is abnormal and propagates to linked actors.
func (c *Context) Stop(reason string) {
	if c.stopping() {
		return
	}
	x := c.ext()
	x.stopping = true
	if reason != "" {
		x.stopReason = reason
	}
}

// MigrateTo asks the node to move this actor to another node once the
// current callback returns: its state (see [Snapshotter]) and the messages
// queued for it go there, and it carries on under a PID of that node (its
// old PID keeps working; Self changes). The move happens only at a boundary
// where the actor has no asks of its own in flight, so an actor that asks
// and then migrates moves after the answers arrive. An error means the
// request was refused at once ([ErrNodeDown] for a node that is not a
// connected member, [ErrBadArgument] for this node, [ErrLimit] while an
// earlier MigrateTo of this actor is still being carried out); a move that fails
// later (the factory cannot snapshot, the node refuses) leaves the actor
// where it is, and the node's log says why.
func (c *Context) MigrateTo(node string) error {
	return codeError(c.in.now().migrate(c.id, node))
}

// Kill stops another actor with reason (empty means "killed").
func (c *Context) Kill(pid PID, reason string) error {
	return codeError(c.in.now().kill(c.id, pid, reason))
}

// Monitor starts watching pid: when it stops, HandleDown runs with the
// returned Ref. A dead pid produces a Down with reason "noproc".
//
// # Errors
//
// [ErrLimit] when this actor holds the node's limit of monitors already
// (host.Limits.MonitorsPerActor, counting Downs not yet handled); nothing
// is watched then.
func (c *Context) Monitor(pid PID) (Ref, error) {
	ref := c.in.now().monitor(c.id, pid)
	if ref == 0 {
		return 0, ErrLimit
	}
	return Ref(ref), nil
}

// Demonitor cancels a monitor of an actor, a node ([Context.MonitorNode])
// or a group ([Context.MonitorGroup]); nothing for it arrives afterwards.
func (c *Context) Demonitor(ref Ref) { c.in.now().demonitor(c.id, uint64(ref)) }

// Link ties this actor's life to pid's, both ways: when either stops
// abnormally the other stops too, unless it traps exits.
func (c *Context) Link(pid PID) error { return codeError(c.in.now().link(c.id, pid)) }

// Unlink removes a link.
func (c *Context) Unlink(pid PID) { c.in.now().unlink(c.id, pid) }

// TrapExit turns abnormal exits of linked actors into calls to HandleExit
// instead of stopping this actor.
func (c *Context) TrapExit(on bool) { c.in.now().trapExit(c.id, on) }

// Register gives this actor a cluster-wide name ([ErrNameTaken] if another
// live actor holds it).
func (c *Context) Register(name string) error {
	return codeError(c.in.now().register(c.id, name))
}

// Unregister drops a name this actor holds.
func (c *Context) Unregister(name string) { c.in.now().unregister(c.id, name) }

// Whereis looks a name up ([ErrNotFound] if nobody holds it).
func (c *Context) Whereis(name string) (PID, error) {
	pid, code := c.in.now().whereis(name)
	if err := codeError(code); err != nil {
		return PID{}, err
	}
	return pid, nil
}

// SendAfter has the host send v to to after delay, and returns the timer,
// which can cancel it. The message is lost if this actor has died (or
// been restarted) by then.
//
// # Errors
//
// [ErrLimit] when this actor or the node has its limit of timers armed
// already, or the node's timers hold their limit of bytes
// (host.Limits.TimersPerActor, Timers, TimerBytes); [ErrNoProc],
// [ErrTooLarge]... Nothing is armed then.
func (c *Context) SendAfter(to PID, delay time.Duration, v any) (Timer, error) {
	b, err := c.in.encode(v)
	if err != nil {
		return Timer{}, err
	}
	return c.SendAfterRaw(to, delay, b)
}

// SendAfterRaw is [Context.SendAfter] with data sent as is.
func (c *Context) SendAfterRaw(to PID, delay time.Duration, data []byte) (Timer, error) {
	id, code := c.in.now().sendAfter(c.id, to, millis(delay), data)
	if err := codeError(code); err != nil {
		return Timer{}, err
	}
	return Timer{in: c.in, actor: c.id, id: id}, nil
}

// Timer is a message [Context.SendAfter] will send. The zero Timer is
// none: cancelling it does nothing.
type Timer struct {
	in    *instance
	actor uint64
	id    uint64
}

// Cancel disarms the timer, so its message is not sent, and reports
// whether it did: false if the message was sent already, or the timer was
// cancelled before. Like the [Context] that armed it, it works only inside
// the callbacks of the actor that armed it.
func (t Timer) Cancel() bool {
	if t.in == nil {
		return false
	}
	return t.in.now().cancelTimer(t.actor, t.id) == codeOK
}

// ID is the timer's handle as the host knows it: an actor that snapshots
// keeps it in its state, since a Timer itself does not survive a restore,
// and gets the Timer back with [Context.Timer]. A timer moves with its actor
// when the actor migrates, under the same ID.
func (t Timer) ID() uint64 { return t.id }

// Timer returns the handle of this actor's timer id (see [Timer.ID]), for
// an actor restored from a snapshot, after an upgrade or a migration.
func (c *Context) Timer(id uint64) Timer { return Timer{in: c.in, actor: c.id, id: id} }

// Log writes a line to the node's log, tagged with this actor. args are
// key-value pairs printed as key=value after msg:
//
//	ctx.Log(actor.LevelInfo, "counted", "value", n)
func (c *Context) Log(level Level, msg string, args ...any) {
	b := c.in.logBuf[:0]
	b = append(b, msg...)
	for i := 0; i < len(args); i += 2 {
		b = append(b, ' ')
		if i+1 == len(args) {
			b = appendValue(append(b, "!BADKEY="...), args[i])
			break
		}
		b = appendValue(b, args[i])
		b = append(b, '=')
		b = appendValue(b, args[i+1])
	}
	c.in.logBuf = b
	c.in.now().log(c.id, level, b)
}

// appendValue formats common types without fmt's reflection.
func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		if needsQuote(v) {
			return strconv.AppendQuote(b, v)
		}
		return append(b, v...)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case bool:
		return strconv.AppendBool(b, v)
	case error:
		return strconv.AppendQuote(b, v.Error())
	case PID:
		return append(b, v.String()...)
	}
	return fmt.Appendf(b, "%+v", v)
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '=' || c == '"' || c >= 0x7f {
			return true
		}
	}
	return false
}

// millis converts a duration to the ABI's u32 milliseconds: negative is 0,
// a positive sub-millisecond duration is 1 (0 would mean "default"), and
// anything too long saturates.
func millis(d time.Duration) uint32 {
	switch {
	case d <= 0:
		return 0
	case d < time.Millisecond:
		return 1
	case d/time.Millisecond > math.MaxInt32:
		return math.MaxInt32
	}
	return uint32(d / time.Millisecond)
}

// encMode writes into the instance's reused buffer, so Send and Reply do not
// allocate a fresh slice per message.
var encMode, _ = cbor.EncOptions{}.UserBufferEncMode()

// encode marshals v into the instance's reused encode buffer. The result is
// valid until the next encode; the imports copy it before returning.
func (in *instance) encode(v any) ([]byte, error) {
	in.encBuf.Reset()
	if err := encMode.MarshalToBuffer(v, &in.encBuf); err != nil {
		return nil, err
	}
	return in.encBuf.Bytes(), nil
}
