package actor

import (
	"sort"
	"strings"
	"time"

	"github.com/wasmactor/wasmactor/guest-sdk/typed"
)

// Typed messaging: message types declared in Go and given codecs by
// `wasmactor gen` (package typed), a Router that dispatches on their type
// tags, and typed sends, asks and replies. The untyped API (Receive with a
// Message, Context.Send and Ask with any value) stays as it is; the two
// mix, since generated types also marshal through fxamacker/cbor.

// Route is one handler of a [Router], made by [Handle] or [HandleTell].
type Route[A any] struct {
	tag  uint64
	name string
	run  func(a A, ctx *Context, msg Message, body []byte)
}

// Handle makes the route of an ask: h answers a Req with its declared
// reply type (//wasmactor:message reply=Resp), or fails with an error,
// which the asker receives as a [typed.Error]. Usually h is a method
// expression:
//
//	actor.Handle((*Account).Deposit) // func (a *Account) Deposit(ctx *actor.Context, d bank.Deposit) (bank.Balance, error)
//
// A Req sent as a tell runs h too; its answer is dropped. To answer later,
// h calls [Defer] and its return values are ignored.
func Handle[A any, Req typed.Request[Resp], Resp typed.Message, PReq typed.Ptr[Req]](h func(a A, ctx *Context, req Req) (Resp, error)) Route[A] {
	var zero Req
	// Messages decode into one value per route, copied out before h runs:
	// an instance runs one message at a time, and a fresh value would
	// escape to the heap through the generic call.
	scratch := new(Req)
	name := zero.MessageName()
	return Route[A]{tag: zero.MessageType(), name: name, run: func(a A, ctx *Context, msg Message, body []byte) {
		if err := typed.Unmarshal(body, PReq(scratch)); err != nil {
			refuse(ctx, msg, typed.CodeMalformed, err.Error())
			return
		}
		resp, err := h(a, ctx, *scratch)
		if !ctx.hasReq() { // a tell, or deferred, or answered by hand
			if err != nil {
				ctx.Log(LevelWarn, "handler failed", "type", name, "err", err)
			}
			return
		}
		if err != nil {
			_ = replyError(ctx, ctx.in.req, err)
			return
		}
		_ = Reply(ctx, resp)
	}}
}

// HandleTell makes the route of a one-way message: h returns nothing. An
// ask of M is answered with a [typed.Error] matching [typed.ErrNotAsk].
func HandleTell[A any, M typed.Message, PM typed.Ptr[M]](h func(a A, ctx *Context, msg M)) Route[A] {
	var zero M
	scratch := new(M)
	name := zero.MessageName()
	return Route[A]{tag: zero.MessageType(), name: name, run: func(a A, ctx *Context, msg Message, body []byte) {
		if err := typed.Unmarshal(body, PM(scratch)); err != nil {
			refuse(ctx, msg, typed.CodeMalformed, err.Error())
			return
		}
		if msg.IsAsk() {
			refuse(ctx, msg, typed.CodeNotAsk, typed.ErrNotAsk.Error()+": "+name+" is a one-way message")
			return
		}
		h(a, ctx, *scratch)
	}}
}

// Router dispatches typed messages to the handlers of an actor type A by
// their type tag: no string switch, and a message of a type it has no
// handler for is answered (if it is an ask) with a [typed.Error] matching
// [typed.ErrUnknownType] that lists the types it handles, or logged (if it
// is a tell). Build one per actor type, as a package variable, and call it
// from Receive:
//
//	var accountRoutes = actor.NewRouter(
//		actor.Handle((*Account).Deposit),
//		actor.Handle((*Account).Balance),
//		actor.HandleTell((*Account).Close),
//	)
//
//	func (a *Account) Receive(ctx *actor.Context, msg actor.Message) { accountRoutes.Receive(a, ctx, msg) }
//
// # Notes
//
//   - A Router belongs to one guest instance, which runs one message at a
//     time (it decodes into a value per route); it is not for concurrent
//     use, which a guest never has.
//   - Dispatch and decoding allocate nothing beyond the message's strings,
//     slices and maps; a reply is encoded into a reused buffer.
type Router[A any] struct {
	routes  []Route[A] // sorted by tag
	handles string     // the type names, for error texts
	untyped func(a A, ctx *Context, msg Message)
}

// NewRouter makes a router of routes. It panics if two routes have the
// same type tag (two routes of one type, or two names whose tags collide:
// rename one with //wasmactor:message name=...). Called from package
// initialisation, the panic makes deploy refuse the module.
func NewRouter[A any](routes ...Route[A]) *Router[A] {
	r := &Router[A]{routes: append([]Route[A](nil), routes...)}
	sort.Slice(r.routes, func(i, j int) bool { return r.routes[i].tag < r.routes[j].tag })
	names := make([]string, len(r.routes))
	for i, rt := range r.routes {
		if rt.run == nil {
			panic("wasmactor: NewRouter: a zero Route; make routes with Handle or HandleTell")
		}
		if i > 0 && r.routes[i-1].tag == rt.tag {
			panic("wasmactor: NewRouter: " + r.routes[i-1].name + " and " + rt.name + " have the same type tag " + typed.Hex(rt.tag))
		}
		names[i] = rt.name
	}
	sort.Strings(names)
	r.handles = strings.Join(names, ", ")
	return r
}

// Untyped sets the handler of messages without a type tag (the untyped
// API's), so an actor can take both. Without one, such a message is
// refused like a message of an unknown type.
func (r *Router[A]) Untyped(f func(a A, ctx *Context, msg Message)) *Router[A] {
	r.untyped = f
	return r
}

// Receive dispatches msg to a's handler for its type.
func (r *Router[A]) Receive(a A, ctx *Context, msg Message) {
	tag, body, ok := typed.Split(msg.data)
	if !ok {
		if r.untyped != nil {
			r.untyped(a, ctx, msg)
			return
		}
		refuse(ctx, msg, typed.CodeUnknownType, typed.ErrUnknownType.Error()+": an untyped message; "+ctx.Factory()+" handles "+r.handles)
		return
	}
	if rt := r.find(tag); rt != nil {
		rt.run(a, ctx, msg, body)
		return
	}
	refuse(ctx, msg, typed.CodeUnknownType, typed.ErrUnknownType.Error()+" "+typed.Hex(tag)+": "+ctx.Factory()+" handles "+r.handles)
}

func (r *Router[A]) find(tag uint64) *Route[A] {
	rs := r.routes
	if len(rs) <= 8 {
		for i := range rs {
			if rs[i].tag == tag {
				return &rs[i]
			}
		}
		return nil
	}
	lo, hi := 0, len(rs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if rs[m].tag < tag {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(rs) && rs[lo].tag == tag {
		return &rs[lo]
	}
	return nil
}

// Handles lists the names of the types r routes, sorted.
func (r *Router[A]) Handles() []string {
	if r.handles == "" {
		return nil
	}
	return strings.Split(r.handles, ", ")
}

// refuse answers an ask with a typed.Error, and logs a tell: a message
// the actor cannot take never goes unnoticed.
func refuse(ctx *Context, msg Message, code typed.ErrorCode, text string) {
	if msg.IsAsk() && ctx.hasReq() {
		_ = sendError(ctx, ctx.in.req, &typed.Error{Code: code, Message: text})
		return
	}
	ctx.Log(LevelWarn, "ignored message", "why", text, "from", msg.From())
}

// replyError answers r with err as a typed.Error (its code kept if err is
// one).
func replyError(ctx *Context, r Request, err error) error {
	te, ok := err.(*typed.Error)
	if !ok {
		te = &typed.Error{Message: err.Error()}
	}
	return sendError(ctx, r, te)
}

func sendError(ctx *Context, r Request, e *typed.Error) error {
	ctx.in.typBuf = typed.Append(ctx.in.typBuf[:0], *e)
	return ctx.ReplyRawTo(r, ctx.in.typBuf)
}

// Reply answers the ask being handled with a typed message, encoded by
// its generated codec into a reused buffer. It returns [ErrNotAsk] outside
// an ask or once the ask was answered.
func Reply[M typed.Message](ctx *Context, m M) error {
	if !ctx.hasReq() {
		return ErrNotAsk
	}
	ctx.in.typBuf = typed.Append(ctx.in.typBuf[:0], m)
	return ctx.replyRaw(ctx.in.typBuf)
}

// Send sends a typed message one way; see [Context.Send] for the errors.
func Send[M typed.Message](ctx *Context, to PID, m M) error {
	ctx.in.typBuf = typed.Append(ctx.in.typBuf[:0], m)
	return ctx.SendRaw(to, ctx.in.typBuf)
}

// Ask sends a typed request and returns at once; then runs later with its
// answer, whose type the request declares (//wasmactor:message
// reply=Resp), or with the failure: [ErrTimeout], [ErrNoProc]..., a
// [typed.Error] the other actor answered with, or a
// [typed.ErrUnexpectedReply]. A timeout of 0 means the host's default.
//
//	err := actor.Ask(ctx, bank, bankproto.Deposit{Amount: 5}, time.Second,
//		func(ctx *actor.Context, b bankproto.Balance, err error) { ... })
//
// If Ask returns an error the request was not sent and then never runs.
func Ask[Req typed.Request[Resp], Resp typed.Message, PResp typed.Ptr[Resp]](ctx *Context, to PID, req Req, timeout time.Duration, then func(ctx *Context, resp Resp, err error)) error {
	if then == nil {
		return ctx.AskRaw(to, nil, timeout, nil) // ErrBadArgument, as Context.Ask
	}
	ctx.in.typBuf = typed.Append(ctx.in.typBuf[:0], req)
	return ctx.AskRaw(to, ctx.in.typBuf, timeout, func(ctx *Context, reply Message, err error) {
		var resp Resp
		if err == nil {
			resp, err = typed.Decode[Resp, PResp](reply.data)
		}
		then(ctx, resp, err)
	})
}

// Pending is an ask to answer later with a Resp: a typed reply port. Get
// one from [Defer] while handling the ask; keep it in the actor.
type Pending[Resp typed.Message] struct {
	req Request
	ok  bool
}

// Defer takes over the ask being handled: the Router will not answer it
// when the handler returns (the handler's return values are ignored), and
// the returned Pending answers it later, from any turn of this actor. In a
// tell, the Pending is not valid and answers nothing.
func Defer[Resp typed.Message](ctx *Context) Pending[Resp] {
	p := Pending[Resp]{req: ctx.in.req, ok: ctx.hasReq()}
	ctx.dropReq()
	return p
}

// Valid reports whether p stands for an ask (false in a tell, or for the
// zero Pending).
func (p Pending[Resp]) Valid() bool { return p.ok }

// Reply answers the ask with resp. Answering twice is the caller's
// mistake; the host keeps the first answer. An invalid Pending returns
// [ErrNotAsk].
func (p Pending[Resp]) Reply(ctx *Context, resp Resp) error {
	if !p.ok {
		return ErrNotAsk
	}
	ctx.in.typBuf = typed.Append(ctx.in.typBuf[:0], resp)
	return ctx.ReplyRawTo(p.req, ctx.in.typBuf)
}

// Fail answers the ask with err, which the asker receives as a
// [typed.Error].
func (p Pending[Resp]) Fail(ctx *Context, err error) error {
	if !p.ok {
		return ErrNotAsk
	}
	return replyError(ctx, p.req, err)
}
