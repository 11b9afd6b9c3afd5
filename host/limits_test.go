package host_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// Every guest resource is bounded, per actor and per node (host.Limits):
// a probe (testdata/guests/probe) hits each limit from inside a turn, gets
// the LIMIT error from that call, and the node and the other actors carry
// on. Each refusal is counted in Stats.LimitRefusals.

const limitErr = "wasmactor: limit reached"

// probeNode starts a node with cfg and the probe deployed.
func probeNode(t *testing.T, cfg host.Config) (*host.Node, *guestEnv) {
	t.Helper()
	n := newNode(t, cfg)
	deploy(t, n, guestbuildtest.Build(t, "testdata/guests/probe"))
	return n, &guestEnv{here: n, there: n.Name()}
}

// repeat has probe p run cmd n times in one turn; it returns how many
// rounds completed and the error that stopped it ("" if none).
func (e *guestEnv) repeat(t *testing.T, p host.PID, n int, cmd map[string]any) (int, string) {
	t.Helper()
	r := e.call(t, p, "repeat", "n", n, "cmds", []map[string]any{cmd})
	return int(r.Ref), r.Err
}

// stillWorks checks that the node and the actor p carry on after a
// refusal: p answers, a new actor starts and answers.
func (e *guestEnv) stillWorks(t *testing.T, p host.PID) {
	t.Helper()
	require.Equal(t, abiPID(p), e.ok(t, p, "self").PID)
	q := e.spawn(t, e.here.Name(), false, nil)
	e.ok(t, q, "self")
	require.NoError(t, e.here.Kill(ctxT(t), q, ""))
}

// The reproduction of issue 9: one turn spawning 20,000 actors. By default
// a parent may have 10,000 live children; the node's own bound refuses
// the rest the same way.
func TestOneTurnOfSpawnsIsRefusedAtTheLimit(t *testing.T) {
	t.Run("children per actor, by default", func(t *testing.T) {
		n, e := probeNode(t, host.Config{})
		p := e.spawn(t, n.Name(), false, nil)
		done, err := e.repeat(t, p, 20_000, map[string]any{"op": "spawn"})
		require.Equal(t, limitErr, err)
		require.Equal(t, host.DefaultChildrenPerActor, done)
		require.Equal(t, uint64(1), n.Stats().LimitRefusals["children_per_actor"])
		require.Equal(t, 1+host.DefaultChildrenPerActor, n.Stats().Actors)
		e.stillWorks(t, p)
	})
	t.Run("actors per node", func(t *testing.T) {
		n, e := probeNode(t, host.Config{Limits: host.Limits{Actors: 300}})
		p := e.spawn(t, n.Name(), false, nil)
		r := e.call(t, p, "repeat", "n", 20_000, "cmds", []map[string]any{{"op": "spawn"}})
		require.Equal(t, limitErr, r.Err)
		require.Equal(t, uint64(299), r.Ref)
		require.Equal(t, uint64(1), n.Stats().LimitRefusals["actors"])

		// The Go API is refused the same way, until an actor dies.
		_, err := n.Spawn(ctxT(t), "Probe", host.SpawnOptions{})
		require.ErrorIs(t, err, wasmactor.ErrLimit)
		require.ErrorContains(t, err, "actors")
		m, err := n.Monitor(ctxT(t), p)
		require.NoError(t, err)
		require.NoError(t, n.Kill(ctxT(t), p, ""))
		waitDown(t, m, probeTimeout)
		q := e.spawn(t, n.Name(), false, nil)
		e.ok(t, q, "self")
	})
}

func TestIsolatedInstancesBounded(t *testing.T) {
	n, e := probeNode(t, host.Config{Limits: host.Limits{IsolatedInstances: 2}})
	p := e.spawn(t, n.Name(), false, nil)
	done, err := e.repeat(t, p, 500, map[string]any{"op": "spawn", "isolated": true})
	require.Equal(t, limitErr, err)
	require.Equal(t, 2, done)
	_, gerr := n.Spawn(ctxT(t), "Probe", host.SpawnOptions{Isolated: true})
	require.ErrorIs(t, gerr, wasmactor.ErrLimit)
	require.ErrorContains(t, gerr, "isolated_instances")
	require.Equal(t, uint64(2), n.Stats().LimitRefusals["isolated_instances"])
	e.stillWorks(t, p)

	// An isolated actor's death gives its instance back, once its
	// instance has closed (after its last turn).
	var lone host.PID
	for _, a := range n.Actors() {
		if a.PID != p && a.Instance != n.Actors()[0].Instance {
			lone = a.PID
		}
	}
	require.NotZero(t, lone.Serial)
	m, merr := n.Monitor(ctxT(t), lone)
	require.NoError(t, merr)
	require.NoError(t, n.Kill(ctxT(t), lone, ""))
	waitDown(t, m, probeTimeout)
	eventually(t, probeTimeout, func() bool {
		_, err := n.Spawn(ctxT(t), "Probe", host.SpawnOptions{Isolated: true})
		return err == nil
	}, "no isolated spawn after one isolated actor died")
}

func TestGuestMemoryBudgetRefusesAnInstance(t *testing.T) {
	const perInstance = 64 << 20 // the default MemoryLimitPages
	n, e := probeNode(t, host.Config{InstancesPerModule: 1, Limits: host.Limits{GuestMemory: 3 * perInstance}})
	p := e.spawn(t, n.Name(), false, nil)
	done, err := e.repeat(t, p, 10, map[string]any{"op": "spawn", "isolated": true})
	require.Equal(t, limitErr, err)
	require.Equal(t, 2, done, "the pool's instance and two isolated ones fill the budget")
	st := n.Stats()
	require.Equal(t, int64(3*perInstance), st.GuestMemoryReserved)
	require.Equal(t, 3, st.Instances)
	require.Equal(t, uint64(1), st.LimitRefusals["guest_memory"])

	_, err2 := n.Spawn(ctxT(t), "Probe", host.SpawnOptions{Isolated: true})
	require.ErrorIs(t, err2, wasmactor.ErrLimit)
	require.ErrorContains(t, err2, "guest memory")
	e.stillWorks(t, p) // a shared spawn needs no new instance
}

// A full instance does not take more actors: the pool grows past its size,
// within the memory budget.
func TestFullInstancesGrowThePoolWithinTheBudget(t *testing.T) {
	n, e := probeNode(t, host.Config{InstancesPerModule: 1, Limits: host.Limits{ActorsPerInstance: 2, GuestMemory: 2 * 64 << 20}})
	var pids []host.PID
	for range 4 {
		pids = append(pids, e.spawn(t, n.Name(), false, nil))
	}
	perInstance := map[uint64]int{}
	for _, a := range n.Actors() {
		perInstance[a.Instance]++
	}
	require.Len(t, perInstance, 2)
	for _, k := range perInstance {
		require.Equal(t, 2, k)
	}
	_, err := n.Spawn(ctxT(t), "Probe", host.SpawnOptions{})
	require.ErrorIs(t, err, wasmactor.ErrLimit)
	require.ErrorContains(t, err, "guest_memory")

	m, err := n.Monitor(ctxT(t), pids[0])
	require.NoError(t, err)
	require.NoError(t, n.Kill(ctxT(t), pids[0], ""))
	waitDown(t, m, probeTimeout)
	q := e.spawn(t, n.Name(), false, nil) // into the room pids[0] left
	e.ok(t, q, "self")
}

func TestMailboxBoundedInBytes(t *testing.T) {
	n, counter, release := heldCounter(t, host.Config{Limits: host.Limits{MailboxBytes: 1 << 20}})
	ctx := ctxT(t)
	big := map[string]any{"op": "inc", "by": 1, "pad": make([]byte, 300<<10)}
	for range 3 {
		require.NoError(t, n.Send(ctx, counter, big))
	}
	// Three messages of 300 KiB are queued: far under the 4096-message
	// bound, but a fourth would pass the 1 MiB one.
	require.ErrorIs(t, n.Send(ctx, counter, big), wasmactor.ErrMailboxFull)
	require.NoError(t, n.Send(ctx, counter, map[string]any{"op": "inc", "by": 1}), "a small one still fits")
	require.Equal(t, uint64(1), n.Stats().MailboxFull)
	release()
	eventually(t, probeTimeout, func() bool {
		r, err := n.Call(ctx, counter, map[string]any{"op": "get"})
		var v counterReply
		return err == nil && r.Decode(&v) == nil && v.Value == 4
	}, "the queued messages never arrived")
}

func TestSendAfterTimerCancels(t *testing.T) {
	n, e := probeNode(t, host.Config{})
	p := e.spawn(t, n.Name(), false, nil)
	to := e.spawn(t, n.Name(), false, nil)
	cancelled := e.ok(t, p, "send_after", "pid", abiPID(to), "ms", 3_600_000, "text", "cancelled")
	require.Equal(t, 1, n.Stats().Timers)
	e.ok(t, p, "cancel_timer", "ref", cancelled.Ref)
	require.Zero(t, n.Stats().Timers, "nothing is left armed")
	require.Zero(t, n.Stats().TimerBytes)
	require.Equal(t, "timer not cancelled", e.call(t, p, "cancel_timer", "ref", cancelled.Ref).Err, "cancelled once")

	// A timer that fired cannot be cancelled.
	fired := e.ok(t, p, "send_after", "pid", abiPID(to), "ms", 1, "text", "fired")
	require.Equal(t, []probeEvent{{Kind: "tell", PID: abiPID(p), Text: "fired"}}, e.events(t, to, 1))
	require.Equal(t, "timer not cancelled", e.call(t, p, "cancel_timer", "ref", fired.Ref).Err)
	require.Zero(t, n.Stats().Timers)
}

func TestTimersBounded(t *testing.T) {
	n, e := probeNode(t, host.Config{Limits: host.Limits{TimersPerActor: 5, TimerBytes: 1 << 20}})
	p := e.spawn(t, n.Name(), false, nil)
	done, err := e.repeat(t, p, 10, map[string]any{"op": "send_after", "pid": abiPID(p), "ms": 3_600_000, "text": "later"})
	require.Equal(t, limitErr, err)
	require.Equal(t, 5, done)
	require.Equal(t, uint64(1), n.Stats().LimitRefusals["timers_per_actor"])

	// The node's timers hold at most TimerBytes of payload.
	q := e.spawn(t, n.Name(), false, nil)
	big := strings.Repeat("x", 300<<10)
	done, err = e.repeat(t, q, 5, map[string]any{"op": "send_after", "pid": abiPID(q), "ms": 3_600_000, "text": big})
	require.Equal(t, limitErr, err)
	require.Equal(t, 3, done)
	require.Equal(t, uint64(1), n.Stats().LimitRefusals["timer_bytes"])
	e.stillWorks(t, q)

	// What a dead actor armed goes with it.
	for _, a := range []host.PID{p, q} {
		m, err := n.Monitor(ctxT(t), a)
		require.NoError(t, err)
		require.NoError(t, n.Kill(ctxT(t), a, ""))
		waitDown(t, m, probeTimeout)
	}
	st := n.Stats()
	require.Zero(t, st.Timers)
	require.Zero(t, st.TimerBytes)
}

func TestPendingAsksBounded(t *testing.T) {
	// One instance: the actor asked cannot answer during the asker's turn.
	n, e := probeNode(t, host.Config{InstancesPerModule: 1, Limits: host.Limits{PendingAsksPerActor: 5}})
	p := e.spawn(t, n.Name(), false, nil)
	to := e.spawn(t, n.Name(), false, nil)
	done, err := e.repeat(t, p, 10, map[string]any{"op": "ask", "pid": abiPID(to), "text": "hi"})
	require.Equal(t, limitErr, err)
	require.Equal(t, 5, done)
	require.Equal(t, uint64(1), n.Stats().LimitRefusals["pending_asks_per_actor"])
	// The five asked are answered, which makes room again.
	require.Len(t, e.events(t, p, 5), 5)
	e.ok(t, p, "ask", "pid", abiPID(to), "text", "again")
	e.stillWorks(t, p)
}

func TestMonitorsBounded(t *testing.T) {
	n, e := probeNode(t, host.Config{Limits: host.Limits{MonitorsPerActor: 5}})
	p := e.spawn(t, n.Name(), false, nil)
	target := e.spawn(t, n.Name(), false, nil)
	done, err := e.repeat(t, p, 10, map[string]any{"op": "monitor", "pid": abiPID(target)})
	require.Equal(t, limitErr, err)
	require.Equal(t, 5, done)

	// DOWNs not yet delivered count: monitoring a dead actor queues one at
	// once, so a turn cannot queue them without bound.
	q := e.spawn(t, n.Name(), false, nil)
	dead := e.spawn(t, n.Name(), false, nil)
	m, merr := n.Monitor(ctxT(t), dead)
	require.NoError(t, merr)
	require.NoError(t, n.Kill(ctxT(t), dead, ""))
	waitDown(t, m, probeTimeout)
	done, err = e.repeat(t, q, 1000, map[string]any{"op": "monitor", "pid": abiPID(dead)})
	require.Equal(t, limitErr, err)
	require.Equal(t, 5, done)
	require.Len(t, e.events(t, q, 5), 5, "the five noproc DOWNs arrive")
	e.ok(t, q, "monitor", "pid", abiPID(dead)) // delivered DOWNs make room
	require.Equal(t, uint64(2), n.Stats().LimitRefusals["monitors_per_actor"])
	e.stillWorks(t, p)
}

func TestLinksBounded(t *testing.T) {
	n, e := probeNode(t, host.Config{Limits: host.Limits{LinksPerActor: 3}})
	p := e.spawn(t, n.Name(), false, nil)
	before := n.Stats().Actors
	done, err := e.repeat(t, p, 10, map[string]any{"op": "spawn", "link": true})
	require.Equal(t, limitErr, err)
	require.Equal(t, 3, done)
	require.Equal(t, before+3, n.Stats().Actors, "a child that could not be linked is not left running")

	q := e.spawn(t, n.Name(), false, nil)
	require.Equal(t, limitErr, e.call(t, q, "link", "pid", abiPID(p)).Err, "both sides need room")
	require.ErrorIs(t, n.Link(ctxT(t), p, q), wasmactor.ErrLimit)
	require.Equal(t, uint64(3), n.Stats().LimitRefusals["links_per_actor"])
	e.stillWorks(t, q)
}

func TestNamesBounded(t *testing.T) {
	n, e := probeNode(t, host.Config{HTTPListen: "127.0.0.1:0", Limits: host.Limits{NamesPerActor: 2, Names: 3}})
	p := e.spawn(t, n.Name(), false, nil)
	done, err := e.repeat(t, p, 5, map[string]any{"op": "register", "name": "p"})
	require.Equal(t, limitErr, err)
	require.Equal(t, 2, done)
	e.ok(t, p, "register", "name", "p-0") // held already: no room needed

	q := e.spawn(t, n.Name(), false, nil)
	e.ok(t, q, "register", "name", "q")
	require.Equal(t, limitErr, e.call(t, q, "register", "name", "q2").Err, "the node's three names are taken")
	require.ErrorIs(t, n.Register(ctxT(t), "r", q), wasmactor.ErrLimit)
	_, err2 := n.Spawn(ctxT(t), "Probe", host.SpawnOptions{Name: "s"})
	require.ErrorIs(t, err2, wasmactor.ErrLimit)
	st := n.Stats()
	require.Equal(t, uint64(1), st.LimitRefusals["names_per_actor"])
	require.Equal(t, uint64(3), st.LimitRefusals["names"])
	_, body := httpGet(t, "http://"+n.HTTPAddr()+"/metrics")
	require.Equal(t, "3", metricLine(t, body, `wasmactor_limit_refusals_total{limit="names"}`))
	require.Equal(t, "0", metricLine(t, body, `wasmactor_limit_refusals_total{limit="timers"}`), "every limit has its series")

	e.ok(t, p, "unregister", "name", "p-1")
	e.ok(t, q, "register", "name", "q2")
	e.stillWorks(t, p)
}

func TestGuestLogRateLimited(t *testing.T) {
	logs := &logCapture{}
	n, e := probeNode(t, host.Config{Logger: slog.New(logs), Limits: host.Limits{LogLinesPerSecond: 1}})
	p := e.spawn(t, n.Name(), false, nil)
	done, err := e.repeat(t, p, 50, map[string]any{"op": "log", "text": "flood"})
	require.Empty(t, err, "a dropped line is no error")
	require.Equal(t, 50, done)
	passed := len(logs.withMsg("flood"))
	require.GreaterOrEqual(t, passed, 1)
	require.Less(t, passed, 50, "at one line a second, a turn of 50 lines cannot pass them all")
	refused := n.Stats().LimitRefusals["log_lines_per_second"]
	require.Equal(t, uint64(50-passed), refused)

	// The next line that gets through is preceded by one note that counts
	// every line dropped since the last one that did.
	eventually(t, probeTimeout, func() bool {
		e.ok(t, p, "log", "text", "after")
		return len(logs.withMsg("after")) == 1
	}, "no line got through")
	notes := logs.withMsg("guest log lines dropped: over the rate limit")
	require.Len(t, notes, 1)
	require.Equal(t, p.String(), notes[0].attrs["actor"])
	require.Equal(t, strconv.FormatUint(n.Stats().LimitRefusals["log_lines_per_second"], 10), notes[0].attrs["dropped"])
	e.stillWorks(t, p)
}

// The log import names an actor of the calling instance's batch, never
// another one: a line that names any other id is the instance's.
func TestGuestLogAttributedToTheRunningActor(t *testing.T) {
	logs := &logCapture{}
	n, e := probeNode(t, host.Config{Logger: slog.New(logs), InstancesPerModule: 1})
	p := e.spawn(t, n.Name(), false, nil)
	idle := e.spawn(t, n.Name(), false, nil) // same instance, not running
	other := e.spawn(t, n.Name(), true, nil) // another instance
	// Their STARTs are done, so no batch of p's has a record of theirs.
	e.ok(t, idle, "self")
	e.ok(t, other, "self")
	e.ok(t, p, "log_as", "serial", p.Serial, "text", "mine")
	e.ok(t, p, "log_as", "serial", idle.Serial, "text", "as idle")
	e.ok(t, p, "log_as", "serial", other.Serial, "text", "as other")
	e.ok(t, p, "log_as", "serial", 999_999, "text", "as nobody")

	mine := logs.withMsg("mine")
	require.Len(t, mine, 1)
	require.Equal(t, p.String(), mine[0].attrs["actor"])
	var inst string
	for _, a := range n.Actors() {
		if a.PID == p {
			inst = strconv.FormatUint(a.Instance, 10)
		}
	}
	for text, claimed := range map[string]uint64{"as idle": idle.Serial, "as other": other.Serial, "as nobody": 999_999} {
		got := logs.withMsg(text)
		require.Len(t, got, 1, text)
		require.NotContains(t, got[0].attrs, "actor", "%s: attributed to an actor that did not write it", text)
		require.Equal(t, inst, got[0].attrs["instance"], text)
		require.Equal(t, host.PID{Node: n.Name(), Incarnation: n.Incarnation(), Serial: claimed}.String(), got[0].attrs["claimed_actor"], text)
	}
}

func TestLimitsDefaultsAndValidation(t *testing.T) {
	n := newNode(t, host.Config{})
	require.Nil(t, n.Stats().LimitRefusals, "no refusal yet")
	for name, l := range map[string]host.Limits{
		"negative":                  {Actors: -1},
		"negative bytes":            {TimerBytes: -1},
		"memory under one instance": {GuestMemory: 1 << 20},
		"mailbox bytes over 1 TiB":  {MailboxBytes: 1 << 41},
	} {
		_, err := host.Start(context.Background(), host.Config{Limits: l, Logger: quietLogger()})
		require.ErrorContains(t, err, "invalid config", name)
	}
	_, err := host.Start(context.Background(), host.Config{MailboxSize: 1 << 25, Logger: quietLogger()})
	require.ErrorContains(t, err, "MailboxSize")
}
