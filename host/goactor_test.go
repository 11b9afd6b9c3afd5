package host_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// Go actors (Node.SpawnFunc) against guests: the probe guest
// (testdata/guests/probe) asks, monitors and links them from either node of
// a two-node cluster.

// probeCluster is two in-process nodes with the probe guest deployed on
// both, and a guestEnv whose here is n1.
func probeCluster(t *testing.T, cfg host.Config) (*testCluster, *guestEnv) {
	t.Helper()
	c := newCluster(t, 2, cfg)
	deploy(t, c.nodes[0], guestbuildtest.Build(t, "testdata/guests/probe"))
	require.Eventually(t, func() bool { return len(c.nodes[1].Modules()) == 1 }, 10*time.Second, 5*time.Millisecond)
	return c, &guestEnv{here: c.nodes[0], there: "n2"}
}

type echoRequest struct {
	Op   string `cbor:"op"`
	Text string `cbor:"text"`
}

// recorder is a Go actor's handler that answers {"op": "echo", "text": T}
// asks with {"text": "go:" + T}, as a probe answers echo, and passes every
// message on to got.
func recorder(got chan<- host.Message) host.Handler {
	return func(ctx *host.ActorContext, msg host.Message) error {
		if msg.IsAsk() {
			var req echoRequest
			if err := msg.Decode(&req); err != nil {
				return err
			}
			if err := ctx.Reply(map[string]string{"text": "go:" + req.Text}); err != nil {
				return err
			}
		}
		got <- msg
		return nil
	}
}

func next(t *testing.T, got <-chan host.Message) host.Message {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(probeTimeout):
		t.Fatal("the Go actor got no message")
		return host.Message{}
	}
}

func TestGoActorIsAskedFromAnyNode(t *testing.T) {
	c, e := probeCluster(t, host.Config{})
	got := make(chan host.Message, 16)
	g, err := c.nodes[0].SpawnFunc(ctxT(t), "", recorder(got))
	require.NoError(t, err)
	require.Equal(t, host.PID{Node: "n1", Incarnation: c.nodes[0].Incarnation(), Serial: g.Serial}, g)

	for _, node := range []string{"n1", "n2"} {
		p := e.spawn(t, node, false, nil)
		e.ok(t, p, "ask", "pid", abiPID(g), "text", "hi", "ref", 1, "ms", 10000)
		require.Equal(t, []probeEvent{{Kind: "reply", Ref: 1, Text: "go:hi"}}, e.events(t, p, 1), "asked from %s", node)
		m := next(t, got)
		require.Equal(t, host.MessageAsk, m.Kind)
		require.Equal(t, p, m.From, "the asker as the Go actor sees it")

		e.ok(t, p, "send", "pid", abiPID(g), "text", "tell")
		m = next(t, got)
		require.Equal(t, host.MessageTell, m.Kind)
		var note echoRequest
		require.NoError(t, m.Decode(&note))
		require.Equal(t, echoRequest{Op: "note", Text: "tell"}, note)
	}

	// The Go API of either node calls it too.
	for _, n := range c.nodes {
		reply, err := n.Call(ctxT(t), g, echoRequest{Op: "echo", Text: n.Name()})
		require.NoError(t, err)
		var r echoRequest
		require.NoError(t, reply.Decode(&r))
		require.Equal(t, "go:"+n.Name(), r.Text)
		m := next(t, got)
		require.Equal(t, host.PID{Node: n.Name(), Incarnation: n.Incarnation()}, m.From, "a node's host asks with serial 0")
	}
}

// TestGoActorThatStopsHoldingAnAskFailsItAtOnce: a Go actor keeps an ask
// to answer later (Request), then stops without answering it; its asker, a
// guest on another node, hears NOPROC at once rather than at its ten-minute
// timeout. An ask it answered later with ReplyTo is not failed.
func TestGoActorThatStopsHoldingAnAskFailsItAtOnce(t *testing.T) {
	c, e := probeCluster(t, host.Config{})
	holding := make(chan struct{}, 1)
	var kept []host.Request
	g, err := c.nodes[0].SpawnFunc(ctxT(t), "", func(ctx *host.ActorContext, msg host.Message) error {
		if msg.Kind != host.MessageAsk {
			return nil
		}
		var r echoRequest
		if err := msg.Decode(&r); err != nil {
			return err
		}
		switch r.Op {
		case "hold":
			req, _ := ctx.Request()
			kept = append(kept, req)
			holding <- struct{}{}
		case "answer":
			for _, req := range kept {
				_ = ctx.ReplyTo(req, echoRequest{Text: "late"})
			}
			kept = nil
			return ctx.Reply(echoRequest{})
		case "stop":
			ctx.Stop("done")
			return ctx.Reply(echoRequest{})
		}
		return nil
	})
	require.NoError(t, err)
	p := e.spawn(t, "n2", false, nil)

	e.ok(t, p, "ask", "pid", abiPID(g), "ask_op", "hold", "ref", 1, "ms", 600000)
	<-holding
	_, err = c.nodes[0].Call(ctxT(t), g, echoRequest{Op: "answer"})
	require.NoError(t, err)
	require.Equal(t, []probeEvent{{Kind: "reply", Ref: 1, Text: "late"}}, e.events(t, p, 1))

	e.ok(t, p, "ask", "pid", abiPID(g), "ask_op", "hold", "ref", 2, "ms", 600000)
	<-holding
	require.Eventually(t, func() bool { return host.Records(c.nodes[0])["held"] == 1 }, probeTimeout, time.Millisecond)
	_, err = c.nodes[0].Call(ctxT(t), g, echoRequest{Op: "stop"})
	require.NoError(t, err)
	require.Equal(t, probeEvent{Kind: "reply", Ref: 2, Err: "wasmactor: no such actor"}, e.events(t, p, 2)[1])
	require.Zero(t, host.Records(c.nodes[0])["held, node count"])
}

// TestGoActorIsAskedAcrossProcesses: a guest in a node process asks a Go
// actor of this process over QUIC, and the Go actor asks it back.
func TestGoActorIsAskedAcrossProcesses(t *testing.T) {
	pc := newProcCluster(t)
	pc.start(t, "n2")
	pc.waitMembers(t, "n2")
	deploy(t, pc.n1, guestbuildtest.Build(t, "testdata/guests/probe"))
	e := &guestEnv{here: pc.n1, there: "n2"}
	p := e.spawn(t, "n2", false, nil)
	got := make(chan host.Message, 4)
	g, err := pc.n1.SpawnFunc(ctxT(t), "", recorder(got))
	require.NoError(t, err)

	e.ok(t, p, "ask", "pid", abiPID(g), "text", "over quic", "ref", 3, "ms", 10000)
	require.Equal(t, []probeEvent{{Kind: "reply", Ref: 3, Text: "go:over quic"}}, e.events(t, p, 1))
	require.Equal(t, p, next(t, got).From)

	asker, err := pc.n1.SpawnFunc(ctxT(t), "", func(ctx *host.ActorContext, msg host.Message) error {
		reply, err := ctx.Call(ctx.Context(), p, echoRequest{Op: "echo", Text: "back"})
		if err != nil {
			return err
		}
		return ctx.Reply(reply) // CBOR passes as is
	})
	require.NoError(t, err)
	reply, err := pc.n1.Call(ctxT(t), asker, "go")
	require.NoError(t, err)
	var r echoRequest
	require.NoError(t, reply.Decode(&r))
	require.Equal(t, "back", r.Text)
}

func TestGoActorCallsGuestsOnAnyNode(t *testing.T) {
	c, e := probeCluster(t, host.Config{})
	local, remote := e.spawn(t, "n1", false, nil), e.spawn(t, "n2", false, nil)
	dead := e.spawn(t, "n2", false, nil)
	m, err := c.nodes[0].Monitor(ctxT(t), dead)
	require.NoError(t, err)
	require.NoError(t, c.nodes[0].Kill(ctxT(t), dead, ""))
	e.down(t, m)

	g, err := c.nodes[0].SpawnFunc(ctxT(t), "", func(ctx *host.ActorContext, msg host.Message) error {
		var texts []string
		for _, p := range []host.PID{local, remote} {
			reply, err := ctx.Call(ctx.Context(), p, echoRequest{Op: "echo", Text: "from go"})
			if err != nil {
				return err
			}
			var r echoRequest
			if err := reply.Decode(&r); err != nil {
				return err
			}
			texts = append(texts, r.Text)
		}
		_, err := ctx.Call(ctx.Context(), dead, echoRequest{Op: "echo"})
		if !errors.Is(err, wasmactor.ErrNoProc) {
			texts = append(texts, "calling the dead: "+err.Error())
		}
		return ctx.Reply(texts)
	})
	require.NoError(t, err)
	reply, err := c.nodes[0].Call(ctxT(t), g, "go")
	require.NoError(t, err)
	var texts []string
	require.NoError(t, reply.Decode(&texts))
	require.Equal(t, []string{"from go", "from go"}, texts)
}

// goDeath is one way for a Go actor to die.
type goDeath struct {
	name   string
	kill   func(t *testing.T, n *host.Node, g host.PID)
	reason string
}

func goDeaths() []goDeath {
	tell := func(what string) func(*testing.T, *host.Node, host.PID) {
		return func(t *testing.T, n *host.Node, g host.PID) { require.NoError(t, n.Send(ctxT(t), g, what)) }
	}
	return []goDeath{
		{"the handler returns an error", tell("error"), "bad things"},
		{"the handler panics", tell("panic"), "panic: oops"},
		{"ActorContext.Stop", tell("stop"), "done"},
		{"Node.Kill", func(t *testing.T, n *host.Node, g host.PID) { require.NoError(t, n.Kill(ctxT(t), g, "boom")) }, "boom"},
		{"Node.Stop", func(t *testing.T, n *host.Node, g host.PID) { require.NoError(t, n.Stop(ctxT(t), g)) }, wasmactor.ReasonShutdown},
	}
}

// mortal is a Go actor's handler that dies as told: "error", "panic" or
// "stop".
func mortal(ctx *host.ActorContext, msg host.Message) error {
	var what string
	_ = msg.Decode(&what)
	switch what {
	case "error":
		return errors.New("bad things")
	case "panic":
		panic("oops")
	case "stop":
		ctx.Stop("done")
	}
	return nil
}

func TestGoActorDeathFiresMonitorsAndLinks(t *testing.T) {
	c, e := probeCluster(t, host.Config{})
	e.setup(t)
	n1 := c.nodes[0]
	for _, death := range goDeaths() {
		t.Run(death.name, func(t *testing.T) {
			g, err := n1.SpawnFunc(ctxT(t), "", mortal)
			require.NoError(t, err)

			// Watched from Go, from a guest on the other node (monitor and a
			// trapped link), and from another Go actor (the same).
			mon := e.monitor(t, g)
			w := e.spawn(t, "n2", false, nil)
			e.ok(t, w, "trap_exit", "on", true)
			ref := e.ok(t, w, "monitor", "pid", abiPID(g)).Ref
			e.ok(t, w, "link", "pid", abiPID(g))
			e.flushFrom(t) // the monitor and the link have reached n1

			got := make(chan host.Message, 4)
			watcher, err := n1.SpawnFunc(ctxT(t), "", func(ctx *host.ActorContext, msg host.Message) error {
				if msg.IsAsk() {
					ctx.TrapExit(true)
					ref, err := ctx.Monitor(g)
					if err != nil {
						return err
					}
					if err := ctx.Link(g); err != nil {
						return err
					}
					return ctx.Reply(ref)
				}
				got <- msg
				return nil
			})
			require.NoError(t, err)
			reply, err := n1.Call(ctxT(t), watcher, "watch")
			require.NoError(t, err)
			var goRef uint64
			require.NoError(t, reply.Decode(&goRef))

			death.kill(t, n1, g)
			require.Equal(t, death.reason, e.down(t, mon))

			want := []probeEvent{{Kind: "down", PID: abiPID(g), Ref: ref, Reason: death.reason}}
			wantGo := []host.Message{{Kind: host.MessageDown, From: g, Ref: goRef, Reason: death.reason}}
			if wasmactor.IsAbnormal(death.reason) {
				want = append(want, probeEvent{Kind: "exit", PID: abiPID(g), Reason: death.reason})
				wantGo = append(wantGo, host.Message{Kind: host.MessageExit, From: g, Reason: death.reason})
			}
			require.ElementsMatch(t, want, e.events(t, w, len(want)))
			var gotGo []host.Message
			for range wantGo {
				gotGo = append(gotGo, next(t, got))
			}
			require.ElementsMatch(t, wantGo, gotGo)

			require.ErrorIs(t, n1.Send(ctxT(t), g, "x"), wasmactor.ErrNoProc)
			require.NotContains(t, goPIDs(n1), g)
		})
	}

	t.Run("a linked guest's crash stops a Go actor that does not trap exits", func(t *testing.T) {
		g, err := n1.SpawnFunc(ctxT(t), "", mortal)
		require.NoError(t, err)
		q := e.spawn(t, "n2", true, nil)
		require.NoError(t, n1.Link(ctxT(t), g, q))
		e.flushTo(t)
		mon := e.monitor(t, g)
		e.crash(t, q)
		require.Equal(t, crashReason, e.down(t, mon))
	})
}

func goPIDs(n *host.Node) []host.PID {
	var out []host.PID
	for _, a := range n.Actors() {
		if a.Factory == "go" {
			out = append(out, a.PID)
		}
	}
	return out
}

func TestGoActorNameIsFoundByGuests(t *testing.T) {
	c, e := probeCluster(t, host.Config{})
	got := make(chan host.Message, 4)
	g, err := c.nodes[0].SpawnFunc(ctxT(t), "gopher", recorder(got))
	require.NoError(t, err)
	require.Equal(t, []host.ActorInfo{{PID: g, Factory: "go", Names: []string{"gopher"}}}, c.nodes[0].Actors())

	p := e.spawn(t, "n1", false, nil)
	require.Equal(t, abiPID(g), e.ok(t, p, "whereis", "name", "gopher").PID)
	q := e.spawn(t, "n2", false, nil)
	// The name reaches n2 by a cast: nothing to wait on but the name.
	require.Eventually(t, func() bool {
		r := e.call(t, q, "whereis", "name", "gopher")
		return r.Err == "" && r.PID == abiPID(g)
	}, probeTimeout, 5*time.Millisecond)
	e.ok(t, q, "send", "pid", abiPID(g), "text", "found you")
	m := next(t, got)
	require.Equal(t, q, m.From)

	_, err = c.nodes[0].SpawnFunc(ctxT(t), "gopher", recorder(got))
	require.ErrorIs(t, err, wasmactor.ErrNameTaken)
	require.Len(t, goPIDs(c.nodes[0]), 1, "the refused Go actor is gone")

	// The name goes with the actor.
	mon := e.monitor(t, g)
	require.NoError(t, c.nodes[0].Stop(ctxT(t), g))
	e.down(t, mon)
	require.Contains(t, e.call(t, p, "whereis", "name", "gopher").Err, "name not found")
}

func TestGoActorMailboxFullIsTheSendersError(t *testing.T) {
	c, e := probeCluster(t, host.Config{MailboxSize: 2})
	n1 := c.nodes[0]
	busy, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the nodes close, even if the test fails
	got := make(chan host.Message, 8)
	g, err := n1.SpawnFunc(ctxT(t), "", func(ctx *host.ActorContext, msg host.Message) error {
		var text string
		if msg.Decode(&text) == nil && text == "block" {
			close(busy)
			<-release
		}
		got <- msg
		return nil
	})
	require.NoError(t, err)

	// The message being handled no longer counts; two more fill the box.
	require.NoError(t, n1.Send(ctxT(t), g, "block"))
	<-busy
	require.NoError(t, n1.Send(ctxT(t), g, "1"))
	require.NoError(t, n1.Send(ctxT(t), g, "2"))
	require.ErrorIs(t, n1.Send(ctxT(t), g, "3"), wasmactor.ErrMailboxFull)
	_, err = n1.Call(ctxT(t), g, "4")
	require.ErrorIs(t, err, wasmactor.ErrMailboxFull)
	_, err = c.nodes[1].Call(ctxT(t), g, "5")
	require.ErrorIs(t, err, wasmactor.ErrMailboxFull, "a remote asker gets the error as its reply")
	p := e.spawn(t, "n1", false, nil)
	require.Equal(t, "wasmactor: mailbox full", e.call(t, p, "send", "pid", abiPID(g), "text", "6").Err, "a guest's send")
	// A tell from another node is refused where it arrives, and counted
	// there; an ask is refused to its asker.
	q := e.spawn(t, "n2", false, nil)
	e.ok(t, q, "ask", "pid", abiPID(g), "text", "7", "ref", 7, "ms", 10000)
	require.Equal(t, []probeEvent{{Kind: "reply", Ref: 7, Err: "wasmactor: mailbox full"}}, e.events(t, q, 1))
	require.Positive(t, n1.Stats().MailboxFull)

	unblock()
	for _, want := range []string{"block", "1", "2"} {
		var text string
		require.NoError(t, next(t, got).Decode(&text))
		require.Equal(t, want, text)
	}
	require.NoError(t, n1.Send(ctxT(t), g, "room again"))
}

func TestCloseStopsGoActors(t *testing.T) {
	n, err := host.Start(ctxT(t), host.Config{Name: "solo", Logger: quietLogger()})
	require.NoError(t, err)
	ctx := ctxT(t)

	// One idle, one blocked until its context ends, one blocked in a Call
	// to an actor that never answers.
	asked := make(chan struct{}, 1)
	idle, err := n.SpawnFunc(ctx, "idle", func(_ *host.ActorContext, msg host.Message) error {
		if msg.Kind == host.MessageAsk {
			asked <- struct{}{} // the caller is inside its Call now
		}
		return nil
	})
	require.NoError(t, err)
	blocked := make(chan struct{}, 2)
	waiter, err := n.SpawnFunc(ctx, "", func(ctx *host.ActorContext, msg host.Message) error {
		blocked <- struct{}{}
		<-ctx.Context().Done()
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, n.Send(ctx, waiter, "wait"))
	caller, err := n.SpawnFunc(ctx, "", func(ctx *host.ActorContext, msg host.Message) error {
		blocked <- struct{}{}
		_, err := ctx.Call(context.Background(), idle, "never answered")
		return err
	})
	require.NoError(t, err)
	require.NoError(t, n.Send(ctx, caller, "call"))
	<-blocked
	<-blocked
	// Not only about to call: its ask has reached idle. (Closing before
	// that let idle die first, and the Call failed NOPROC at once, which
	// became the caller's exit reason.)
	<-asked

	mon, err := n.Monitor(ctx, caller)
	require.NoError(t, err)
	require.NoError(t, n.Close())
	require.Equal(t, wasmactor.ReasonShutdown, waitDown(t, mon, time.Second).Reason)
	// Close has waited for every Go actor's goroutine to finish its work
	// (wg.Done is its last act); the runtime may still be unwinding one.
	require.Eventually(t, func() bool { return len(goActorGoroutines()) == 0 }, probeTimeout, time.Millisecond,
		"Go actor goroutines after Close: %v", goActorGoroutines())

	_, err = n.SpawnFunc(ctx, "", func(*host.ActorContext, host.Message) error { return nil })
	require.ErrorIs(t, err, wasmactor.ErrClosed)
	require.Empty(t, goActorGoroutines(), "no goroutine for a refused Go actor")
}

// goActorGoroutines returns the stacks of goroutines running a Go actor.
func goActorGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "host.(*goActor).run") {
			out = append(out, g)
		}
	}
	return out
}
