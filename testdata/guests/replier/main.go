// Command replier is a test guest for the rule that a reply counts only
// from the actor that was asked. Its "Replier" actors keep an ask open
// ("hold"), hand it out ("leak"), answer a leaked ask of another actor
// ("forge"), and finally answer their own ("answer").
package main

import (
	"github.com/fxamacker/cbor/v2"

	"github.com/wasmactor/wasmactor/guest-sdk/actor"
)

type replier struct {
	held actor.Request
}

type op struct {
	Op  string          `cbor:"op"`
	Req cbor.RawMessage `cbor:"req"`
}

func (r *replier) Init(*actor.Context, actor.Message) error { return nil }

func (r *replier) Receive(ctx *actor.Context, msg actor.Message) {
	o, err := actor.Decode[op](msg)
	if err != nil {
		return
	}
	switch o.Op {
	case "hold":
		r.held, _ = ctx.Request()
	case "leak":
		_ = ctx.Reply(r.held)
	case "forge":
		var req actor.Request
		if err := cbor.Unmarshal(o.Req, &req); err != nil {
			_ = ctx.Reply("bad request: " + err.Error())
			return
		}
		// The host must ignore this: req was addressed to another actor.
		_ = ctx.ReplyTo(req, "forged")
		_ = ctx.Reply("done")
	case "answer":
		_ = ctx.ReplyTo(r.held, "genuine")
	}
}

func init() {
	actor.Register("Replier", func() actor.Actor { return &replier{} })
}

func main() {}
