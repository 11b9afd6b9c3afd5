// Command counterv2 is a second version of the Counter factory, used by the
// host's tests to run two versions of one factory side by side and to
// upgrade running counters between them. Its replies carry "version": 2.
//
// It reads the snapshots of examples/counter (version 0: the CBOR map
// {"start": n}) and writes its own with version 2 (the count as a CBOR
// array [n, upgrades]), counting how often it was restored.
//
// The op "move" with "to": a node name asks to move the counter there
// (Context.MigrateTo), "by" times in one turn if "by" is over 1; an ask is
// answered with the first request's error, if any, and how many of the
// others were refused.
//
// Plain is a factory without snapshots: it cannot be upgraded or migrated.
package main

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/wasmactor/wasmactor/guest-sdk/actor"
)

type counter struct {
	n        int64
	restores int64
}

type op struct {
	Op    string `cbor:"op"`
	By    int64  `cbor:"by"`
	Start int64  `cbor:"start"`
	To    string `cbor:"to"`
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
		by := o.By
		if by == 0 {
			by = 1
		}
		c.n += by
	case "get":
		_ = ctx.Reply(map[string]int64{"value": c.n, "version": 2, "restores": c.restores})
	case "move":
		err := ctx.MigrateTo(o.To)
		// "by": N asks N times in this turn; "refused" counts the
		// requests after the first that the node refused.
		refused := 0
		for i := int64(1); i < o.By; i++ {
			if ctx.MigrateTo(o.To) != nil {
				refused++
			}
		}
		if msg.IsAsk() {
			text := ""
			if err != nil {
				text = err.Error()
			}
			_ = ctx.Reply(map[string]string{"error": text, "refused": fmt.Sprint(refused)})
		}
	}
}

func (c *counter) SnapshotVersion() uint32 { return 2 }

func (c *counter) Snapshot() ([]byte, error) { return cbor.Marshal([2]int64{c.n, c.restores}) }

func (c *counter) Restore(state []byte) error { return c.RestoreVersion(0, state) }

func (c *counter) RestoreVersion(v uint32, state []byte) error {
	switch v {
	case 0: // examples/counter: {"start": n}
		var old struct {
			Start int64 `cbor:"start"`
		}
		if err := cbor.Unmarshal(state, &old); err != nil {
			return err
		}
		c.n = old.Start
	case 2:
		var s [2]int64
		if err := cbor.Unmarshal(state, &s); err != nil {
			return err
		}
		c.n, c.restores = s[0], s[1]
	default:
		return fmt.Errorf("counterv2 cannot read snapshot version %d", v)
	}
	c.restores++
	return nil
}

// plain counts tells and has no snapshots.
type plain struct{ n int64 }

func (p *plain) Receive(ctx *actor.Context, msg actor.Message) {
	if msg.IsAsk() {
		_ = ctx.Reply(map[string]int64{"value": p.n})
		return
	}
	p.n++
}

func init() {
	actor.Register("Counter", func() actor.Actor { return &counter{} })
	actor.Register("Plain", func() actor.Actor { return &plain{} })
}

func main() {}
