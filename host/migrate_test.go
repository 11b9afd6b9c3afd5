package host_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
	"github.com/wasmactor/wasmactor/internal/proto"
)

func TestMigrateKeepsStateNamesMonitorsAndTheOldPID(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	old, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n1", Name: "counter", Args: map[string]int{"start": 40}})
	require.NoError(t, err)
	partner, err := n3.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n3"})
	require.NoError(t, err)
	require.NoError(t, n3.Link(ctx, partner, old))
	require.NoError(t, n1.JoinGroup(ctx, "counters", old))
	mon1, err := n1.Monitor(ctx, old) // on the old node
	require.NoError(t, err)
	mon3, err := n3.Monitor(ctx, old) // on a third node
	require.NoError(t, err)
	require.NoError(t, n3.Send(ctx, old, map[string]any{"op": "inc", "by": 2}))

	res, err := n1.Migrate(ctx, old, "n2")
	require.NoError(t, err)
	require.Equal(t, old, res.Old)
	require.Equal(t, "n2", res.New.Node)
	require.Positive(t, res.StateBytes)
	moved := res.New

	// The old PID works from everywhere, and so does the new one.
	for _, n := range c.nodes {
		require.Equal(t, int64(42), getCounter(t, n, old).Value, "via the old PID from %s", n.Name())
		require.Equal(t, int64(42), getCounter(t, n, moved).Value, "via the new PID from %s", n.Name())
	}
	require.NoError(t, n1.Send(ctx, old, map[string]any{"op": "inc", "by": 1}))
	require.Equal(t, int64(43), getCounter(t, n1, old).Value, "the same sender: in order")

	// Its name and group follow it, on every node; listings show it at n2.
	for _, n := range c.nodes {
		require.Eventually(t, func() bool {
			p, err := n.Whereis(ctx, "counter")
			return err == nil && p == moved
		}, 5*time.Second, 5*time.Millisecond, "name on %s", n.Name())
		members, err := n.GroupMembers(ctx, "counters")
		require.NoError(t, err)
		require.Equal(t, []host.PID{moved}, members)
	}
	for _, a := range n1.Actors() {
		require.NotEqual(t, old, a.PID)
	}
	found := false
	for _, a := range n2.Actors() {
		found = found || a.PID == moved
	}
	require.True(t, found)
	noDown(t, mon1)
	noDown(t, mon3)

	// A kill by the old PID reaches it; the monitors placed before the move
	// fire (naming its new PID), and the link takes the partner down.
	mon2, err := n2.Monitor(ctx, partner)
	require.NoError(t, err)
	require.NoError(t, n3.Kill(ctx, old, "boom"))
	require.Equal(t, host.Down{PID: moved, Reason: "boom"}, waitDown(t, mon1, 10*time.Second))
	require.Equal(t, host.Down{PID: moved, Reason: "boom"}, waitDown(t, mon3, 10*time.Second))
	require.Equal(t, "boom", waitDown(t, mon2, 10*time.Second).Reason)
	_, err = n2.Whereis(ctx, "counter")
	require.ErrorIs(t, err, wasmactor.ErrNotFound)
}

// The old PID keeps working after its node has left, on nodes that heard of
// the move and on a node that joined later.
func TestMigratedPIDOutlivesItsOldNode(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	old, err := n2.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n3", Args: map[string]int{"start": 7}})
	require.NoError(t, err)
	res, err := n2.Migrate(ctx, old, "n2")
	require.NoError(t, err)
	require.NoError(t, n3.Close())
	require.Eventually(t, func() bool { return len(n1.Members()) == 1 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, int64(7), getCounter(t, n1, old).Value, "n3 is gone; its old PID still works")

	n4 := c.start(t, 3, host.Config{}, 4)
	c.nodes = []*host.Node{n1, n2, n4}
	c.waitMesh(t)
	require.Eventually(t, func() bool {
		r, err := n4.Call(ctx, old, map[string]any{"op": "get"})
		return err == nil && r != nil
	}, 5*time.Second, 10*time.Millisecond, "a node that joined later learns where it went")
	require.Equal(t, int64(7), getCounter(t, n4, res.New).Value)
}

func TestMigrateRefusalsLeaveTheActorWhereItWas(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1 := c.nodes[0]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/counterv2"))
	plain, err := n1.Spawn(ctx, "Plain", host.SpawnOptions{Node: "n1"})
	require.NoError(t, err)
	_, err = n1.Migrate(ctx, plain, "n2")
	require.ErrorIs(t, err, wasmactor.ErrCannotSnapshot)
	counter, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n1", Args: map[string]int{"start": 3}})
	require.NoError(t, err)
	_, err = n1.Migrate(ctx, counter, "n1")
	require.ErrorIs(t, err, wasmactor.ErrBadArgument)
	_, err = n1.Migrate(ctx, counter, "n9")
	require.ErrorIs(t, err, wasmactor.ErrUnknownNode)
	require.Equal(t, int64(3), getV2(t, n1, counter).Value)
	require.Equal(t, int64(0), getV2(t, n1, counter).Restores)
}

func TestMigrateBackAndForth(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1 := c.nodes[0]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	old, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n1", Args: map[string]int{"start": 1}})
	require.NoError(t, err)
	at := old
	for i := range 6 {
		res, err := n1.Migrate(ctx, at, []string{"n2", "n1"}[i%2])
		require.NoError(t, err, "migration %d", i)
		at = res.New
		require.NoError(t, c.nodes[2].Send(ctx, old, map[string]any{"op": "inc"}))
		require.Equal(t, int64(i+2), getCounter(t, c.nodes[2], old).Value)
		require.Equal(t, int64(i+2), getCounter(t, n1, old).Value, "from its first node, where it may be again")
	}
}

// TestMigrationsKeepPerPairOrder: a sequence-checking actor migrates back
// and forth 100 times while a sender on a third node floods it through its
// first PID: nothing is lost, duplicated or reordered.
func TestMigrationsKeepPerPairOrder(t *testing.T) {
	c := newCluster(t, 3, host.Config{MailboxSize: 1 << 16})
	n1, n3 := c.nodes[0], c.nodes[2]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/bench"))
	for _, n := range c.nodes {
		require.Eventually(t, func() bool { return len(n.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	}
	check, err := n1.Spawn(ctx, "SeqCheck", host.SpawnOptions{Node: "n1"})
	require.NoError(t, err)
	send, err := n3.Spawn(ctx, "SeqSend", host.SpawnOptions{Node: "n3"})
	require.NoError(t, err)
	_, err = n3.Spawn(ctx, "Sink", host.SpawnOptions{Node: "n2"}) // n2 has the module ready
	require.NoError(t, err)

	const migrations, per = 100, 50
	stop := make(chan struct{})
	var wg sync.WaitGroup
	rounds := 0
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := n3.Send(ctx, send, []any{abiPID(check), 1, per}); err != nil {
				panic(err)
			}
			rounds++
			// A steady flow rather than a flood: at most a few batches wait
			// at the checker, whatever the migrations do.
			for seqOf(t, n3, send).Sent > seqOf(t, n3, check).Received+10*per {
				runtime.Gosched()
			}
		}
	})
	at := check
	for i := range migrations {
		to := []string{"n2", "n1"}[i%2]
		res, err := n1.Migrate(ctx, at, to)
		require.NoError(t, err, "migration %d", i)
		at = res.New
	}
	close(stop)
	wg.Wait()
	sent := seqOf(t, n3, send)
	require.Zero(t, sent.Failed)
	if !assert.Eventually(t, func() bool { return seqOf(t, n3, check).Received == sent.Sent }, 30*time.Second, 10*time.Millisecond) {
		for _, n := range c.nodes {
			t.Log(n.DebugMigrations())
		}
		t.Logf("sent %+v received %+v", sent, seqOf(t, n3, check))
		t.FailNow()
	}
	var s seqStatsR
	r, err := n3.Call(ctx, check, "stats")
	require.NoError(t, err)
	require.NoError(t, r.Decode(&s))
	t.Logf("%d messages in %d rounds across %d migrations", s.Received, rounds, s.Restores)
	require.Zero(t, s.Gaps)
	require.Zero(t, s.Dups)
	require.Zero(t, s.Reorders)
	require.Equal(t, uint64(migrations), s.Restores)
}

// A guest asks to move itself; the move happens after its turn.
func TestGuestMigratesItself(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/counterv2"))
	old, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n1", Name: "mover", Args: map[string]int{"start": 5}})
	require.NoError(t, err)
	r, err := n1.Call(ctx, old, map[string]any{"op": "move", "to": "n9"})
	require.NoError(t, err)
	var refused map[string]string
	require.NoError(t, r.Decode(&refused))
	require.Contains(t, refused["error"], "node down", "an unknown node is refused at once")

	r, err = n1.Call(ctx, old, map[string]any{"op": "move", "to": "n2"})
	require.NoError(t, err)
	var ok map[string]string
	require.NoError(t, r.Decode(&ok))
	require.Empty(t, ok["error"])
	require.Eventually(t, func() bool {
		p, err := n2.Whereis(ctx, "mover")
		return err == nil && p.Node == "n2"
	}, 10*time.Second, 5*time.Millisecond)
	got := getV2(t, n1, old)
	require.Equal(t, int64(5), got.Value)
	require.Equal(t, int64(1), got.Restores)
}

// TestGuestMigrationRequestsAreOneAtATime: a guest that calls migrate in a
// loop holds one move request (one goroutine), not one per call; the
// others are refused with LIMIT at once. Before, each call started a
// goroutine of its own, without bound.
func TestGuestMigrationRequestsAreOneAtATime(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/counterv2"))
	old, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n1", Name: "looper", Args: map[string]int{"start": 3}})
	require.NoError(t, err)
	const calls = 1000
	r, err := n1.Call(ctx, old, map[string]any{"op": "move", "to": "n2", "by": calls})
	require.NoError(t, err)
	var got map[string]string
	require.NoError(t, r.Decode(&got))
	require.Empty(t, got["error"], "the first request is taken")
	require.Equal(t, fmt.Sprint(calls-1), got["refused"], "every other request of the same turn is refused")
	require.Eventually(t, func() bool {
		p, err := n2.Whereis(ctx, "looper")
		return err == nil && p.Node == "n2"
	}, 30*time.Second, 5*time.Millisecond, "the one request moves it")
	require.Equal(t, int64(3), getV2(t, n1, old).Value)
}

func TestDrainMovesEveryMovableActor(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1, n3 := c.nodes[0], c.nodes[2]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/counterv2"))
	var counters []host.PID
	for i := range 10 {
		pid, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n3", Args: map[string]int{"start": i}})
		require.NoError(t, err)
		counters = append(counters, pid)
	}
	named, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n3", Name: "named", Args: map[string]int{"start": 100}})
	require.NoError(t, err)
	plain, err := n1.Spawn(ctx, "Plain", host.SpawnOptions{Node: "n3"})
	require.NoError(t, err)
	isolated, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n3", Isolated: true})
	require.NoError(t, err)

	rep, err := n1.Drain(ctx, "n3", host.DrainOptions{KeepIsolated: true})
	require.NoError(t, err)
	require.Len(t, rep.Moved, 11)
	require.Len(t, rep.Left, 2)
	require.Equal(t, plain, rep.Left[0].PID)
	require.ErrorIs(t, rep.Left[0].Err, wasmactor.ErrCannotSnapshot)
	require.Equal(t, isolated, rep.Left[1].PID)
	require.Contains(t, rep.Left[1].Reason, "isolated")
	perNode := map[string]int{}
	for _, m := range rep.Moved {
		perNode[m.New.Node]++
	}
	require.Len(t, perNode, 2)
	require.GreaterOrEqual(t, perNode["n1"], 5, "spread by load: %v", perNode)
	require.GreaterOrEqual(t, perNode["n2"], 5, "spread by load: %v", perNode)

	// n3 goes; everything that moved answers by its old PID and name.
	require.NoError(t, n3.Close())
	require.Eventually(t, func() bool { return len(n1.Members()) == 1 }, 5*time.Second, 5*time.Millisecond)
	for i, pid := range counters {
		require.Equal(t, int64(i), getV2(t, n1, pid).Value)
	}
	require.Equal(t, int64(100), getV2(t, c.nodes[1], named).Value)
	where, err := n1.Whereis(ctx, "named")
	require.NoError(t, err)
	require.NotEqual(t, "n3", where.Node)
}

// A Go actor is this process's code: it neither upgrades nor migrates, and
// a drain says so.
func TestGoActorsStayPut(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1 := c.nodes[0]
	ctx := ctxT(t)
	pid, err := n1.SpawnFunc(ctx, "", func(*host.ActorContext, host.Message) error { return nil })
	require.NoError(t, err)
	_, err = n1.Upgrade(ctx, pid, "")
	require.ErrorIs(t, err, wasmactor.ErrCannotSnapshot)
	_, err = n1.Migrate(ctx, pid, "n2")
	require.ErrorIs(t, err, wasmactor.ErrCannotSnapshot)
	rep, err := n1.Drain(ctx, "n1", host.DrainOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Left, 1)
	require.Equal(t, pid, rep.Left[0].PID)
	require.ErrorIs(t, rep.Left[0].Err, wasmactor.ErrCannotSnapshot)
}

// TestMigrationTakesTimersAndNodeAndGroupMonitors: what an actor holds at
// its node besides its state (SendAfter timers, node and group monitors)
// moves with it. Before, the timers stayed at the old node (a cancel at the
// new one found nothing, and a timer fired from the old PID), and the
// NODEDOWN and group changes its old node saw were dropped at the new one.
func TestMigrationTakesTimersAndNodeAndGroupMonitors(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/mover"))
	m, err := n1.Spawn(ctx, "Mover", host.SpawnOptions{Node: "n1"})
	require.NoError(t, err)
	ask := func(msg map[string]any) host.CBOR {
		t.Helper()
		r, err := n1.Call(ctx, m, msg)
		require.NoError(t, err)
		return r
	}
	ask(map[string]any{"op": "after", "ms": int(time.Hour / time.Millisecond), "text": "cancel me"})
	ask(map[string]any{"op": "after", "ms": int(time.Hour / time.Millisecond), "text": "keep me"})
	// Due soon: it fires at the new node, or (on a slow machine) at the old
	// one before the move; either way the actor gets it once.
	ask(map[string]any{"op": "after", "ms": 300, "text": "soon"})
	ask(map[string]any{"op": "node", "name": "n3"})
	ask(map[string]any{"op": "group", "name": "watched"})

	res, err := n1.Migrate(ctx, m, "n2")
	require.NoError(t, err)
	// Nothing of it is left at n1; n2 holds its timers and monitors.
	before := host.Records(n1)
	require.Zero(t, before["timers"], "timers left at the old node")
	require.Zero(t, before["node monitors held"])
	require.Zero(t, before["group monitors held"])
	after := host.Records(n2)
	require.Equal(t, 1, after["node monitors held"])
	require.Equal(t, 1, after["group monitors held"])
	require.GreaterOrEqual(t, after["timers"], 2)

	var ok bool
	r, err := n2.Call(ctx, res.New, map[string]any{"op": "cancel", "text": "cancel me"})
	require.NoError(t, err)
	require.NoError(t, r.Decode(&ok))
	require.True(t, ok, "the timer is cancelled by its handle at the new node")

	// A group change and a node going down reach it at n2.
	other, err := n3.Spawn(ctx, "Mover", host.SpawnOptions{Node: "n3"})
	require.NoError(t, err)
	require.NoError(t, n3.JoinGroup(ctx, "watched", other))
	events := func() []string {
		var ev []string
		r, err := n2.Call(ctx, res.New, map[string]any{"op": "events"})
		require.NoError(t, err)
		require.NoError(t, r.Decode(&ev))
		return ev
	}
	require.Eventually(t, func() bool { return slices.Contains(events(), "group:watched:joined") }, 30*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return slices.Contains(events(), "tell:soon") }, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, n3.Close())
	require.Eventually(t, func() bool {
		return slices.ContainsFunc(events(), func(e string) bool { return strings.HasPrefix(e, "nodedown:n3:") })
	}, 30*time.Second, 10*time.Millisecond)
	ev := events()
	require.NotContains(t, ev, "tell:cancel me")
	require.Equal(t, 1, countOf(ev, "tell:soon"), "fired once: %v", ev)
	require.Equal(t, 1, host.Records(n2)["timers"], "the timer kept is still armed at n2")
}

func countOf(list []string, s string) int {
	k := 0
	for _, x := range list {
		if x == s {
			k++
		}
	}
	return k
}

// TestDownAheadOfItsMovedFiresWhenTheMovedComes: a DOWN from the node an
// actor moved to can reach a watcher's node before the Moved that tells it
// of the move (the Moved comes from the old node). It is kept and fires
// when the Moved comes; before, it was dropped as not from the actor's
// node and the monitor never fired. A DOWN no Moved vouches for never
// fires: a node speaks only for its own actors.
func TestDownAheadOfItsMovedFiresWhenTheMovedComes(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	spawn := func() host.PID {
		pid, err := n2.SpawnFunc(ctxT(t), "", func(*host.ActorContext, host.Message) error { return nil })
		require.NoError(t, err)
		return pid
	}
	watch := func(pid host.PID) (*host.Monitor, uint64) {
		m, err := n1.Monitor(ctxT(t), pid)
		require.NoError(t, err)
		ref, ok := host.RemoteWatchRef(n1, pid)
		require.True(t, ok)
		return m, ref
	}
	noDown := func(m *host.Monitor, what string) {
		t.Helper()
		select { // a Go monitor's Down is sent before the cast or Moved returns
		case d := <-m.C:
			t.Fatalf("%s: %+v", what, d)
		default:
		}
	}
	x, y := spawn(), spawn()
	mx, refX := watch(x)
	my, refY := watch(y)

	// n3 says they died there before anyone said they moved there.
	require.NoError(t, host.CastAs(n1, n3, proto.KindDown, proto.Down{Target: 42, Ref: refX, Reason: "gone", ToIncarnation: n1.Incarnation()}))
	require.NoError(t, host.CastAs(n1, n3, proto.KindDown, proto.Down{Target: 43, Ref: refY, Reason: "forged", ToIncarnation: n1.Incarnation()}))
	noDown(mx, "a DOWN from a node the actor is not known to live on fired")
	noDown(my, "a DOWN from a node the actor is not known to live on fired")

	newX := host.PID{Node: "n3", Incarnation: n3.Incarnation(), Serial: 42}
	require.NoError(t, host.MovedAs(n1, n2, proto.Moved{Old: x, New: newX}))
	require.Equal(t, host.Down{PID: newX, Reason: "gone"}, waitDown(t, mx, probeTimeout))

	// y moved to n3 as serial 44, not 43: that DOWN stays unvouched.
	require.NoError(t, host.MovedAs(n1, n2, proto.Moved{Old: y, New: host.PID{Node: "n3", Incarnation: n3.Incarnation(), Serial: 44}}))
	noDown(my, "a DOWN for another actor of the sender fired")
}

// TestCastsToTheOldNodeFollowTheActor: monitor, link and kill casts that a
// node sent to an actor's old PID before it learned of the move (they
// travel outside the fences, so they can arrive after the actor left) are
// relayed to its new node. Before, the old node dropped a kill, answered a
// link with noproc, and kept no monitor.
func TestCastsToTheOldNodeFollowTheActor(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	old, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n1"})
	require.NoError(t, err)
	res, err := n1.Migrate(ctx, old, "n2")
	require.NoError(t, err)
	watchers := host.Records(n2)["watchers"]
	rlinks := host.Records(n2)["rlinks"]

	// n3's casts, addressed to the old PID at n1, as if sent before n3
	// heard of the move.
	require.NoError(t, host.CastAs(n1, n3, proto.KindMonitor, proto.Watch{Target: old.Serial, Ref: 777, ToIncarnation: old.Incarnation}))
	require.Eventually(t, func() bool { return host.Records(n2)["watchers"] == watchers+1 }, 30*time.Second, 5*time.Millisecond,
		"the monitor is held at the new node")
	partner, err := n3.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n3"})
	require.NoError(t, err)
	require.NoError(t, host.CastAs(n1, n3, proto.KindLink, proto.Link{From: partner.Serial, To: old.Serial, ToIncarnation: old.Incarnation}))
	require.Eventually(t, func() bool { return host.Records(n2)["rlinks"] == rlinks+1 }, 30*time.Second, 5*time.Millisecond,
		"the link is held at the new node")

	mon, err := n2.Monitor(ctx, res.New)
	require.NoError(t, err)
	require.NoError(t, host.CastAs(n1, n3, proto.KindKill, proto.Exit{To: old.Serial, ToIncarnation: old.Incarnation, Reason: "kill"}))
	require.Equal(t, "kill", waitDown(t, mon, 30*time.Second).Reason, "the kill reaches the actor at its new node")

	// A relay is taken only from the actor's old node: n3 cannot speak
	// for n1 about it.
	err = host.CastAs(n2, n3, proto.KindRelay, proto.Relay{Origin: "n1", OriginIncarnation: n1.Incarnation(), Old: old, Kind: proto.KindKill,
		Body: proto.Marshal(proto.Exit{To: res.New.Serial, ToIncarnation: res.New.Incarnation})})
	require.ErrorIs(t, err, wasmactor.ErrBadArgument)
}

// TestRelayIsTakenOnlyForTheActorItsSenderMoved: while an actor that
// arrived from n1 settles at n2, n3 cannot relay a cast for it by naming
// an old PID of its own (before, any actor settling at n2 took a relay
// from any member); n1, whose actor it was, can.
func TestRelayIsTakenOnlyForTheActorItsSenderMoved(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	arrived, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	old := host.PID{Node: "n1", Incarnation: n1.Incarnation(), Serial: 1 << 40}
	host.MarkArrived(n2, arrived, old)
	mon, err := n2.Monitor(ctx, arrived)
	require.NoError(t, err)
	kill := func(reason string) []byte {
		return proto.Marshal(proto.Exit{To: arrived.Serial, ToIncarnation: arrived.Incarnation, Reason: reason})
	}

	ownOld := host.PID{Node: "n3", Incarnation: n3.Incarnation(), Serial: 1 << 40}
	err = host.CastAs(n2, n3, proto.KindRelay, proto.Relay{Origin: "n1", OriginIncarnation: n1.Incarnation(), Old: ownOld,
		Kind: proto.KindKill, Body: kill("forged")})
	require.ErrorIs(t, err, wasmactor.ErrBadArgument, "n3 moved no actor to n2")
	require.Equal(t, int64(0), getCounter(t, n2, arrived).Value, "the actor runs on")

	require.NoError(t, host.CastAs(n2, n1, proto.KindRelay, proto.Relay{Origin: "n3", OriginIncarnation: n3.Incarnation(), Old: old,
		Kind: proto.KindKill, Body: kill("kill")}))
	require.Equal(t, "kill", waitDown(t, mon, 30*time.Second).Reason, "its old node relays for it")
}

// TestMovedIsTakenOnlyForAnActorThatArrived: a member cannot tell the
// node of an actor that one of its own PIDs moved there when that actor
// did not arrive from it: the Moved is refused and installs nothing (before,
// it linked the actor to any actor of that node the Moved listed, so that
// one's death killed the other).
func TestMovedIsTakenOnlyForAnActorThatArrived(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	victim, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2", Name: "victim"})
	require.NoError(t, err)
	partner, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	before := host.Records(n2)

	fake := host.PID{Node: "n1", Incarnation: n1.Incarnation(), Serial: 1 << 40}
	forged := proto.Moved{Old: fake, New: victim, Links: []host.PID{partner}, Downs: []uint64{1, 2, 3},
		Watchers: []proto.WatcherRef{{Node: "n1", Incarnation: n1.Incarnation(), Ref: 9}}}
	require.ErrorIs(t, host.RequestAs(n2, n1, proto.KindMoved, forged), wasmactor.ErrBadArgument)
	require.Equal(t, before, host.Records(n2), "nothing installed on the actor")

	require.NoError(t, host.CastAs(n2, n1, proto.KindAliases, proto.Aliases{List: []proto.Moved{{Old: fake, New: victim}}}))
	require.NoError(t, n2.Send(ctx, fake, map[string]any{"op": "inc"}), "to n1's PID, through n1")
	require.Equal(t, int64(0), getCounter(t, n2, victim).Value, "no alias leads n1's PID to the actor")

	// A real migration is still taken everywhere.
	res, err := n1.Migrate(ctx, partner, "n1")
	require.NoError(t, err)
	require.Equal(t, int64(0), getCounter(t, n2, partner).Value)
	require.Equal(t, "n1", res.New.Node)
}

// TestDrainReportsTheActorsItDidNotTry: a drain whose context ends before
// it has tried every actor lists the untried ones among those that stay
// (before, they were in neither list, and the CLI said "0 stay").
func TestDrainReportsTheActorsItDidNotTry(t *testing.T) {
	c, e := probeCluster(t, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	// A Go actor on n2 that never answers: a probe that asks it has an ask
	// in flight until the drain gives up on it.
	got := make(chan host.Message, 4)
	mute, err := n2.SpawnFunc(ctxT(t), "", func(_ *host.ActorContext, msg host.Message) error {
		got <- msg
		return nil
	})
	require.NoError(t, err)
	busy := e.spawn(t, "n1", false, nil)
	e.ok(t, busy, "ask", "pid", abiPID(mute), "text", "never", "ref", 1, "ms", 60000)
	next(t, got) // the ask is in flight
	later := e.spawn(t, "n1", false, nil)

	ctx, cancel := context.WithTimeout(ctxT(t), 3*time.Second)
	defer cancel()
	rep, err := n1.Drain(ctx, "n1", host.DrainOptions{Parallel: 1})
	require.NoError(t, err)
	where := map[host.PID]string{}
	for _, m := range rep.Moved {
		where[m.Old] = "moved"
	}
	for _, l := range rep.Left {
		where[l.PID] = l.Reason
	}
	require.Contains(t, where, busy, "%+v", rep)
	require.Contains(t, where, later, "every actor is in the report: %+v", rep)
	require.NotEqual(t, "moved", where[busy])
	if where[later] != "moved" { // it was not tried: the drain's time went on the busy one
		require.Contains(t, where[later], "not tried")
	}
	require.NoError(t, n1.Undrain(ctxT(t), "n1"))
}

// TestForwardsAreTakenOnlyFromTheActorsOldNodes: a forwarded record names
// any sender, so an actor takes forwards only from a node it lived on, and
// never its lifecycle records (before, any member could queue a tell in
// any sender's name, or a DROP or RESTORE, for any actor of another node).
func TestForwardsAreTakenOnlyFromTheActorsOldNodes(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	inc, err := cbor.Marshal(map[string]any{"op": "inc", "by": 1})
	require.NoError(t, err)
	tell, drop, restore := uint16(abi.KindTell), uint16(abi.KindDrop), uint16(abi.KindRestore)

	stay, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	host.ForwardAs(n2, n3, stay.Serial, tell, inc)
	require.Equal(t, int64(0), getCounter(t, n2, stay).Value, "n3 was never its node")

	old, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n1"})
	require.NoError(t, err)
	res, err := n1.Migrate(ctx, old, "n2")
	require.NoError(t, err)
	host.ForwardAs(n2, n3, res.New.Serial, tell, inc)
	require.Equal(t, int64(0), getCounter(t, n2, res.New).Value, "nor of the one that moved")
	host.ForwardAs(n2, n1, res.New.Serial, drop, nil)
	host.ForwardAs(n2, n1, res.New.Serial, restore, []byte{0xa0})
	host.ForwardAs(n2, n1, res.New.Serial, tell, inc)
	require.Equal(t, int64(1), getCounter(t, n2, res.New).Value, "its old node forwards tells, and no lifecycle record")
}

// TestUpgradeByAnOldPIDReachesTheMigratedActor: an upgrade asked by the
// PID an actor had before it migrated reaches it where it is, from any
// node (before, the old node, following its alias, asked itself).
func TestUpgradeByAnOldPIDReachesTheMigratedActor(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1, n3 := c.nodes[0], c.nodes[2]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	old, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n1", Args: map[string]int{"start": 6}})
	require.NoError(t, err)
	res, err := n1.Migrate(ctx, old, "n2")
	require.NoError(t, err)
	v2 := deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/counterv2"))
	for _, n := range c.nodes {
		require.Eventually(t, func() bool { return len(n.Modules()) == 2 }, 30*time.Second, 5*time.Millisecond)
	}
	up, err := n3.Upgrade(ctx, old, "")
	require.NoError(t, err, "from a third node")
	require.Equal(t, res.New, up.PID)
	require.Equal(t, v2, up.To.String())
	up, err = n1.Upgrade(ctx, old, "")
	require.NoError(t, err, "from its old node")
	require.True(t, up.Current)
	require.Equal(t, int64(6), getV2(t, n3, old).Value)
}
