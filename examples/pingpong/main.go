// Command pingpong is a guest module with two factories, Ping and Pong,
// that talk asynchronously: Ping asks Pong, and each answer runs a
// continuation that sends the next ask. Nothing blocks; each bounce is two
// turns of two actors.
//
// # Messages
//
// To Ping:
//
//	spawn args  {"pong": [node, serial]}   (optional: use this Pong; by default
//	                                        Ping spawns a linked Pong on first run)
//	tell        {"op": "run", "rounds": N} start N bounces
//	ask         {"op": "run", "rounds": N} start N bounces; answered with the
//	                                        stats once the last answer arrives
//	ask         {"op": "stats"}            → {"rounds": N, "sent": s, "replies": r,
//	                                           "errors": e, "done": true, "elapsed_us": t}
//
// To Pong:
//
//	ask  {"op": "ping", "n": i}  → {"op": "pong", "n": i}
//	ask  {"op": "stats"}         → {"pongs": n}
//
// # Build and run
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o pingpong.wasm ./examples/pingpong
//	wasmactor deploy pingpong.wasm
//	wasmactor spawn Ping --name ping
//	wasmactor call ping '{"op":"run","rounds":1000}'
package main

import (
	"time"

	"github.com/wasmactor/wasmactor/guest-sdk/actor"
)

// askTimeout bounds each bounce; a lost Pong shows up as errors, not a hang.
const askTimeout = 2 * time.Second

type request struct {
	Op     string    `cbor:"op"`
	Rounds int64     `cbor:"rounds"`
	N      int64     `cbor:"n"`
	Pong   actor.PID `cbor:"pong"`
}

type stats struct {
	Rounds    int64 `cbor:"rounds"`
	Sent      int64 `cbor:"sent"`
	Replies   int64 `cbor:"replies"`
	Errors    int64 `cbor:"errors"`
	Done      bool  `cbor:"done"`
	ElapsedUS int64 `cbor:"elapsed_us"`
}

type ping struct {
	Op string `cbor:"op"`
	N  int64  `cbor:"n"`
}

type failure struct {
	Error string `cbor:"error"`
}

// Ping drives the exchange.
type Ping struct {
	pong    actor.PID
	st      stats
	started time.Time
	// waiter is the ask that started the run, answered when it ends.
	waiter    actor.Request
	hasWaiter bool
}

// Init takes an optional Pong to talk to.
func (p *Ping) Init(_ *actor.Context, args actor.Message) error {
	if args.Len() == 0 {
		return nil
	}
	req, err := actor.Decode[request](args)
	if err != nil {
		return err
	}
	p.pong = req.Pong
	return nil
}

// Receive starts runs and reports stats.
func (p *Ping) Receive(ctx *actor.Context, msg actor.Message) {
	req, err := actor.Decode[request](msg)
	if err != nil {
		if msg.IsAsk() {
			_ = ctx.Reply(failure{Error: err.Error()})
		}
		return
	}
	switch req.Op {
	case "stats":
		_ = ctx.Reply(p.stats())
	case "run":
		if err := p.run(ctx, req.Rounds); err != nil {
			if msg.IsAsk() {
				_ = ctx.Reply(failure{Error: err.Error()})
			}
		}
	default:
		if msg.IsAsk() {
			_ = ctx.Reply(failure{Error: "unknown op " + req.Op})
		}
	}
}

func (p *Ping) run(ctx *actor.Context, rounds int64) error {
	if p.pong.IsZero() {
		pid, err := ctx.Spawn("Pong", nil, actor.SpawnLink)
		if err != nil {
			return err
		}
		p.pong = pid
	}
	if p.hasWaiter {
		p.hasWaiter = false
		_ = ctx.ReplyTo(p.waiter, failure{Error: "superseded by a new run"})
	}
	// An ask that starts a run is answered when the run ends, which may
	// be at once if the first ping cannot be sent.
	p.waiter, p.hasWaiter = ctx.Request()
	p.st = stats{Rounds: max(rounds, 1)}
	p.started = time.Now()
	p.bounce(ctx)
	return nil
}

// bounce sends the next ping; its continuation sends the one after.
func (p *Ping) bounce(ctx *actor.Context) {
	if p.st.Sent == p.st.Rounds {
		p.finish(ctx)
		return
	}
	p.st.Sent++
	err := ctx.Ask(p.pong, ping{Op: "ping", N: p.st.Sent}, askTimeout, p.answered)
	if err != nil {
		p.st.Errors++
		p.finish(ctx)
	}
}

func (p *Ping) answered(ctx *actor.Context, reply actor.Message, err error) {
	if err != nil {
		p.st.Errors++
		ctx.Log(actor.LevelWarn, "bounce failed", "n", p.st.Sent, "err", err)
		p.finish(ctx)
		return
	}
	p.st.Replies++
	p.bounce(ctx)
}

func (p *Ping) finish(ctx *actor.Context) {
	p.st.Done = true
	p.st.ElapsedUS = time.Since(p.started).Microseconds()
	if p.hasWaiter {
		p.hasWaiter = false
		_ = ctx.ReplyTo(p.waiter, p.stats())
	}
}

func (p *Ping) stats() stats { return p.st }

// Pong answers pings.
type Pong struct {
	pongs int64
}

// Receive answers one ping.
func (p *Pong) Receive(ctx *actor.Context, msg actor.Message) {
	req, err := actor.Decode[ping](msg)
	if err != nil {
		return
	}
	switch req.Op {
	case "ping":
		p.pongs++
		_ = ctx.Reply(ping{Op: "pong", N: req.N})
	case "stats":
		_ = ctx.Reply(map[string]int64{"pongs": p.pongs})
	}
}

func init() {
	actor.Register("Ping", func() actor.Actor { return &Ping{} })
	actor.Register("Pong", func() actor.Actor { return &Pong{} })
}

// main never runs: the host loads the module as a WASI reactor.
func main() {}
