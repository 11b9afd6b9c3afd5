// Command typedbench is the guest of the SDK's decode benchmarks: two
// actors take the same ~100-byte Order, one through a typed Router and the
// generated codec, one through actor.Decode (fxamacker/cbor reflection).
//
// Tests use guestbuildtest.Build(b, "guest-sdk/actor/testdata/typedbench").
package main

import (
	"github.com/wasmactor/wasmactor/guest-sdk/actor"
	"github.com/wasmactor/wasmactor/guest-sdk/internal/testproto"
)

// Typed counts Orders routed by type.
type Typed struct{ qty int64 }

var routes = actor.NewRouter(actor.HandleTell((*Typed).Order))

func (t *Typed) Receive(ctx *actor.Context, msg actor.Message) { routes.Receive(t, ctx, msg) }

func (t *Typed) Order(_ *actor.Context, o testproto.Order) { t.qty += int64(o.Quantity) }

// plainOrder is Order without its generated methods, so actor.Decode
// takes fxamacker/cbor's reflective path.
type plainOrder testproto.Order

// Reflect counts Orders decoded by reflection.
type Reflect struct{ qty int64 }

func (r *Reflect) Receive(ctx *actor.Context, msg actor.Message) {
	o, err := actor.Decode[plainOrder](msg)
	if err != nil {
		ctx.Log(actor.LevelWarn, "bad order", "err", err)
		return
	}
	r.qty += int64(o.Quantity)
}

func init() {
	actor.Register("Typed", func() actor.Actor { return &Typed{} })
	actor.Register("Reflect", func() actor.Actor { return &Reflect{} })
}

func main() {}
