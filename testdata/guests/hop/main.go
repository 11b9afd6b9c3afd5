// Command hop is the guest of the host's tracing tests: a chain of asks
// across actors and nodes, each hop logging, so that a test can follow one
// trace through guests.
//
// # Factory Hop
//
// Asked {"hops": [PID...], "text": T} (PIDs as [incarnation, serial]), a
// Hop logs "hop T" at info level. If hops is empty it answers "end";
// otherwise it asks hops[0] with {"hops": hops[1:], "text": T} and, when the
// answer comes, logs "hop T answered" and answers its own asker with that
// answer (or "error: ..." if the ask failed).
//
// # Build
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hop.wasm ./testdata/guests/hop
//
// Tests use guestbuildtest.Build(t, "testdata/guests/hop").
package main

import "github.com/wasmactor/wasmactor/guest-sdk/actor"

type chain struct {
	Hops []actor.PID `cbor:"hops"`
	Text string      `cbor:"text"`
}

type hop struct{}

func (*hop) Init(*actor.Context, actor.Message) error { return nil }

func (*hop) Receive(ctx *actor.Context, msg actor.Message) {
	c, err := actor.Decode[chain](msg)
	if err != nil || !msg.IsAsk() {
		return
	}
	ctx.Log(actor.LevelInfo, "hop "+c.Text)
	if len(c.Hops) == 0 {
		_ = ctx.Reply("end")
		return
	}
	req, _ := ctx.Request()
	next := chain{Hops: c.Hops[1:], Text: c.Text}
	err = ctx.Ask(c.Hops[0], next, 0, func(ctx *actor.Context, reply actor.Message, err error) {
		if err != nil {
			_ = ctx.ReplyTo(req, "error: "+err.Error())
			return
		}
		ctx.Log(actor.LevelInfo, "hop "+c.Text+" answered")
		_ = ctx.ReplyRawTo(req, reply.Bytes())
	})
	if err != nil {
		_ = ctx.Reply("error: " + err.Error())
	}
}

func init() {
	actor.Register("Hop", func() actor.Actor { return &hop{} })
}

func main() {}
