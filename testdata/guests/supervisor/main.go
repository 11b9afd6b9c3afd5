// Command supervisor is the guest the host's tests use to run supervision
// trees of the SDK's actor.Supervisor on a real node.
//
// # Factory Sup
//
// A supervisor whose spec comes from its spawn arguments:
//
//	{"strategy": "one_for_one" | "one_for_all" | "rest_for_one",
//	 "max_restarts": n, "period_ms": n,
//	 "children": [{"name", "factory", "restart": "permanent" | "transient" | "temporary",
//	               "isolated": bool, "node": name, "args": any}]}
//
// A child's args are passed on as they are, so a child "Sup" takes a tree
// of its own. It answers the SDK's {"op": "which_children"}.
//
// # Factory Worker
//
// Spawn arguments: {"name": text, "report": PID}. Its Init tells report
// {"op": "note", "text": "started NAME"}, so a test sees every (re)start.
// Asks: {"op": "crash"} panics (its instance fails); anything else is
// answered {"text": NAME}.
//
// # Build
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o supervisor.wasm ./testdata/guests/supervisor
//
// Tests use guestbuildtest.Build(t, "testdata/guests/supervisor").
package main

import (
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/wasmactor/wasmactor/guest-sdk/actor"
)

type tree struct {
	Strategy    string      `cbor:"strategy"`
	MaxRestarts int         `cbor:"max_restarts"`
	PeriodMS    int64       `cbor:"period_ms"`
	Children    []childSpec `cbor:"children"`
}

type childSpec struct {
	Name     string          `cbor:"name"`
	Factory  string          `cbor:"factory"`
	Restart  string          `cbor:"restart"`
	Isolated bool            `cbor:"isolated"`
	Node     string          `cbor:"node"`
	Args     cbor.RawMessage `cbor:"args"`
}

var (
	strategies = map[string]actor.Strategy{"one_for_one": actor.OneForOne, "one_for_all": actor.OneForAll, "rest_for_one": actor.RestForOne}
	restarts   = map[string]actor.RestartPolicy{"permanent": actor.Permanent, "transient": actor.Transient, "temporary": actor.Temporary}
)

// spec turns a tree into the SDK's SupervisorSpec.
func spec(_ *actor.Context, args actor.Message) (actor.SupervisorSpec, error) {
	t, err := actor.Decode[tree](args)
	if err != nil {
		return actor.SupervisorSpec{}, err
	}
	s := actor.SupervisorSpec{MaxRestarts: t.MaxRestarts, Period: time.Duration(t.PeriodMS) * time.Millisecond}
	var ok bool
	if s.Strategy, ok = strategies[t.Strategy]; !ok && t.Strategy != "" {
		return s, fmt.Errorf("unknown strategy %q", t.Strategy)
	}
	for _, c := range t.Children {
		cs := actor.ChildSpec{Name: c.Name, Factory: c.Factory}
		if cs.Restart, ok = restarts[c.Restart]; !ok && c.Restart != "" {
			return s, fmt.Errorf("unknown restart type %q", c.Restart)
		}
		if len(c.Args) > 0 {
			cs.Args = c.Args
		}
		if c.Isolated {
			cs.Options = append(cs.Options, actor.SpawnIsolated)
		}
		if c.Node != "" {
			cs.Options = append(cs.Options, actor.On(c.Node))
		}
		s.Children = append(s.Children, cs)
	}
	return s, nil
}

type workerArgs struct {
	Name   string    `cbor:"name"`
	Report actor.PID `cbor:"report"`
}

type note struct {
	Op   string `cbor:"op"`
	Text string `cbor:"text"`
}

type worker struct{ name string }

func (w *worker) Init(ctx *actor.Context, args actor.Message) error {
	a, err := actor.Decode[workerArgs](args)
	if err != nil {
		return err
	}
	w.name = a.Name
	if !a.Report.IsZero() {
		return ctx.Send(a.Report, note{Op: "note", Text: "started " + a.Name})
	}
	return nil
}

func (w *worker) Receive(ctx *actor.Context, msg actor.Message) {
	n, _ := actor.Decode[note](msg)
	if n.Op == "crash" {
		panic("worker " + w.name + " crashed")
	}
	if msg.IsAsk() {
		_ = ctx.Reply(note{Text: w.name})
	}
}

func init() {
	actor.Register("Sup", actor.Supervisor(spec))
	actor.Register("Worker", func() actor.Actor { return &worker{} })
}

func main() {}
