// Command counterv2 is a second version of the Counter factory, used by the
// host's tests to run two versions of one factory side by side. Its replies
// carry "version": 2.
package main

import "github.com/wasmactor/wasmactor/guest-sdk/actor"

type counter struct{ n int64 }

type op struct {
	Op    string `cbor:"op"`
	By    int64  `cbor:"by"`
	Start int64  `cbor:"start"`
}

func (c *counter) Init(ctx *actor.Context, args actor.Message) error {
	if len(args.Bytes()) == 0 {
		return nil
	}
	o, err := actor.Decode[op](args)
	c.n = o.Start
	return err
}

func (c *counter) Receive(ctx *actor.Context, msg actor.Message) {
	o, err := actor.Decode[op](msg)
	if err != nil {
		return
	}
	switch o.Op {
	case "inc":
		c.n += o.By
	case "get":
		_ = ctx.Reply(map[string]int64{"value": c.n, "version": 2})
	}
}

func init() {
	actor.Register("Counter", func() actor.Actor { return &counter{} })
}

func main() {}
