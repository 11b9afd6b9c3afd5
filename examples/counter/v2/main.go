// Command v2 is the second version of examples/counter: the same Counter
// factory, with a step size that survives restarts and replies that say
// which version answered. It shows how a new version takes over running
// counters with a hot upgrade (wasmactor upgrade): it reads the snapshots of
// version 1 and writes its own, in a new format, with a version number.
//
// # Messages
//
// Those of version 1, plus:
//
//	tell or ask      {"op": "step", "by": 10}       (inc without "by" adds the step)
//	ask              {"op": "get"}                  → {"value": 13, "step": 1, "version": 2}
//
// # Build and upgrade
//
//	wasmactor build examples/counter/v2 -o counter-v2.wasm
//	wasmactor deploy counter-v2.wasm
//	wasmactor upgrade --factory Counter
package main

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/wasmactor/wasmactor/guest-sdk/actor"
)

// Counter is the actor: a value and the step an inc without "by" adds.
type Counter struct {
	value, step int64
}

type request struct {
	Op string `cbor:"op"`
	By *int64 `cbor:"by"`
}

type answer struct {
	Value   int64 `cbor:"value"`
	Step    int64 `cbor:"step"`
	Version int   `cbor:"version"`
}

// state is the snapshot format of version 2 (version 1 wrote
// {"start": value}).
type state struct {
	Value int64 `cbor:"1,keyasint"`
	Step  int64 `cbor:"2,keyasint"`
}

// Init reads the optional start value, as version 1 does.
func (c *Counter) Init(_ *actor.Context, args actor.Message) error {
	c.step = 1
	if args.Len() == 0 {
		return nil
	}
	a, err := actor.Decode[struct {
		Start int64 `cbor:"start"`
	}](args)
	c.value = a.Start
	return err
}

// Receive applies one operation.
func (c *Counter) Receive(ctx *actor.Context, msg actor.Message) {
	req, err := actor.Decode[request](msg)
	if err != nil {
		return
	}
	by := c.step
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
	case "step":
		c.step = by
	case "get":
	default:
		if msg.IsAsk() {
			_ = ctx.Reply(map[string]string{"error": "unknown op " + req.Op})
		}
		return
	}
	if msg.IsAsk() {
		_ = ctx.Reply(answer{Value: c.value, Step: c.step, Version: 2})
	}
}

// SnapshotVersion is stored with every snapshot of version 2.
func (c *Counter) SnapshotVersion() uint32 { return 2 }

// Snapshot writes the version 2 format.
func (c *Counter) Snapshot() ([]byte, error) {
	return cbor.Marshal(state{Value: c.value, Step: c.step})
}

// Restore is never called: RestoreVersion takes its place.
func (c *Counter) Restore(b []byte) error { return c.RestoreVersion(0, b) }

// RestoreVersion reads the snapshots of both versions: version 1's (no
// version stored, so 0) and its own.
func (c *Counter) RestoreVersion(v uint32, b []byte) error {
	switch v {
	case 0:
		var old struct {
			Start int64 `cbor:"start"`
		}
		if err := cbor.Unmarshal(b, &old); err != nil {
			return err
		}
		c.value, c.step = old.Start, 1
		return nil
	case 2:
		var s state
		if err := cbor.Unmarshal(b, &s); err != nil {
			return err
		}
		c.value, c.step = s.Value, s.Step
		return nil
	}
	return fmt.Errorf("counter v2 cannot read a snapshot of version %d", v)
}

func init() {
	actor.Register("Counter", func() actor.Actor { return &Counter{step: 1} })
}

// main never runs: the host loads the module as a WASI reactor.
func main() {}
