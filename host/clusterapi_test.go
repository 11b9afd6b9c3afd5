package host_test

import (
	"log/slog"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
	"github.com/wasmactor/wasmactor/internal/memtransport"
)

// Node monitors, groups and spawn requests from guests (issue 12), against
// real nodes: the probe guest calls the imports, and these scenarios run
// in TestGuestAPIInProcess and TestGuestAPIAcrossProcesses after
// runGuestAPIScenarios.

func pidOn(node string, p [2]uint64) host.PID {
	return host.PID{Node: node, Incarnation: p[0], Serial: p[1]}
}

func recvGroup(t *testing.T, m *host.GroupMonitor) host.GroupEvent {
	t.Helper()
	select {
	case ev := <-m.C:
		return ev
	case <-time.After(probeTimeout):
		t.Fatal("no group event")
		return host.GroupEvent{}
	}
}

func runClusterAPIScenarios(t *testing.T, e *guestEnv) {
	here, there := e.here.Name(), e.there
	a := abiPID

	t.Run("groups across nodes", func(t *testing.T) {
		w := e.spawn(t, here, false, nil)
		p := e.spawn(t, here, false, nil)
		q := e.spawn(t, there, false, nil)
		gm, err := e.here.MonitorGroup(ctxT(t), "workers", 0)
		require.NoError(t, err)
		defer gm.Cancel()
		require.Empty(t, gm.Members)
		ref := e.ok(t, w, "monitor_group", "name", "workers").Ref
		require.NotZero(t, ref)

		e.ok(t, q, "join_group", "name", "workers")
		e.ok(t, q, "join_group", "name", "workers") // a second join changes nothing
		e.ok(t, p, "join_group", "name", "workers")
		joined := []probeEvent{
			{Kind: "group", Ref: ref, Text: "workers", PID: a(q), Reason: "joined"},
			{Kind: "group", Ref: ref, Text: "workers", PID: a(p), Reason: "joined"},
		}
		require.ElementsMatch(t, joined, e.events(t, w, 2), "q's join travels from %s, p's is local", there)
		require.ElementsMatch(t, []host.GroupEvent{{Group: "workers", PID: q, Joined: true}, {Group: "workers", PID: p, Joined: true}},
			[]host.GroupEvent{recvGroup(t, gm), recvGroup(t, gm)})
		require.ElementsMatch(t, [][2]uint64{a(p), a(q)}, e.ok(t, w, "group_members", "name", "workers").PIDs)
		got, err := e.here.GroupMembers(ctxT(t), "workers")
		require.NoError(t, err)
		require.ElementsMatch(t, []host.PID{p, q}, got)

		// A send from there reaches both, once p's join is known there.
		e.flushTo(t)
		r := e.ok(t, q, "send_group", "name", "workers", "text", "all")
		require.Equal(t, []int{2, 0}, []int{r.Sent, r.Refused})
		require.Equal(t, probeEvent{Kind: "tell", PID: a(q), Text: "all"}, e.events(t, p, 1)[0])
		require.Equal(t, probeEvent{Kind: "tell", PID: a(q), Text: "all"}, e.events(t, q, 1)[0])
		// And one from Go, from this node's host.
		res, err := e.here.SendGroup(ctxT(t), "workers", map[string]any{"op": "note", "text": "from go"})
		require.NoError(t, err)
		require.Equal(t, host.GroupSendResult{Members: 2, Sent: 2}, res)
		require.Equal(t, "from go", e.events(t, q, 2)[1].Text)

		// The Go API puts an actor of the other node in a group: its node
		// makes the join and tells everyone.
		r2 := e.spawn(t, there, false, nil)
		require.NoError(t, e.here.JoinGroup(ctxT(t), "workers", r2))
		require.Equal(t, probeEvent{Kind: "group", Ref: ref, Text: "workers", PID: a(r2), Reason: "joined"}, e.events(t, w, 3)[2])
		require.Equal(t, host.GroupEvent{Group: "workers", PID: r2, Joined: true}, recvGroup(t, gm))
		require.ErrorIs(t, e.here.JoinGroup(ctxT(t), "bad name", r2), wasmactor.ErrBadArgument)

		// Members leave by leaving, dying, or by Go.
		e.ok(t, q, "leave_group", "name", "workers")
		require.Contains(t, e.call(t, q, "leave_group", "name", "workers").Err, "not found")
		require.NoError(t, e.here.Kill(ctxT(t), p, "bye"))
		require.NoError(t, e.here.LeaveGroup(ctxT(t), "workers", r2))
		require.ElementsMatch(t, []probeEvent{
			{Kind: "group", Ref: ref, Text: "workers", PID: a(q), Reason: "left"},
			{Kind: "group", Ref: ref, Text: "workers", PID: a(p), Reason: "left"},
			{Kind: "group", Ref: ref, Text: "workers", PID: a(r2), Reason: "left"},
		}, e.events(t, w, 6)[3:])
		require.Empty(t, e.ok(t, w, "group_members", "name", "workers").PIDs)

		// After demonitor nothing more arrives: a new monitor's first event
		// is the next one w sees.
		e.ok(t, w, "demonitor", "ref", ref)
		e.ok(t, q, "join_group", "name", "workers")
		e.flushFrom(t)
		ref2 := e.ok(t, w, "monitor_group", "name", "workers").Ref
		e.ok(t, q, "leave_group", "name", "workers")
		require.Equal(t, probeEvent{Kind: "group", Ref: ref2, Text: "workers", PID: a(q), Reason: "left"}, e.events(t, w, 7)[6])

		for _, op := range []string{"join_group", "monitor_group", "group_members", "send_group"} {
			require.Contains(t, e.call(t, w, op, "name", "<bad").Err, "bad argument", op)
		}
	})

	t.Run("spawn_monitor and spawn_request", func(t *testing.T) {
		p := e.spawn(t, here, false, nil)
		r := e.ok(t, p, "spawn_monitor")
		require.NotZero(t, r.Ref)
		child := pidOn(here, r.PID)
		require.Equal(t, a(p), e.ok(t, child, "parent").PID)
		require.NoError(t, e.here.Kill(ctxT(t), child, "bye"))
		require.Equal(t, probeEvent{Kind: "down", PID: a(child), Ref: r.Ref, Reason: "bye"}, e.events(t, p, 1)[0])

		for _, node := range []string{there, here} {
			reporter := e.spawn(t, here, false, nil)
			w := e.spawn(t, here, false, nil)
			e.ok(t, w, "trap_exit", "on", true)
			e.ok(t, w, "spawn_request", "name", node, "link", true, "monitor", true, "text", "linked",
				"report", a(reporter), "reason", "permanent", "n", 1, "ms", 600000)
			ev := e.events(t, w, 1)[0]
			require.Equal(t, "spawned", ev.Kind)
			require.Equal(t, "linked", ev.Text)
			require.Empty(t, ev.Err)
			require.NotZero(t, ev.Ref, "the monitor's ref")
			child := pidOn(node, ev.PID)
			require.Equal(t, a(w), e.ok(t, child, "parent").PID, "on %s", node)

			// Permanent, at most one restart: the first kill restarts it in
			// place (its Terminate reports), unseen by the link and monitor.
			require.NoError(t, e.here.Kill(ctxT(t), child, "once"))
			require.Equal(t, probeEvent{Kind: "tell", PID: a(child), Text: "terminated: once"}, e.events(t, reporter, 1)[0])
			require.Equal(t, a(child), e.ok(t, child, "self").PID)
			// The second is beyond its intensity: link and monitor fire.
			require.NoError(t, e.here.Kill(ctxT(t), child, "twice"))
			require.ElementsMatch(t, []probeEvent{
				{Kind: "exit", PID: a(child), Reason: "twice"},
				{Kind: "down", PID: a(child), Ref: ev.Ref, Reason: "twice"},
			}, e.events(t, w, 3)[1:], "on %s", node)
		}

		// A child that dies at once, in Init: its Down has the real reason
		// and, from another node, never overtakes the outcome.
		for _, node := range []string{there, here} {
			w := e.spawn(t, here, false, nil)
			e.ok(t, w, "spawn_request", "name", node, "monitor", true, "bad_args", true, "text", "doomed")
			ev := e.events(t, w, 2)
			if node == here {
				// Locally the Down may be queued just ahead of the outcome.
				slices.SortFunc(ev, func(x, y probeEvent) int { return strings.Compare(y.Kind, x.Kind) })
			}
			require.Equal(t, "spawned", ev[0].Kind, "on %s", node)
			require.Equal(t, "down", ev[1].Kind)
			require.Equal(t, ev[0].PID, ev[1].PID)
			require.Equal(t, ev[0].Ref, ev[1].Ref)
			require.Contains(t, ev[1].Reason, "cbor", "the real reason, not noproc")
		}

		// Failures: at once for what the node can tell, else as the outcome.
		require.Contains(t, e.call(t, p, "spawn_request", "factory", "Nope", "name", there).Err, "unknown factory")
		require.Contains(t, e.call(t, p, "spawn_request", "name", "nowhere").Err, "node down")
		require.Contains(t, e.call(t, p, "spawn_request", "name", "bad name").Err, "bad argument")
	})

	t.Run("monitor_node", func(t *testing.T) {
		p := e.spawn(t, here, false, nil)
		ref := e.ok(t, p, "monitor_node", "name", "nowhere").Ref
		require.Equal(t, probeEvent{Kind: "nodedown", Ref: ref, Text: "nowhere", Reason: wasmactor.ReasonNoConnection}, e.events(t, p, 1)[0])
		// A monitor of a node that is up fires only when it goes (see
		// TestGuestNodeMonitor); demonitored, never.
		up := e.ok(t, p, "monitor_node", "name", there).Ref
		e.ok(t, p, "demonitor", "ref", up)
		ref = e.ok(t, p, "monitor_node", "name", "nowhere2").Ref
		require.Equal(t, probeEvent{Kind: "nodedown", Ref: ref, Text: "nowhere2", Reason: wasmactor.ReasonNoConnection}, e.events(t, p, 2)[1])
		require.Contains(t, e.call(t, p, "monitor_node", "name", "bad name").Err, "bad argument")
	})
}

// TestSpawnRequestLeavesNoOrphan: a parent that stops before the outcome
// of its linked spawn request leaves no child behind, whichever comes
// first: the child dies with the parent's reason, is abandoned when the
// outcome finds nobody waiting, or never starts.
func TestSpawnRequestLeavesNoOrphan(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	deploy(t, c.nodes[0], guestbuildtest.Build(t, "testdata/guests/probe"))
	e := &guestEnv{here: c.nodes[0], there: "n2"}
	for i, node := range []string{"n2", "n1"} {
		target := c.nodes[1-i]
		w := e.spawn(t, "n1", false, nil)
		before, spawned := len(target.Actors()), target.Stats().Spawned
		if node == "n1" {
			before-- // w stops too
		}
		e.ok(t, w, "batch", "cmds", []map[string]any{
			{"op": "spawn_request", "name": node, "link": true},
			{"op": "stop", "reason": "gone"},
		})
		require.Eventually(t, func() bool {
			// Remotely the child is always made, then told; locally it may
			// be dropped before it starts.
			made := node == "n1" || target.Stats().Spawned > spawned
			return made && len(target.Actors()) == before
		}, probeTimeout, 5*time.Millisecond, "no child left on %s", node)
	}
}

// TestGuestNodeMonitor: a guest's monitor_node fires once, with the run
// and the reason, when the node goes; monitors are bounded per actor and
// given back by demonitor and by the actor's death.
func TestGuestNodeMonitor(t *testing.T) {
	c := newCluster(t, 3, host.Config{MaxNodeMonitors: 2})
	n1 := c.nodes[0]
	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/probe"))
	e := &guestEnv{here: n1, there: "n2"}
	p := e.spawn(t, "n1", false, nil)
	ref3 := e.ok(t, p, "monitor_node", "name", "n3").Ref
	ref2 := e.ok(t, p, "monitor_node", "name", "n2").Ref
	require.Contains(t, e.call(t, p, "monitor_node", "name", "n3").Err, "limit reached")
	e.ok(t, p, "demonitor", "ref", ref2)
	again := e.ok(t, p, "monitor_node", "name", "n3").Ref

	n3inc := c.nodes[2].Incarnation()
	c.net.Kill("n3")
	require.ElementsMatch(t, []probeEvent{
		{Kind: "nodedown", Ref: ref3, Text: "n3", PID: [2]uint64{n3inc, 0}, Reason: wasmactor.ReasonNoConnection},
		{Kind: "nodedown", Ref: again, Text: "n3", PID: [2]uint64{n3inc, 0}, Reason: wasmactor.ReasonNoConnection},
	}, e.events(t, p, 2))
	// Fired monitors are given back: two more fit, and n2's going is seen
	// with its reason.
	ref2 = e.ok(t, p, "monitor_node", "name", "n2").Ref
	e.ok(t, p, "monitor_node", "name", "n3") // not connected: fires at once
	require.Equal(t, wasmactor.ReasonNoConnection, e.events(t, p, 3)[2].Reason)
	n2inc := c.nodes[1].Incarnation()
	require.NoError(t, c.nodes[1].Close())
	require.Equal(t, probeEvent{Kind: "nodedown", Ref: ref2, Text: "n2", PID: [2]uint64{n2inc, 0}, Reason: host.ReasonLeft}, e.events(t, p, 4)[3])
}

// TestNodeEventsReportPeersComingAndGoing: Node.Events sees each peer come
// and go with the reason; a slow subscriber loses events, counted, and
// never holds the node up.
func TestNodeEventsReportPeersComingAndGoing(t *testing.T) {
	c := &testCluster{net: memtransport.NewNetwork()}
	n1 := c.start(t, 0, host.Config{}, 1)
	c.nodes = append(c.nodes, n1)
	sub := n1.Events(16)
	defer sub.Cancel()
	slow := n1.Events(1)
	defer slow.Cancel()
	next := func() host.NodeEvent {
		t.Helper()
		select {
		case ev := <-sub.C:
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no node event")
			return host.NodeEvent{}
		}
	}
	n2 := c.start(t, 1, host.Config{}, 2)
	n3 := c.start(t, 2, host.Config{}, 3)
	got := []host.NodeEvent{next(), next()}
	for i := range got {
		require.Equal(t, uint64(i+1), got[i].Seq)
		require.True(t, got[i].Up)
		require.Equal(t, host.ReasonJoined, got[i].Reason)
		got[i] = host.NodeEvent{Node: got[i].Node}
	}
	require.ElementsMatch(t, []host.NodeEvent{{Node: infoOf(n2)}, {Node: infoOf(n3)}}, got)

	c.net.Kill("n3")
	ev := next()
	require.Equal(t, host.NodeEvent{Seq: 3, Node: infoOf(n3), Reason: wasmactor.ReasonNoConnection}, host.NodeEvent{Seq: ev.Seq, Node: ev.Node, Up: ev.Up, Reason: ev.Reason})
	require.False(t, ev.At.IsZero())
	c.net.Partition("n1", "n2")
	ev = next()
	require.Equal(t, []any{uint64(4), "n2", false, wasmactor.ReasonNoConnection}, []any{ev.Seq, ev.Node.Name, ev.Up, ev.Reason})
	c.net.Heal("n1", "n2")
	ev = next()
	require.Equal(t, []any{uint64(5), "n2", true, host.ReasonReconnected}, []any{ev.Seq, ev.Node.Name, ev.Up, ev.Reason})
	require.NoError(t, n2.Close())
	ev = next()
	require.Equal(t, []any{uint64(6), "n2", false, host.ReasonLeft}, []any{ev.Seq, ev.Node.Name, ev.Up, ev.Reason})

	// The slow subscriber kept the first event and lost the five after it.
	require.Equal(t, uint64(1), (<-slow.C).Seq)
	require.Equal(t, uint64(5), slow.Dropped())
	slow.Cancel()
	_, open := <-slow.C
	require.False(t, open, "Cancel closes C")
	slow.Cancel()
}

func infoOf(n *host.Node) host.NodeInfo {
	return host.NodeInfo{Name: n.Name(), Incarnation: n.Incarnation(), Addr: n.Addr()}
}

// TestGroupMonitorOverflowsIntoOneRecord: a guest that cannot keep up
// with a group's changes gets at most a mailbox's worth queued, then one
// overflow record, never an unbounded queue.
func TestGroupMonitorOverflowsIntoOneRecord(t *testing.T) {
	n := newNode(t, host.Config{Name: "n1", MailboxSize: 2, Logger: slog.New(slog.DiscardHandler)})
	deploy(t, n, guestbuildtest.Build(t, "testdata/guests/probe"))
	e := &guestEnv{here: n}
	w := e.spawn(t, "n1", false, nil)
	// One turn: w cannot take records while it runs, so they queue.
	r := e.ok(t, w, "batch", "cmds", []map[string]any{
		{"op": "monitor_group", "name": "g"},
		{"op": "join_group", "name": "g"},
		{"op": "leave_group", "name": "g"},
		{"op": "join_group", "name": "g"},
		{"op": "leave_group", "name": "g"},
	})
	require.Empty(t, r.Err)
	// The two that fit were voided by the first that did not; the second
	// found the overflow record queued already.
	ev := e.events(t, w, 1)
	ref := ev[0].Ref
	require.NotZero(t, ref)
	require.Equal(t, []probeEvent{{Kind: "group", Ref: ref, Text: "g", Reason: "overflow"}}, ev)
	require.Equal(t, uint64(2), n.Stats().GroupChangesDropped)
	require.Empty(t, e.ok(t, w, "group_members", "name", "g").PIDs)
	// Caught up, it hears every change again.
	e.ok(t, w, "join_group", "name", "g")
	require.Equal(t, probeEvent{Kind: "group", Ref: ref, Text: "g", PID: abiPID(w), Reason: "joined"}, e.events(t, w, 2)[1])
}

// TestSendGroupCountsRefusals: a member that cannot take the message is
// counted, not skipped silently.
func TestSendGroupCountsRefusals(t *testing.T) {
	n := newNode(t, host.Config{Name: "n1", MailboxSize: 1, InstancesPerModule: 1})
	deploy(t, n, guestbuildtest.Build(t, "testdata/guests/probe"))
	e := &guestEnv{here: n}
	full := e.spawn(t, "n1", false, nil)
	s := e.spawn(t, "n1", false, nil)
	e.ok(t, full, "join_group", "name", "g")
	e.ok(t, s, "join_group", "name", "g")
	// In one turn of s (full shares its instance, so it cannot drain):
	// the first note fills full's mailbox of one.
	r := e.ok(t, s, "batch", "cmds", []map[string]any{
		{"op": "send", "pid": abiPID(full), "text": "first"},
		{"op": "send_group", "name": "g", "text": "all"},
	})
	require.Equal(t, []int{1, 1}, []int{r.Sent, r.Refused}, "s got it, full refused it")
	// Asking full counts against its mailbox of one too: wait for the turn
	// that takes "first" out of it.
	require.Eventually(t, func() bool {
		for _, a := range n.Actors() {
			if a.PID == full {
				return a.Mailbox == 0
			}
		}
		return false
	}, time.Minute, time.Millisecond)
	require.Equal(t, "first", e.events(t, full, 1)[0].Text)
	require.Equal(t, "all", e.events(t, s, 1)[0].Text)
	require.Equal(t, 1, len(e.events(t, full, 1)), "nothing more for full")

	// Groups lists them, and a send to a group nobody is in reaches no one.
	require.Equal(t, []host.Group{{Name: "g", Members: []host.PID{full, s}}}, n.Groups())
	res, err := n.SendGroup(ctxT(t), "empty", "x")
	require.NoError(t, err)
	require.Equal(t, host.GroupSendResult{}, res)
	_, err = n.SendGroup(ctxT(t), "", "x")
	require.ErrorIs(t, err, wasmactor.ErrBadArgument)
	require.True(t, strings.HasPrefix(full.String(), "<n1."))
}

// TestGuestNodeMonitorAcrossProcesses: a node process killed with SIGKILL
// is seen by a guest's node monitor within the idle timeout.
func TestGuestNodeMonitorAcrossProcesses(t *testing.T) {
	pc := newProcCluster(t)
	n2 := pc.start(t, "n2")
	pc.waitMembers(t, "n2")
	deploy(t, pc.n1, guestbuildtest.Build(t, "testdata/guests/probe"))
	e := &guestEnv{here: pc.n1, there: "n2"}
	p := e.spawn(t, "n1", false, nil)
	ref := e.ok(t, p, "monitor_node", "name", "n2").Ref
	require.NoError(t, n2.cmd.Process.Signal(syscall.SIGKILL))
	ev := e.events(t, p, 1)[0]
	require.Equal(t, probeEvent{Kind: "nodedown", Ref: ref, Text: "n2", PID: [2]uint64{n2.incarnation, 0}, Reason: ev.Reason}, ev)
	require.Contains(t, []string{host.ReasonTimeout, wasmactor.ReasonNoConnection}, ev.Reason)
}
