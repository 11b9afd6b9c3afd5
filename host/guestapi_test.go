package host_test

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// The guest API against real nodes: testdata/guests/probe calls the ABI's
// imports on command, and these scenarios check what each one does, on one
// node and across two, in one process (TestGuestAPIInProcess) and across
// two OS processes (TestGuestAPIAcrossProcesses).

// guestEnv is where the scenarios run: here is a node of this process,
// whose Go API drives and watches the probes; there is the name of the
// other node, which may be in this process or another.
type guestEnv struct {
	here  *host.Node
	there string

	// Barriers (see flushTo and flushFrom).
	deadThere, deadHere, flusher host.PID
	flushes                      int
}

// setup makes the barriers' actors.
func (e *guestEnv) setup(t *testing.T) {
	e.deadThere = e.spawn(t, e.there, false, nil)
	m, err := e.here.Monitor(ctxT(t), e.deadThere)
	require.NoError(t, err)
	require.NoError(t, e.here.Kill(ctxT(t), e.deadThere, ""))
	waitDown(t, m, probeTimeout)
	e.deadHere = e.spawn(t, e.here.Name(), false, nil)
	require.NoError(t, e.here.Kill(ctxT(t), e.deadHere, ""))
	e.flusher = e.spawn(t, e.there, false, nil)
}

// flushTo returns once every control message this node has sent to the
// other one so far (monitors, links, kills: casts, ordered per pair of
// nodes) has been handled there: a monitor of a dead actor there is one
// more such message, answered by a Down. Messages and calls travel apart
// from casts, so a test that links across nodes and then has a message
// crash the other side must wait for the link first.
func (e *guestEnv) flushTo(t *testing.T) {
	t.Helper()
	m, err := e.here.Monitor(ctxT(t), e.deadThere)
	require.NoError(t, err)
	require.Equal(t, wasmactor.ReasonNoProc, waitDown(t, m, probeTimeout).Reason)
}

// flushFrom is flushTo the other way: a probe there monitors a dead actor
// here, and its Down comes back after everything sent here before it.
func (e *guestEnv) flushFrom(t *testing.T) {
	t.Helper()
	e.ok(t, e.flusher, "monitor", "pid", abiPID(e.deadHere))
	e.flushes++
	e.events(t, e.flusher, e.flushes)
}

type probeResult struct {
	Err     string      `cbor:"err"`
	PID     [2]uint64   `cbor:"pid"`
	Ref     uint64      `cbor:"ref"`
	PIDs    [][2]uint64 `cbor:"pids"`
	Sent    int         `cbor:"sent"`
	Refused int         `cbor:"refused"`
}

type probeEvent struct {
	Kind   string    `cbor:"kind"`
	PID    [2]uint64 `cbor:"pid"`
	Ref    uint64    `cbor:"ref"`
	Reason string    `cbor:"reason"`
	Text   string    `cbor:"text"`
	Err    string    `cbor:"err"`
}

// probeTimeout bounds every command; generous for a loaded machine, and
// far below the test binary's timeout.
const probeTimeout = 30 * time.Second

func (e *guestEnv) spawn(t *testing.T, node string, isolated bool, args any) host.PID {
	t.Helper()
	pid, err := e.here.Spawn(ctxT(t), "Probe", host.SpawnOptions{Node: node, Isolated: isolated, Args: args})
	require.NoError(t, err)
	return pid
}

// call gives a probe one command and returns its answer.
func (e *guestEnv) call(t *testing.T, pid host.PID, op string, kv ...any) probeResult {
	t.Helper()
	m := map[string]any{"op": op}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	reply, err := e.here.Call(ctx, pid, m)
	require.NoError(t, err, "%s %v", pid, m)
	var r probeResult
	require.NoError(t, reply.Decode(&r))
	return r
}

// ok is call for a command that must succeed.
func (e *guestEnv) ok(t *testing.T, pid host.PID, op string, kv ...any) probeResult {
	t.Helper()
	r := e.call(t, pid, op, kv...)
	require.Empty(t, r.Err, "%s %s", pid, op)
	return r
}

// events waits until the probe has seen n events, and returns them all.
func (e *guestEnv) events(t *testing.T, pid host.PID, n int) []probeEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	reply, err := e.here.Call(ctx, pid, map[string]any{"op": "events", "n": n})
	require.NoError(t, err, "waiting for %d events of %s", n, pid)
	var r struct {
		Events []probeEvent `cbor:"events"`
	}
	require.NoError(t, reply.Decode(&r))
	return r.Events
}

// monitor watches pid from Go; it returns once the monitor is in place.
func (e *guestEnv) monitor(t *testing.T, pid host.PID) *host.Monitor {
	t.Helper()
	m, err := e.here.Monitor(ctxT(t), pid)
	require.NoError(t, err)
	if pid.Node != e.here.Name() {
		e.flushTo(t)
	}
	return m
}

// down waits for a Go monitor and returns the reason.
func (e *guestEnv) down(t *testing.T, m *host.Monitor) string {
	t.Helper()
	return waitDown(t, m, probeTimeout).Reason
}

// crash makes an (isolated) probe panic: its instance fails.
func (e *guestEnv) crash(t *testing.T, pid host.PID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	_, err := e.here.Call(ctx, pid, map[string]any{"op": "crash"})
	require.Error(t, err, "a crashing probe cannot answer")
}

const crashReason = "panic: probe crash"

func runGuestAPIScenarios(t *testing.T, e *guestEnv) {
	here, there := e.here.Name(), e.there
	a := abiPID
	e.setup(t)

	t.Run("self, parent and spawn", func(t *testing.T) {
		p := e.spawn(t, here, false, nil)
		r := e.ok(t, p, "self")
		require.Equal(t, a(p), r.PID)
		require.Equal(t, e.here.Incarnation(), r.Ref, "self_node")
		q := e.spawn(t, there, false, nil)
		r = e.ok(t, q, "self")
		require.Equal(t, a(q), r.PID)
		require.Equal(t, q.Incarnation, r.Ref, "self_node on the other node")
		require.Equal(t, [2]uint64{}, e.ok(t, q, "parent").PID, "spawned by a host")

		// spawn with the link flag: the child's death takes the parent.
		r = e.ok(t, p, "spawn", "link", true)
		child := host.PID{Node: here, Incarnation: r.PID[0], Serial: r.PID[1]}
		require.Equal(t, a(p), e.ok(t, child, "parent").PID)
		require.Equal(t, a(child), e.ok(t, child, "self").PID)
		mp := e.monitor(t, p)
		require.NoError(t, e.here.Kill(ctxT(t), child, "boom"))
		require.Equal(t, "boom", e.down(t, mp))

		// spawn with the isolated flag: the child has an instance of its
		// own, so its crash spares its parent.
		parent := e.spawn(t, here, false, nil)
		for range 2*runtime.GOMAXPROCS(0) + 1 { // every shared instance holds others
			e.spawn(t, here, false, nil)
		}
		r = e.ok(t, parent, "spawn", "isolated", true)
		lone := host.PID{Node: here, Incarnation: r.PID[0], Serial: r.PID[1]}
		e.ok(t, lone, "self") // started
		var inst uint64
		shared := map[uint64]int{}
		for _, x := range e.here.Actors() {
			shared[x.Instance]++
			if x.PID == lone {
				inst = x.Instance
			}
		}
		require.NotZero(t, inst)
		require.Equal(t, 1, shared[inst], "the isolated child shares its instance with nobody")
		ml := e.monitor(t, lone)
		e.crash(t, lone)
		require.Equal(t, crashReason, e.down(t, ml))
		e.ok(t, parent, "self")

		r = e.call(t, q, "spawn", "factory", "Nope")
		require.Contains(t, r.Err, "unknown factory")
	})

	t.Run("register, whereis and unregister", func(t *testing.T) {
		b := e.spawn(t, there, false, nil)
		b2 := e.spawn(t, there, false, nil)
		c := e.spawn(t, there, false, nil)
		p := e.spawn(t, here, false, nil)
		e.ok(t, b, "register", "name", "probe-b")
		require.Contains(t, e.call(t, b2, "register", "name", "probe-b").Err, "name already registered")
		require.Equal(t, a(b), e.ok(t, c, "whereis", "name", "probe-b").PID)
		// The name reaches the other node by a cast: nothing to wait on but
		// the name itself.
		require.Eventually(t, func() bool {
			r := e.call(t, p, "whereis", "name", "probe-b")
			return r.Err == "" && r.PID == a(b)
		}, probeTimeout, 5*time.Millisecond, "the name reaches %s", here)

		e.ok(t, b, "unregister", "name", "probe-b")
		require.Contains(t, e.call(t, c, "whereis", "name", "probe-b").Err, "name not found")
		e.ok(t, b2, "register", "name", "probe-b")
		// A name dies with its holder, before its monitors hear of it.
		m := e.monitor(t, b2)
		e.ok(t, p, "kill", "pid", a(b2), "reason", "bye")
		require.Equal(t, "bye", e.down(t, m))
		require.Contains(t, e.call(t, c, "whereis", "name", "probe-b").Err, "name not found")
		require.Contains(t, e.call(t, c, "whereis", "name", "").Err, "bad argument")
	})

	t.Run("monitor and demonitor", func(t *testing.T) {
		w := e.spawn(t, here, false, nil)
		remote := e.spawn(t, there, false, nil)
		local := e.spawn(t, here, false, nil)
		refR := e.ok(t, w, "monitor", "pid", a(remote)).Ref
		refL := e.ok(t, w, "monitor", "pid", a(local)).Ref
		require.NotZero(t, refR)
		require.NotZero(t, refL)
		require.NotEqual(t, refR, refL)
		e.ok(t, w, "kill", "pid", a(remote), "reason", "bye")
		e.ok(t, w, "kill", "pid", a(local), "reason", "ciao")
		ev := e.events(t, w, 2)
		require.ElementsMatch(t, []probeEvent{
			{Kind: "down", PID: a(remote), Ref: refR, Reason: "bye"},
			{Kind: "down", PID: a(local), Ref: refL, Reason: "ciao"},
		}, ev)

		// A monitor of a dead actor fires at once with noproc.
		ref := e.ok(t, w, "monitor", "pid", a(remote)).Ref
		require.Equal(t, probeEvent{Kind: "down", PID: a(remote), Ref: ref, Reason: wasmactor.ReasonNoProc}, e.events(t, w, 3)[2])
		ref = e.ok(t, w, "monitor", "pid", a(local)).Ref
		require.Equal(t, probeEvent{Kind: "down", PID: a(local), Ref: ref, Reason: wasmactor.ReasonNoProc}, e.events(t, w, 4)[3])

		// After demonitor, no Down: the next monitor's Down, which travels
		// behind the one that must not come, is the first event. Not even
		// a Down the host had already queued when the guest cancelled
		// (monitor, kill and demonitor in one turn).
		for _, oneTurn := range []bool{false, true} {
			for _, node := range []string{there, here} {
				w := e.spawn(t, here, false, nil)
				gone := e.spawn(t, node, false, nil)
				next := e.spawn(t, node, false, nil)
				if oneTurn {
					e.ok(t, w, "batch", "cmds", []map[string]any{
						{"op": "monitor", "pid": a(gone)},
						{"op": "kill", "pid": a(gone), "reason": "x"},
						{"op": "demonitor"},
					})
				} else {
					refGone := e.ok(t, w, "monitor", "pid", a(gone)).Ref
					e.ok(t, w, "demonitor", "ref", refGone)
					e.ok(t, w, "kill", "pid", a(gone), "reason", "x")
				}
				refNext := e.ok(t, w, "monitor", "pid", a(next)).Ref
				e.ok(t, w, "kill", "pid", a(next), "reason", "y")
				require.Equal(t, []probeEvent{{Kind: "down", PID: a(next), Ref: refNext, Reason: "y"}}, e.events(t, w, 1), "on %s, one turn %v", node, oneTurn)
			}
		}
	})

	t.Run("abnormal exits cross nodes over links", func(t *testing.T) {
		// here ← there
		p := e.spawn(t, here, false, nil)
		q := e.spawn(t, there, true, nil)
		e.ok(t, p, "link", "pid", a(q))
		e.flushTo(t)
		mp := e.monitor(t, p)
		e.crash(t, q)
		require.Equal(t, crashReason, e.down(t, mp))

		// there ← here
		p = e.spawn(t, here, true, nil)
		q = e.spawn(t, there, false, nil)
		e.ok(t, q, "link", "pid", a(p))
		e.flushFrom(t)
		mq := e.monitor(t, q)
		e.crash(t, p)
		require.Equal(t, crashReason, e.down(t, mq))

		// A kill with an abnormal reason travels on too.
		p = e.spawn(t, here, false, nil)
		q = e.spawn(t, there, false, nil)
		killer := e.spawn(t, here, false, nil)
		e.ok(t, q, "link", "pid", a(p))
		mp = e.monitor(t, p)
		e.ok(t, killer, "kill", "pid", a(q), "reason", "custom")
		require.Equal(t, "custom", e.down(t, mp))
	})

	t.Run("trap_exit turns exits into events", func(t *testing.T) {
		for _, node := range []string{there, here} {
			trapper := e.spawn(t, here, false, nil)
			q := e.spawn(t, node, true, nil)
			e.ok(t, trapper, "trap_exit", "on", true)
			e.ok(t, trapper, "link", "pid", a(q))
			e.flushTo(t)
			e.crash(t, q)
			require.Equal(t, []probeEvent{{Kind: "exit", PID: a(q), Reason: crashReason}}, e.events(t, trapper, 1), "from %s", node)
			e.ok(t, trapper, "self") // alive

			// Linking to a dead actor: locally an error at once, remotely
			// (the link is a cast) an exit with noproc.
			r := e.call(t, trapper, "link", "pid", a(q))
			if node == here {
				require.Contains(t, r.Err, "no such actor")
			} else {
				require.Empty(t, r.Err)
				require.Equal(t, probeEvent{Kind: "exit", PID: a(q), Reason: wasmactor.ReasonNoProc}, e.events(t, trapper, 2)[1])
			}

			// Trap off again: the next abnormal exit stops it.
			e.ok(t, trapper, "trap_exit", "on", false)
			q = e.spawn(t, node, false, nil)
			e.ok(t, trapper, "link", "pid", a(q))
			mt := e.monitor(t, trapper)
			require.NoError(t, e.here.Kill(ctxT(t), q, "stop-it"))
			require.Equal(t, "stop-it", e.down(t, mt))
		}
	})

	t.Run("normal exits and unlinked actors do not propagate", func(t *testing.T) {
		for _, node := range []string{there, here} {
			// A normal stop of a linked actor.
			p := e.spawn(t, here, false, nil)
			q := e.spawn(t, node, false, nil)
			e.ok(t, p, "link", "pid", a(q))
			ref := e.ok(t, p, "monitor", "pid", a(q)).Ref
			e.flushTo(t)
			e.ok(t, q, "stop")
			require.Equal(t, probeEvent{Kind: "down", PID: a(q), Ref: ref, Reason: wasmactor.ReasonNormal}, e.events(t, p, 1)[0])
			// This monitor's noproc travels behind any exit signal q sent.
			e.ok(t, p, "monitor", "pid", a(q))
			e.events(t, p, 2)
			e.ok(t, p, "self")

			// An unlinked crash.
			q = e.spawn(t, node, true, nil)
			e.ok(t, p, "link", "pid", a(q))
			e.ok(t, p, "unlink", "pid", a(q))
			e.ok(t, p, "monitor", "pid", a(q))
			e.flushTo(t)
			e.crash(t, q)
			require.Equal(t, crashReason, e.events(t, p, 3)[2].Reason)
			e.ok(t, p, "monitor", "pid", a(q))
			e.events(t, p, 4)
			e.ok(t, p, "self")
		}
	})

	t.Run("kill", func(t *testing.T) {
		k := e.spawn(t, here, false, nil)
		for _, node := range []string{there, here} {
			q := e.spawn(t, node, false, nil)
			m := e.monitor(t, q)
			e.ok(t, k, "kill", "pid", a(q), "reason", "")
			require.Equal(t, wasmactor.ReasonKilled, e.down(t, m), "the default reason")
		}
		dead := e.spawn(t, here, false, nil)
		require.NoError(t, e.here.Kill(ctxT(t), dead, ""))
		require.Contains(t, e.call(t, k, "kill", "pid", a(dead)).Err, "no such actor")
		require.Contains(t, e.call(t, k, "kill", "pid", [2]uint64{0xdead, 1}).Err, "node down")
	})

	t.Run("send, send_after and ask", func(t *testing.T) {
		p := e.spawn(t, here, false, nil)
		for _, node := range []string{there, here} {
			q := e.spawn(t, node, false, nil)
			e.ok(t, p, "send", "pid", a(q), "text", "hi")
			e.ok(t, p, "send_after", "pid", a(q), "ms", 20, "text", "later")
			require.Equal(t, []probeEvent{{Kind: "tell", PID: a(p), Text: "hi"}, {Kind: "tell", PID: a(p), Text: "later"}}, e.events(t, q, 2), "to %s", node)

			e.ok(t, q, "ask", "pid", a(p), "text", "ping", "ref", 7, "ms", 10000)
			require.Equal(t, probeEvent{Kind: "reply", Ref: 7, Text: "ping"}, e.events(t, q, 3)[2])
		}
		e.ok(t, p, "send_after", "pid", a(p), "ms", 1, "text", "me")
		require.Equal(t, probeEvent{Kind: "tell", PID: a(p), Text: "me"}, e.events(t, p, 1)[0])

		// An ask of a dead actor: the remote node answers NOPROC; locally
		// the import refuses it at once.
		dead := e.spawn(t, there, false, nil)
		m := e.monitor(t, dead)
		require.NoError(t, e.here.Kill(ctxT(t), dead, ""))
		e.down(t, m)
		e.ok(t, p, "ask", "pid", a(dead), "text", "x", "ref", 8, "ms", 10000)
		require.Equal(t, probeEvent{Kind: "reply", Ref: 8, Err: "wasmactor: no such actor"}, e.events(t, p, 2)[1])
		dead = e.spawn(t, here, false, nil)
		require.NoError(t, e.here.Kill(ctxT(t), dead, ""))
		require.Equal(t, "wasmactor: no such actor", e.call(t, p, "ask", "pid", a(dead), "text", "x", "ref", 9, "ms", 10000).Err)
		require.Contains(t, e.call(t, p, "send_after", "pid", a(dead), "ms", 1, "text", "x").Err, "no such actor")
	})

	t.Run("an ask its actor can no longer answer fails at once", func(t *testing.T) {
		// The asks wait up to ten minutes; the events up to probeTimeout.
		// Before the node answered in the name of an actor that died
		// holding an ask, the asker heard only at its timeout.
		const long = 600000
		p := e.spawn(t, here, false, nil)
		seen := 0
		reply := func() probeEvent {
			t.Helper()
			seen++
			ev := e.events(t, p, seen)
			return ev[seen-1]
		}
		for i, node := range []string{there, here} {
			ref := uint64(100 * (i + 1))
			// Stops in the turn of the ask, without answering it.
			q := e.spawn(t, node, false, nil)
			e.ok(t, p, "ask", "pid", a(q), "ask_op", "quit", "reason", "done", "ref", ref, "ms", long)
			require.Equal(t, probeEvent{Kind: "reply", Ref: ref, Err: "wasmactor: no such actor"}, reply(), "on %s", node)

			// Keeps the ask open, then is killed.
			q = e.spawn(t, node, false, nil)
			e.ok(t, p, "ask", "pid", a(q), "ask_op", "hold", "ref", ref+1, "ms", long)
			require.Eventually(t, func() bool { return e.ok(t, q, "held").Ref == 1 }, probeTimeout, time.Millisecond)
			require.NoError(t, e.here.Kill(ctxT(t), q, ""))
			require.Equal(t, probeEvent{Kind: "reply", Ref: ref + 1, Err: "wasmactor: no such actor"}, reply(), "on %s", node)

			// Keeps it open and answers it in a later turn: the answer
			// counts, and its stop then fails nothing.
			q = e.spawn(t, node, false, nil)
			e.ok(t, p, "ask", "pid", a(q), "ask_op", "hold", "ref", ref+2, "ms", long)
			require.Eventually(t, func() bool { return e.ok(t, q, "held").Ref == 1 }, probeTimeout, time.Millisecond)
			e.ok(t, q, "answer_held")
			require.Equal(t, probeEvent{Kind: "reply", Ref: ref + 2, Text: "late"}, reply(), "on %s", node)
			m := e.monitor(t, q)
			require.NoError(t, e.here.Stop(ctxT(t), q))
			e.down(t, m)
		}
		// The node that hosted them holds nothing for them any more.
		require.Eventually(t, func() bool {
			r := host.Records(e.here)
			return r["held"] == 0 && r["held, node count"] == 0
		}, probeTimeout, time.Millisecond)
	})

	t.Run("stop runs Terminate, which may still send", func(t *testing.T) {
		reporter := e.spawn(t, here, false, nil)
		for i, node := range []string{there, here} {
			s := e.spawn(t, node, false, map[string]any{"report": a(reporter)})
			m := e.monitor(t, s)
			e.ok(t, s, "stop", "reason", "done")
			require.Equal(t, "done", e.down(t, m))
			require.Equal(t, probeEvent{Kind: "tell", PID: a(s), Text: "terminated: done"}, e.events(t, reporter, i+1)[i], "on %s", node)
		}
	})
}

// TestGuestAPIInProcess runs the scenarios on two nodes of this process
// over the in-memory transport, and checks the log import.
func TestGuestAPIInProcess(t *testing.T) {
	logs := &logCapture{}
	c := newCluster(t, 2, host.Config{Logger: slog.New(logs)})
	deploy(t, c.nodes[0], guestbuildtest.Build(t, "testdata/guests/probe"))
	require.Eventually(t, func() bool { return len(c.nodes[1].Modules()) == 1 }, 10*time.Second, 5*time.Millisecond)
	e := &guestEnv{here: c.nodes[0], there: "n2"}
	runGuestAPIScenarios(t, e)
	runClusterAPIScenarios(t, e)

	t.Run("log", func(t *testing.T) {
		p := e.spawn(t, "n1", false, nil)
		e.ok(t, p, "log", "text", "probe says hi")
		require.Contains(t, logs.lines(), "INFO probe says hi actor="+p.String())
	})
}

// TestGuestAPIAcrossProcesses runs the scenarios between a node of this
// process and a node process, over QUIC on loopback.
func TestGuestAPIAcrossProcesses(t *testing.T) {
	pc := newProcCluster(t)
	pc.start(t, "n2")
	pc.waitMembers(t, "n2")
	deploy(t, pc.n1, guestbuildtest.Build(t, "testdata/guests/probe"))
	e := &guestEnv{here: pc.n1, there: "n2"}
	runGuestAPIScenarios(t, e)
	runClusterAPIScenarios(t, e)
}

// logCapture is a slog.Handler that keeps every line: its level, message
// and attributes.
type logCapture struct {
	mu  sync.Mutex
	got []logLine
}

// logLine is one line a node logged.
type logLine struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCapture) WithGroup(string) slog.Handler            { return l }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	line := logLine{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		line.attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.got = append(l.got, line)
	l.mu.Unlock()
	return nil
}

// lines lists the lines as "LEVEL msg actor=..." ("actor=" only where the
// line names one).
func (l *logCapture) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.got))
	for i, line := range l.got {
		out[i] = line.level.String() + " " + line.msg
		if actor, ok := line.attrs["actor"]; ok {
			out[i] += " actor=" + actor
		}
	}
	return out
}

// withMsg lists the lines whose message is msg.
func (l *logCapture) withMsg(msg string) []logLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logLine
	for _, line := range l.got {
		if line.msg == msg {
			out = append(out, line)
		}
	}
	return out
}
