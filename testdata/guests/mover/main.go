// Command mover is the guest of the host's migration tests for what an
// actor holds at its node besides its state: SendAfter timers, node
// monitors and group monitors. Its snapshot keeps what it saw and the
// handles it holds, so a test can check after a migration that its timers
// fire and cancel, and its monitors report, at its new home.
//
// # Factory Mover
//
// Asks (CBOR maps):
//
//	{"op": "after", "ms": N, "text": T}  arms a SendAfter of T to itself,
//	                                      keeps its handle under T; → handle
//	{"op": "cancel", "text": T}          cancels the timer kept under T;
//	                                      → true if it was armed
//	{"op": "node", "name": N}            monitors node N; → ref
//	{"op": "group", "name": G}           monitors group G; → ref
//	{"op": "events"}                     → what it saw, in order
//
// A tell of a text T adds "tell:T" to what it saw; a node going down adds
// "nodedown:NAME:REASON", a group change "group:G:joined" or
// "group:G:left".
//
// # Build
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o mover.wasm ./testdata/guests/mover
//
// Tests use guestbuildtest.Build(t, "testdata/guests/mover").
package main

import (
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/wasmactor/wasmactor/guest-sdk/actor"
)

type cmd struct {
	Op   string `cbor:"op"`
	Ms   int    `cbor:"ms"`
	Text string `cbor:"text"`
	Name string `cbor:"name"`
}

// mover's whole state is its snapshot.
type mover struct {
	Events []string          `cbor:"1,keyasint"`
	Timers map[string]uint64 `cbor:"2,keyasint"`
}

func (m *mover) Init(*actor.Context, actor.Message) error {
	m.Timers = map[string]uint64{}
	return nil
}

func (m *mover) Snapshot() ([]byte, error) { return cbor.Marshal(m) }

func (m *mover) Restore(b []byte) error {
	if err := cbor.Unmarshal(b, m); err != nil {
		return err
	}
	if m.Timers == nil {
		m.Timers = map[string]uint64{}
	}
	return nil
}

func (m *mover) Receive(ctx *actor.Context, msg actor.Message) {
	if !msg.IsAsk() {
		if text, err := actor.Decode[string](msg); err == nil {
			m.Events = append(m.Events, "tell:"+text)
		}
		return
	}
	c, err := actor.Decode[cmd](msg)
	if err != nil {
		_ = ctx.Reply("error: " + err.Error())
		return
	}
	switch c.Op {
	case "after":
		t, err := ctx.SendAfter(ctx.Self(), time.Duration(c.Ms)*time.Millisecond, c.Text)
		if err != nil {
			_ = ctx.Reply("error: " + err.Error())
			return
		}
		m.Timers[c.Text] = t.ID()
		_ = ctx.Reply(t.ID())
	case "cancel":
		id, ok := m.Timers[c.Text]
		delete(m.Timers, c.Text)
		_ = ctx.Reply(ok && ctx.Timer(id).Cancel())
	case "node":
		ref, err := ctx.MonitorNode(c.Name)
		if err != nil {
			_ = ctx.Reply("error: " + err.Error())
			return
		}
		_ = ctx.Reply(uint64(ref))
	case "group":
		ref, err := ctx.MonitorGroup(c.Name)
		if err != nil {
			_ = ctx.Reply("error: " + err.Error())
			return
		}
		_ = ctx.Reply(uint64(ref))
	case "events":
		_ = ctx.Reply(m.Events)
	default:
		_ = ctx.Reply("error: unknown op " + c.Op)
	}
}

func (m *mover) HandleNodeDown(_ *actor.Context, d actor.NodeDown) {
	m.Events = append(m.Events, "nodedown:"+d.Node+":"+d.Reason)
}

func (m *mover) HandleGroup(_ *actor.Context, e actor.GroupEvent) {
	what := "left"
	if e.Joined {
		what = "joined"
	}
	m.Events = append(m.Events, "group:"+e.Group+":"+what)
}

func init() {
	actor.Register("Mover", func() actor.Actor { return &mover{} })
}

func main() {}
