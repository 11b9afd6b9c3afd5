// Command crasher is a guest module with one factory, Worker: an actor that
// answers pings and panics on request, to show how wasmactor contains and
// restarts failing actors.
//
// # Messages
//
//	ask   {"op": "ping"}                    → {"reply": "pong", "pings": n}
//	tell  {"op": "crash"}                   panics: the instance fails with
//	                                        "panic: worker crashed on request"
//	tell  {"op": "exit", "reason": "oops"}  stops this actor alone, abnormally
//
// "pings" counts the pings since the actor (re)started, so a restart is
// visible: the count starts again at 1.
//
// # What it shows
//
// A panic fails the whole instance: every actor in it dies with the panic's
// reason, their monitors get a Down and linked actors an exit, and
// supervision restarts what its policy says. Spawn workers isolated (an
// instance of their own) so a crash takes only the worker down:
//
//	wasmactor spawn Worker --name w --isolated
//	wasmactor call w '{"op":"ping"}'
//	wasmactor send w '{"op":"crash"}'
//	wasmactor call w '{"op":"ping"}'   # after a restart: pings is 1 again
//
// An exit, by contrast, stops only this actor (with an abnormal reason that
// still triggers transient restarts and linked actors).
//
// # Build
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o crasher.wasm ./examples/crasher
package main

import "github.com/wasmactor/wasmactor/guest-sdk/actor"

// Worker is the actor.
type Worker struct {
	pings int64
}

type request struct {
	Op     string `cbor:"op"`
	Reason string `cbor:"reason"`
}

type pong struct {
	Reply string `cbor:"reply"`
	Pings int64  `cbor:"pings"`
}

// Receive handles ping, crash and exit.
func (w *Worker) Receive(ctx *actor.Context, msg actor.Message) {
	req, err := actor.Decode[request](msg)
	if err != nil {
		ctx.Log(actor.LevelWarn, "ignored message", "err", err)
		return
	}
	switch req.Op {
	case "ping":
		w.pings++
		_ = ctx.Reply(pong{Reply: "pong", Pings: w.pings})
	case "crash":
		panic("worker crashed on request")
	case "exit":
		reason := req.Reason
		if reason == "" {
			reason = "exit requested"
		}
		ctx.Stop(reason)
	default:
		ctx.Log(actor.LevelWarn, "unknown op", "op", req.Op)
	}
}

// Terminate logs why the worker stopped. It does not run after a panic:
// the instance is gone by then.
func (w *Worker) Terminate(ctx *actor.Context, reason string) {
	ctx.Log(actor.LevelInfo, "worker stopping", "reason", reason, "pings", w.pings)
}

func init() {
	actor.Register("Worker", func() actor.Actor { return &Worker{} })
}

// main never runs: the host loads the module as a WASI reactor.
func main() {}
