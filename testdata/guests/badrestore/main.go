// Command badrestore is a version of Counter whose Restore refuses every
// snapshot (and, for a snapshot of {"start": 13}, panics), and a Plain
// without snapshots: the host's tests upgrade to it to see the actor carry
// on in its old version, untouched.
package main

import (
	"errors"

	"github.com/fxamacker/cbor/v2"

	"github.com/wasmactor/wasmactor/guest-sdk/actor"
)

type counter struct{}

func (counter) Receive(ctx *actor.Context, msg actor.Message) {
	if msg.IsAsk() {
		_ = ctx.Reply(map[string]int64{"version": 3})
	}
}

func (counter) Snapshot() ([]byte, error) { return nil, errors.New("badrestore keeps no state") }

func (counter) Restore(state []byte) error {
	var old struct {
		Start int64 `cbor:"start"`
	}
	if cbor.Unmarshal(state, &old) == nil && old.Start == 13 {
		panic("unlucky snapshot")
	}
	return errors.New("badrestore refuses every snapshot")
}

type plain struct{}

func (plain) Receive(*actor.Context, actor.Message) {}

func init() {
	actor.Register("Counter", func() actor.Actor { return counter{} })
	actor.Register("Plain", func() actor.Actor { return plain{} })
}

func main() {}
