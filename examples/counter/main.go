// Command counter is a guest module with one factory, Counter: an actor
// holding a number, changed by tells and read by asks, with snapshots so it
// survives migration and hot upgrade.
//
// # Messages
//
// Maps with string keys, so they can be typed as JSON on a command line:
//
//	spawn args       {"start": 10}                  (optional)
//	tell or ask      {"op": "inc", "by": 5}         (by defaults to 1)
//	tell or ask      {"op": "dec", "by": 2}
//	tell or ask      {"op": "reset"}
//	ask              {"op": "get"}                  → {"value": 13}
//
// Every ask is answered with the value after the operation; an unknown op is
// answered with {"error": "..."}.
//
// # Build and run
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o counter.wasm ./examples/counter
//	wasmactor deploy counter.wasm
//	wasmactor spawn Counter --name c1 --args '{"start":10}'
//	wasmactor send c1 '{"op":"inc","by":5}'
//	wasmactor call c1 '{"op":"get"}'
package main

import (
	"github.com/fxamacker/cbor/v2"

	"github.com/wasmactor/wasmactor/guest-sdk/actor"
)

// Counter is the actor. Its whole state is one number.
type Counter struct {
	value int64
}

type initArgs struct {
	Start int64 `cbor:"start"`
}

type request struct {
	Op string `cbor:"op"`
	By *int64 `cbor:"by"` // a pointer tells "absent" from 0
}

type answer struct {
	Value int64 `cbor:"value"`
}

type failure struct {
	Error string `cbor:"error"`
}

// Init reads the optional start value.
func (c *Counter) Init(_ *actor.Context, args actor.Message) error {
	if args.Len() == 0 {
		return nil
	}
	a, err := actor.Decode[initArgs](args)
	if err != nil {
		return err // the actor does not start; the reason says why
	}
	c.value = a.Start
	return nil
}

// Receive applies one operation.
func (c *Counter) Receive(ctx *actor.Context, msg actor.Message) {
	req, err := actor.Decode[request](msg)
	if err != nil {
		c.refuse(ctx, msg, "not a counter request: "+err.Error())
		return
	}
	by := int64(1)
	if req.By != nil {
		by = *req.By
	}
	switch req.Op {
	case "inc":
		c.value += by
	case "dec":
		c.value -= by
	case "reset":
		c.value = 0
	case "get":
	default:
		c.refuse(ctx, msg, "unknown op "+req.Op)
		return
	}
	if msg.IsAsk() {
		_ = ctx.Reply(answer{Value: c.value})
	}
}

// refuse answers a bad ask with an error and logs a bad tell, so neither
// goes unnoticed.
func (c *Counter) refuse(ctx *actor.Context, msg actor.Message, why string) {
	if msg.IsAsk() {
		_ = ctx.Reply(failure{Error: why})
		return
	}
	ctx.Log(actor.LevelWarn, "ignored message", "why", why, "from", msg.From())
}

// Snapshot captures the value, in the same form the init args take.
func (c *Counter) Snapshot() ([]byte, error) { return cbor.Marshal(initArgs{Start: c.value}) }

// Restore rebuilds the counter from a snapshot.
func (c *Counter) Restore(state []byte) error {
	var a initArgs
	if err := cbor.Unmarshal(state, &a); err != nil {
		return err
	}
	c.value = a.Start
	return nil
}

func init() {
	actor.Register("Counter", func() actor.Actor { return &Counter{} })
}

// main never runs: the host loads the module as a WASI reactor.
func main() {}
