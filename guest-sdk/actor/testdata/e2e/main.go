// Command e2e is the guest the SDK's own end-to-end tests run under a
// minimal wazero host: a factory exercising every path of the ABI the tests
// check.
package main

import (
	"errors"
	"time"

	"github.com/wasmactor/wasmactor/guest-sdk/actor"
)

type req struct {
	Op     string    `cbor:"op"`
	Target actor.PID `cbor:"target"`
	N      int64     `cbor:"n"`
}

// probe answers asks, asks others, snapshots its counter and crashes on
// demand.
type probe struct {
	n       int64
	answers int64
}

func (p *probe) Init(ctx *actor.Context, args actor.Message) error {
	if args.Len() == 0 {
		return nil
	}
	var r req
	if err := args.Decode(&r); err != nil {
		return err
	}
	if r.Op == "fail" {
		return errors.New("init refused")
	}
	p.n = r.N
	return nil
}

func (p *probe) Receive(ctx *actor.Context, msg actor.Message) {
	var r req
	if err := msg.Decode(&r); err != nil {
		_ = ctx.ReplyRaw(msg.Bytes()) // not CBOR we know: echo it
		return
	}
	switch r.Op {
	case "inc":
		p.n += r.N
	case "get":
		_ = ctx.Reply(map[string]any{"n": p.n, "answers": p.answers, "self": ctx.Self(), "refused": ctx.Refused()})
	case "post":
		// N posted incs to the target, then one to the target sent at once:
		// it must arrive after them.
		for range r.N {
			_ = ctx.Post(r.Target, req{Op: "inc", N: 1})
		}
		_ = ctx.Send(r.Target, req{Op: "inc", N: 1000})
	case "ask":
		// Ask the target and, when it answers, count it.
		_ = ctx.Ask(r.Target, map[string]string{"op": "get"}, time.Second, func(ctx *actor.Context, reply actor.Message, err error) {
			if err == nil {
				p.answers++
			}
			ctx.Log(actor.LevelInfo, "answered", "err", err)
		})
	case "spawn":
		pid, err := ctx.Spawn("Probe", map[string]any{"n": r.N})
		if err != nil {
			_ = ctx.Reply(map[string]string{"err": err.Error()})
			return
		}
		_ = ctx.Reply(map[string]any{"pid": pid})
	case "stop":
		ctx.Stop("asked to")
	case "crash":
		panic("crash requested")
	}
}

func (p *probe) Snapshot() ([]byte, error) { return actor.AppendUint(nil, uint64(p.n)), nil }

func (p *probe) Restore(state []byte) error {
	n, _, err := actor.ReadUint(state)
	p.n = int64(n)
	return err
}

func init() {
	actor.Register("Probe", func() actor.Actor { return &probe{} })
	actor.Register("Other", func() actor.Actor { return &probe{} })
}

func main() {}
