// Command probe is the guest the host's tests use to exercise every import
// of the guest ABI against a real node: it does what it is told and reports
// what happened.
//
// # Factory Probe
//
// Spawn arguments (optional): {"report": PID}, an actor that gets the note
// "terminated: REASON" when this probe stops itself.
//
// Commands are asks, CBOR maps with an "op"; PIDs are the arrays
// [incarnation, serial]. Each answers {"err": text, "pid": PID, "ref": n}
// ("err" empty on success, "pid" and "ref" where they apply):
//
//	self                         pid = this actor; ref = the self_node import
//	parent                       pid = the actor that spawned this one
//	spawn {factory, link, isolated}  spawn import (factory default "Probe")
//	monitor {pid}                ref = the monitor ref
//	demonitor {ref}
//	link {pid}, unlink {pid}
//	trap_exit {on}
//	register {name}, unregister {name}, whereis {name} (pid)
//	send {pid, text}             tells pid {"op": "note", "text": text}
//	send_after {pid, ms, text}   the same, ms later (send_timer import);
//	                             ref = the timer
//	cancel_timer {ref}           cancels a timer; err unless it was armed
//	ask {pid, text, ms, ask_op}  asks pid {"op": ask_op (default "echo"),
//	                             "text": text}; the answer becomes a
//	                             "reply" event
//	hold                         answers nothing: keeps the ask open
//	held                         ref = how many asks it keeps open
//	answer_held                  answers every ask it keeps open with
//	                             {"text": "late"}, then this one
//	quit {reason}                stops itself without answering
//	kill {pid, reason}
//	stop {reason}                answers, then stops itself
//	crash                        panics: the whole instance fails
//	log {text}                   logs text at info level
//	log_as {serial, text}        calls the log import itself, naming actor
//	                             serial of this node (a guest may pass any id)
//	stderr {text}                writes text and a newline to stderr
//	echo {text}                  answers {"text": text} (for ask)
//	events {n}                   answers once at least n events happened:
//	                             {"events": [...]} in order
//	batch {cmds}                 runs cmds in order in this one turn (no
//	                             events, echo or batch among them); a
//	                             demonitor with ref 0 cancels the batch's
//	                             last monitor. Answers the first error, else
//	                             the last answer
//	repeat {n, cmds}             runs cmds n times in this one turn, as
//	                             batch does, a name in them suffixed with
//	                             "-i" in round i; answers the first error
//	                             and, in ref, how many rounds completed
//	spawn_monitor {factory, report}  Context.SpawnMonitor: pid and ref
//	spawn_request {factory, name: node, link, monitor, isolated, reason:
//	    restart policy, n: max restarts, ms: period, report, text: tag}
//	                             Context.SpawnRequest; the outcome becomes
//	                             a "spawned" event
//	monitor_node {name}          ref = the node monitor's ref
//	join_group {name}, leave_group {name}
//	group_members {name}         pids = the members
//	send_group {name, text}      tells every member {"op": "note", "text":
//	                             text}; sent and refused are the counts
//	monitor_group {name}         ref = the group monitor's ref
//
// With report, the spawned probe gets {"report": report} as its spawn
// arguments; with bad_args, arguments its Init refuses, so it stops at
// once with the decoder's error as its reason.
//
// Every instance writes "probe: instance up" to stderr when it starts (its
// package init), so a test sees each instantiation, restarts included.
//
// Events: "down" {pid, ref, reason} (HandleDown), "exit" {pid, reason}
// (HandleExit, when trapping exits), "tell" {pid: sender, text} (a note),
// "reply" {ref: the ask's, text, err}, "nodedown" {ref, text: node,
// pid: [incarnation, 0], reason}, "group" {ref, text: group, pid, reason:
// "joined", "left" or "overflow"}, "spawned" {text: the tag, pid, ref: the
// monitor's, err}.
//
// # Build
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o probe.wasm ./testdata/guests/probe
//
// Tests use guestbuild.Build(t, "testdata/guests/probe").
package main

import (
	"os"
	"strconv"
	"time"
	"unsafe"

	"github.com/wasmactor/wasmactor/guest-sdk/actor"
)

// rawLog is the ABI's log import, declared here to call it with an actor id
// of the guest's choosing (the SDK always passes the actor's own).
//
//go:wasmimport wasmactor log
func rawLog(actor uint64, level uint32, ptr unsafe.Pointer, n uint32)

type cmd struct {
	Op       string    `cbor:"op"`
	PID      actor.PID `cbor:"pid"`
	Ref      uint64    `cbor:"ref"`
	Name     string    `cbor:"name"`
	Reason   string    `cbor:"reason"`
	Text     string    `cbor:"text"`
	Factory  string    `cbor:"factory"`
	On       bool      `cbor:"on"`
	Link     bool      `cbor:"link"`
	Isolated bool      `cbor:"isolated"`
	Ms       int64     `cbor:"ms"`
	Serial   uint64    `cbor:"serial"`
	N        int       `cbor:"n"`
	Report   actor.PID `cbor:"report"`
	Cmds     []cmd     `cbor:"cmds"`
	Monitor  bool      `cbor:"monitor"`
	BadArgs  bool      `cbor:"bad_args"`
	AskOp    string    `cbor:"ask_op"`
}

type result struct {
	Err     string      `cbor:"err"`
	PID     actor.PID   `cbor:"pid"`
	Ref     uint64      `cbor:"ref"`
	PIDs    []actor.PID `cbor:"pids"`
	Sent    int         `cbor:"sent"`
	Refused int         `cbor:"refused"`
}

type event struct {
	Kind   string    `cbor:"kind"`
	PID    actor.PID `cbor:"pid"`
	Ref    uint64    `cbor:"ref"`
	Reason string    `cbor:"reason"`
	Text   string    `cbor:"text"`
	Err    string    `cbor:"err"`
}

type note struct {
	Op   string `cbor:"op"`
	Text string `cbor:"text"`
}

type probe struct {
	report  actor.PID
	events  []event
	waitN   int
	waiting *actor.Request
	timers  map[uint64]actor.Timer // by the ref answered for them
	timerN  uint64
	held    []actor.Request // asks kept open by "hold"
}

// timer keeps t for cancel_timer under a ref of its own.
func (p *probe) timer(t actor.Timer) uint64 {
	if p.timers == nil {
		p.timers = make(map[uint64]actor.Timer)
	}
	p.timerN++
	p.timers[p.timerN] = t
	return p.timerN
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (p *probe) Init(ctx *actor.Context, args actor.Message) error {
	if len(args.Bytes()) == 0 {
		return nil
	}
	c, err := actor.Decode[cmd](args)
	p.report = c.Report
	return err
}

func (p *probe) record(ctx *actor.Context, e event) {
	p.events = append(p.events, e)
	p.answerWaiter(ctx)
}

func (p *probe) answerWaiter(ctx *actor.Context) {
	if p.waiting != nil && len(p.events) >= p.waitN {
		_ = ctx.ReplyTo(*p.waiting, map[string][]event{"events": p.events})
		p.waiting = nil
	}
}

func (p *probe) HandleDown(ctx *actor.Context, d actor.Down) {
	p.record(ctx, event{Kind: "down", PID: d.PID, Ref: uint64(d.Ref), Reason: d.Reason})
}

func (p *probe) HandleExit(ctx *actor.Context, e actor.Exit) {
	p.record(ctx, event{Kind: "exit", PID: e.PID, Reason: e.Reason})
}

func (p *probe) HandleNodeDown(ctx *actor.Context, d actor.NodeDown) {
	p.record(ctx, event{Kind: "nodedown", Ref: uint64(d.Ref), Text: d.Node, PID: actor.PID{Incarnation: d.Incarnation}, Reason: d.Reason})
}

func (p *probe) HandleGroup(ctx *actor.Context, e actor.GroupEvent) {
	what := "left"
	switch {
	case e.Overflow:
		what = "overflow"
	case e.Joined:
		what = "joined"
	}
	p.record(ctx, event{Kind: "group", Ref: uint64(e.Ref), Text: e.Group, PID: e.PID, Reason: what})
}

func (p *probe) Terminate(ctx *actor.Context, reason string) {
	if !p.report.IsZero() {
		_ = ctx.Send(p.report, note{Op: "note", Text: "terminated: " + reason})
	}
}

func (p *probe) Receive(ctx *actor.Context, msg actor.Message) {
	c, err := actor.Decode[cmd](msg)
	if err != nil {
		ctx.Log(actor.LevelWarn, "probe: undecodable message", "err", err)
		return
	}
	if !msg.IsAsk() {
		if c.Op == "note" {
			p.record(ctx, event{Kind: "tell", PID: msg.From(), Text: c.Text})
		}
		return
	}
	switch c.Op {
	case "echo":
		_ = ctx.Reply(note{Text: c.Text})
	case "hold":
		req, _ := ctx.Request()
		p.held = append(p.held, req)
	case "held":
		_ = ctx.Reply(result{Ref: uint64(len(p.held))})
	case "answer_held":
		for _, req := range p.held {
			_ = ctx.ReplyTo(req, note{Text: "late"})
		}
		p.held = nil
		_ = ctx.Reply(result{})
	case "quit":
		ctx.Stop(c.Reason)
	case "events":
		req, _ := ctx.Request()
		p.waiting, p.waitN = &req, c.N
		p.answerWaiter(ctx)
	case "repeat":
		var r result
		for i := range c.N {
			for _, sub := range c.Cmds {
				if sub.Name != "" {
					sub.Name += "-" + strconv.Itoa(i)
				}
				if x := p.do(ctx, sub); x.Err != "" {
					r.Err = x.Err
					_ = ctx.Reply(r)
					return
				}
			}
			r.Ref++
		}
		_ = ctx.Reply(r)
	case "batch":
		var r result
		var last uint64
		for _, sub := range c.Cmds {
			if sub.Op == "demonitor" && sub.Ref == 0 {
				sub.Ref = last
			}
			r = p.do(ctx, sub)
			if sub.Op == "monitor" {
				last = r.Ref
			}
			if r.Err != "" {
				break
			}
		}
		_ = ctx.Reply(r)
	default:
		_ = ctx.Reply(p.do(ctx, c))
	}
}

// do runs one command and says what happened.
func (p *probe) do(ctx *actor.Context, c cmd) result {
	var r result
	var err error
	switch c.Op {
	case "self":
		r.PID, r.Ref = ctx.Self(), ctx.Self().Incarnation
	case "parent":
		r.PID = ctx.Parent()
	case "spawn":
		factory := c.Factory
		if factory == "" {
			factory = "Probe"
		}
		var opts []actor.SpawnOption
		if c.Link {
			opts = append(opts, actor.SpawnLink)
		}
		if c.Isolated {
			opts = append(opts, actor.SpawnIsolated)
		}
		r.PID, err = ctx.Spawn(factory, nil, opts...)
		r.Err = errText(err)
	case "monitor":
		var ref actor.Ref
		ref, err = ctx.Monitor(c.PID)
		r.Ref, r.Err = uint64(ref), errText(err)
	case "demonitor":
		ctx.Demonitor(actor.Ref(c.Ref))
	case "link":
		r.Err = errText(ctx.Link(c.PID))
	case "unlink":
		ctx.Unlink(c.PID)
	case "trap_exit":
		ctx.TrapExit(c.On)
	case "register":
		r.Err = errText(ctx.Register(c.Name))
	case "unregister":
		ctx.Unregister(c.Name)
	case "whereis":
		r.PID, err = ctx.Whereis(c.Name)
		r.Err = errText(err)
	case "send":
		r.Err = errText(ctx.Send(c.PID, note{Op: "note", Text: c.Text}))
	case "send_after":
		var t actor.Timer
		t, err = ctx.SendAfter(c.PID, time.Duration(c.Ms)*time.Millisecond, note{Op: "note", Text: c.Text})
		r.Err = errText(err)
		if err == nil {
			r.Ref = p.timer(t)
		}
	case "cancel_timer":
		if !p.timers[c.Ref].Cancel() {
			r.Err = "timer not cancelled"
		}
		delete(p.timers, c.Ref)
	case "ask":
		op := c.AskOp
		if op == "" {
			op = "echo"
		}
		err = ctx.Ask(c.PID, note{Op: op, Text: c.Text}, time.Duration(c.Ms)*time.Millisecond,
			func(ctx *actor.Context, reply actor.Message, err error) {
				e := event{Kind: "reply", Ref: c.Ref, Err: errText(err)}
				if err == nil {
					n, _ := actor.Decode[note](reply)
					e.Text = n.Text
				}
				p.record(ctx, e)
			})
		r.Err = errText(err)
	case "kill":
		r.Err = errText(ctx.Kill(c.PID, c.Reason))
	case "stop":
		ctx.Stop(c.Reason)
	case "crash":
		panic("probe crash")
	case "log":
		ctx.Log(actor.LevelInfo, c.Text)
	case "spawn_monitor":
		var ref actor.Ref
		r.PID, ref, err = ctx.SpawnMonitor(orProbe(c.Factory), childArgs(c))
		r.Ref, r.Err = uint64(ref), errText(err)
	case "spawn_request":
		opts := []actor.SpawnOption{actor.On(c.Name)}
		if c.Link {
			opts = append(opts, actor.SpawnLink)
		}
		if c.Monitor {
			opts = append(opts, actor.SpawnMonitor)
		}
		if c.Isolated {
			opts = append(opts, actor.SpawnIsolated)
		}
		switch c.Reason {
		case "permanent":
			opts = append(opts, actor.Restart(actor.Permanent, c.N, time.Duration(c.Ms)*time.Millisecond))
		case "transient":
			opts = append(opts, actor.Restart(actor.Transient, c.N, time.Duration(c.Ms)*time.Millisecond))
		}
		tag := c.Text
		r.Err = errText(ctx.SpawnRequest(orProbe(c.Factory), childArgs(c), func(ctx *actor.Context, child actor.PID, mon actor.Ref, err error) {
			p.record(ctx, event{Kind: "spawned", Text: tag, PID: child, Ref: uint64(mon), Err: errText(err)})
		}, opts...))
	case "monitor_node":
		var ref actor.Ref
		ref, err = ctx.MonitorNode(c.Name)
		r.Ref, r.Err = uint64(ref), errText(err)
	case "join_group":
		r.Err = errText(ctx.JoinGroup(c.Name))
	case "leave_group":
		r.Err = errText(ctx.LeaveGroup(c.Name))
	case "group_members":
		r.PIDs, err = ctx.GroupMembers(c.Name)
		r.Err = errText(err)
	case "send_group":
		r.Sent, r.Refused, err = ctx.SendGroup(c.Name, note{Op: "note", Text: c.Text})
		r.Err = errText(err)
	case "monitor_group":
		var ref actor.Ref
		ref, err = ctx.MonitorGroup(c.Name)
		r.Ref, r.Err = uint64(ref), errText(err)
	case "log_as":
		b := []byte(c.Text)
		rawLog(c.Serial, 1, unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)))
	case "stderr":
		_, _ = os.Stderr.WriteString(c.Text + "\n")
	default:
		r.Err = "unknown op " + c.Op
	}
	return r
}

func orProbe(factory string) string {
	if factory == "" {
		return "Probe"
	}
	return factory
}

// childArgs are the spawn arguments of a probe's child: {"report": c.Report}
// if the command names one.
func childArgs(c cmd) any {
	if c.BadArgs {
		return "not a command"
	}
	if c.Report.IsZero() {
		return nil
	}
	return cmd{Report: c.Report}
}

func init() {
	_, _ = os.Stderr.WriteString("probe: instance up\n")
	actor.Register("Probe", func() actor.Actor { return &probe{} })
}

func main() {}
