package host_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
	"github.com/wasmactor/wasmactor/internal/memtransport"
)

// testCluster is n in-process nodes over an in-memory network, named
// n1..nN, joined into a full mesh.
type testCluster struct {
	net   *memtransport.Network
	nodes []*host.Node
}

func newCluster(t *testing.T, size int, cfg host.Config) *testCluster {
	t.Helper()
	c := &testCluster{net: memtransport.NewNetwork()}
	for i := range size {
		c.nodes = append(c.nodes, c.start(t, i, cfg, uint64(i+1)))
	}
	c.waitMesh(t)
	return c
}

func (c *testCluster) start(t *testing.T, i int, cfg host.Config, incarnation uint64) *host.Node {
	t.Helper()
	cfg.Name = fmt.Sprintf("n%d", i+1)
	cfg.Transport = c.net.NewNode(cfg.Name, incarnation)
	if i > 0 {
		cfg.Join = []string{"n1"}
	}
	return newNode(t, cfg)
}

func (c *testCluster) waitMesh(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range c.nodes {
			if len(n.Members()) != len(c.nodes)-1 {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond, "full mesh")
}

func TestClusterDeployOnceSpawnAnywhere(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))

	// The announcement reaches every node; n3 pulls the blob on first spawn.
	require.Eventually(t, func() bool { return len(n3.Modules()) == 1 && len(n2.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	pid, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n3", Name: "counter", Args: map[string]int{"start": 40}})
	require.NoError(t, err)
	require.Equal(t, "n3", pid.Node)
	require.Equal(t, uint64(1), n3.Pulls())

	// n2 finds it by name and talks to it; location is transparent.
	require.Eventually(t, func() bool { _, err := n2.Whereis(ctx, "counter"); return err == nil }, 5*time.Second, 5*time.Millisecond)
	got, err := n2.Whereis(ctx, "counter")
	require.NoError(t, err)
	require.Equal(t, pid, got)
	require.NoError(t, n2.Send(ctx, got, map[string]any{"op": "inc", "by": 2}))
	require.Equal(t, int64(42), getCounter(t, n2, got).Value)

	// A second spawn on n3 needs no transfer; a spawn on n2 needs one.
	_, err = n2.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n3"})
	require.NoError(t, err)
	require.Equal(t, uint64(1), n3.Pulls())
	local, err := n2.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	require.Equal(t, uint64(1), n2.Pulls())
	require.Equal(t, int64(0), getCounter(t, n1, local).Value)
	require.Equal(t, uint64(0), n1.Pulls())

	_, err = n1.Spawn(ctx, "Nope", host.SpawnOptions{Node: "n3"})
	require.ErrorIs(t, err, wasmactor.ErrUnknownFactory)
	_, err = n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n9"})
	require.ErrorIs(t, err, wasmactor.ErrUnknownNode)
}

func TestClusterPlacementSpreadsSpawns(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	ctx := ctxT(t)
	deploy(t, c.nodes[0], guestbuildtest.Build(t, "examples/counter"))
	require.Eventually(t, func() bool { return len(c.nodes[2].Modules()) == 1 && len(c.nodes[1].Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	seen := map[string]int{}
	for range 9 {
		pid, err := c.nodes[0].Spawn(ctx, "Counter", host.SpawnOptions{})
		require.NoError(t, err)
		seen[pid.Node]++
	}
	require.Len(t, seen, 3, "least-loaded placement uses every node: %v", seen)
}

func TestClusterNodeDownFiresMonitorsAndDropsNames(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	require.Eventually(t, func() bool { return len(c.nodes[2].Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	pid, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n3", Name: "victim"})
	require.NoError(t, err)
	mon, err := n1.Monitor(ctx, pid)
	require.NoError(t, err)
	watcher, err := n2.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	require.NoError(t, n2.Link(ctx, watcher, pid))
	wmon, err := n2.Monitor(ctx, watcher)
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, err := n2.Whereis(ctx, "victim"); return err == nil }, 5*time.Second, 5*time.Millisecond)

	c.net.Kill("n3")
	d := waitDown(t, mon, 10*time.Second)
	require.Equal(t, wasmactor.ReasonNoConnection, d.Reason)
	require.Equal(t, wasmactor.ReasonNoConnection, waitDown(t, wmon, 10*time.Second).Reason, "the link breaks with noconnection")
	require.Eventually(t, func() bool { _, err := n2.Whereis(ctx, "victim"); return err != nil }, 5*time.Second, 5*time.Millisecond)
	err = n1.Send(ctx, pid, map[string]any{"op": "get"})
	require.Error(t, err)
	require.True(t, errorsIsAny(err, wasmactor.ErrNodeDown, wasmactor.ErrStaleIncarnation), err.Error())
}

func TestClusterRemoteActorDeathFiresRemoteMonitor(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	pid, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	mon, err := n1.Monitor(ctx, pid)
	require.NoError(t, err)
	require.NoError(t, n1.Kill(ctx, pid, "bye"))
	require.Equal(t, "bye", waitDown(t, mon, 5*time.Second).Reason)
	_, err = n1.Call(ctx, pid, map[string]any{"op": "get"})
	require.ErrorIs(t, err, wasmactor.ErrNoProc, "the far node answers NOPROC at once")
}

func TestClusterNameConflictResolvesTheSameEverywhere(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	ctx := ctxT(t)
	deploy(t, c.nodes[0], guestbuildtest.Build(t, "examples/counter"))
	require.Eventually(t, func() bool { return len(c.nodes[1].Modules()) == 1 && len(c.nodes[2].Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	_, err := c.nodes[0].Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"}) // n2 pulls the module
	require.NoError(t, err)
	c.net.Partition("n1", "n2")
	require.Eventually(t, func() bool { return len(c.nodes[0].Members()) == 1 && len(c.nodes[1].Members()) == 1 }, 5*time.Second, 5*time.Millisecond)
	// Both sides register "leader" while they cannot see each other...
	a, err := c.nodes[0].Spawn(ctx, "Counter", host.SpawnOptions{Node: "n1", Name: "leader"})
	require.NoError(t, err)
	b, err := c.nodes[1].Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2", Name: "leader"})
	require.NoError(t, err)
	// ...and after the heal every node agrees on one winner.
	c.net.Heal("n1", "n2")
	c.waitMesh(t)
	require.Eventually(t, func() bool {
		var first host.PID
		for i, n := range c.nodes {
			p, err := n.Whereis(ctx, "leader")
			if err != nil {
				return false
			}
			if i == 0 {
				first = p
			} else if p != first {
				return false
			}
		}
		return first == a || first == b
	}, 10*time.Second, 10*time.Millisecond)
}

func TestClusterGroupsSpanNodes(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	ctx := ctxT(t)
	deploy(t, c.nodes[0], guestbuildtest.Build(t, "examples/counter"))
	var pids []host.PID
	for i, n := range c.nodes {
		require.Eventually(t, func() bool { return len(n.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
		pid, err := n.Spawn(ctx, "Counter", host.SpawnOptions{Node: fmt.Sprintf("n%d", i+1)})
		require.NoError(t, err)
		require.NoError(t, n.JoinGroup(ctx, "workers", pid))
		pids = append(pids, pid)
	}
	for _, n := range c.nodes {
		require.Eventually(t, func() bool {
			m, _ := n.GroupMembers(ctx, "workers")
			return len(m) == 3
		}, 5*time.Second, 5*time.Millisecond)
	}
	c.net.Kill("n3")
	require.Eventually(t, func() bool {
		m, _ := c.nodes[0].GroupMembers(ctx, "workers")
		return len(m) == 2
	}, 10*time.Second, 5*time.Millisecond)
	m, err := c.nodes[0].GroupMembers(ctx, "workers")
	require.NoError(t, err)
	require.ElementsMatch(t, pids[:2], m, "n3's member left with its node")
}

// Issue 8: a node restarted on the same name numbers its actors from 1
// again, so the old and the new actor share a serial; the PID of the old one
// (as a value, or as text copied from a listing) must never reach the new one.
func TestClusterPIDOfEarlierRunNeverReachesNewActor(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1 := c.nodes[0]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	require.Eventually(t, func() bool { return len(c.nodes[1].Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	old, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2", Args: map[string]int{"start": 7}})
	require.NoError(t, err)
	c.net.Kill("n2")
	require.Eventually(t, func() bool { return len(n1.Members()) == 0 }, 10*time.Second, 5*time.Millisecond)

	// The same name comes back with a new incarnation and reuses the serial.
	c.nodes[1] = c.start(t, 1, host.Config{}, 99)
	n2 := c.nodes[1]
	c.waitMesh(t)
	fresh, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	require.Equal(t, uint64(99), fresh.Incarnation)
	require.Equal(t, old.Serial, fresh.Serial, "the scenario needs a reused serial")
	require.NotEqual(t, old.String(), fresh.String())

	text, err := wasmactor.ParsePID(old.String())
	require.NoError(t, err)
	require.Equal(t, old, text, "the printed form keeps the incarnation")
	for _, via := range []struct {
		name string
		n    *host.Node
	}{{"from another node", n1}, {"on the restarted node", n2}} {
		for _, pid := range []host.PID{old, text} {
			_, err = via.n.Call(ctx, pid, map[string]any{"op": "get"})
			require.ErrorIs(t, err, wasmactor.ErrStaleIncarnation, "%s: call %s", via.name, pid)
			err = via.n.Send(ctx, pid, map[string]any{"op": "inc", "by": 100})
			require.ErrorIs(t, err, wasmactor.ErrStaleIncarnation, "%s: send %s", via.name, pid)
			err = via.n.Kill(ctx, pid, "")
			require.ErrorIs(t, err, wasmactor.ErrStaleIncarnation, "%s: kill %s", via.name, pid)
		}
	}
	require.Equal(t, int64(0), getCounter(t, n1, fresh).Value, "the new actor got nothing meant for the old one")

	// Without its incarnation a PID is refused, not taken to mean the
	// current run: as text, and as a Go value.
	_, err = wasmactor.ParsePID("<n2." + strconv.FormatUint(fresh.Serial, 10) + ">")
	require.ErrorIs(t, err, wasmactor.ErrBadPID)
	bare := host.PID{Node: "n2", Serial: fresh.Serial}
	for _, n := range []*host.Node{n1, n2} {
		_, err = n.Call(ctx, bare, map[string]any{"op": "get"})
		require.ErrorIs(t, err, wasmactor.ErrBadPID)
		require.ErrorIs(t, n.Send(ctx, bare, 1), wasmactor.ErrBadPID)
		_, err = n.Monitor(ctx, bare)
		require.ErrorIs(t, err, wasmactor.ErrBadPID)
	}
}

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

func TestClusterGuestsAskAcrossNodes(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/pingpong"))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	pong, err := n1.Spawn(ctx, "Pong", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	ping, err := n1.Spawn(ctx, "Ping", host.SpawnOptions{Node: "n1", Args: map[string]any{"pong": abiPID(pong)}})
	require.NoError(t, err)
	r, err := n1.Call(ctx, ping, map[string]any{"op": "run", "rounds": 300})
	require.NoError(t, err)
	var s struct {
		Replies int  `cbor:"replies"`
		Errors  int  `cbor:"errors"`
		Done    bool `cbor:"done"`
	}
	require.NoError(t, r.Decode(&s))
	require.Equal(t, 300, s.Replies)
	require.Zero(t, s.Errors)
	r, err = n2.Call(ctx, pong, map[string]any{"op": "stats"})
	require.NoError(t, err)
	var p struct {
		Pongs int `cbor:"pongs"`
	}
	require.NoError(t, r.Decode(&p))
	require.Equal(t, 300, p.Pongs, "the asks really crossed to n2")
}

type seqStats struct {
	Received uint64 `cbor:"received"`
	Gaps     uint64 `cbor:"gaps"`
	Dups     uint64 `cbor:"dups"`
	Reorders uint64 `cbor:"reorders"`
	Sent     uint64 `cbor:"sent"`
	Failed   uint64 `cbor:"failed"`
}

func seqOf(t testing.TB, n *host.Node, pid host.PID) seqStats {
	t.Helper()
	r, err := n.Call(ctxT(t), pid, map[string]any{"op": "stats"})
	require.NoError(t, err)
	var s seqStats
	require.NoError(t, r.Decode(&s))
	return s
}

func TestClusterPerPairOrderManySenders(t *testing.T) {
	c := newCluster(t, 3, host.Config{MailboxSize: 1 << 16})
	ctx := ctxT(t)
	deploy(t, c.nodes[0], guestbuildtest.Build(t, "testdata/guests/bench"))
	for _, n := range c.nodes {
		require.Eventually(t, func() bool { return len(n.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	}
	check, err := c.nodes[0].Spawn(ctx, "SeqCheck", host.SpawnOptions{Node: "n3"})
	require.NoError(t, err)
	const senders, rounds, per = 6, 5, 500
	var send []host.PID
	for i := range senders {
		pid, err := c.nodes[0].Spawn(ctx, "SeqSend", host.SpawnOptions{Node: fmt.Sprintf("n%d", i%2+1)})
		require.NoError(t, err)
		send = append(send, pid)
	}
	// Each round all senders burst at once (1500 messages in flight, within
	// the transport's send queue); the next round starts once it arrived.
	var sent, failed uint64
	for r := range rounds {
		for i, pid := range send {
			require.NoError(t, c.nodes[0].Send(ctx, pid, []any{abiPID(check), i + 1, per}))
		}
		require.Eventually(t, func() bool {
			sent, failed = 0, 0
			for _, pid := range send {
				s := seqOf(t, c.nodes[0], pid)
				sent += s.Sent
				failed += s.Failed
			}
			return sent+failed == uint64(senders*(r+1)*per) && seqOf(t, c.nodes[0], check).Received == sent
		}, 20*time.Second, 20*time.Millisecond)
	}
	got := seqOf(t, c.nodes[0], check)
	require.Zero(t, failed)
	require.Equal(t, uint64(senders*rounds*per), got.Received)
	require.Zero(t, got.Gaps)
	require.Zero(t, got.Dups)
	require.Zero(t, got.Reorders)
}

func TestClusterRemoteSupervisionAndCrashedCall(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/crasher"))
	// Keep a Call pending on n1 with a ref the crash could be confused with.
	pid, err := n1.Spawn(ctx, "Worker", host.SpawnOptions{Node: "n2", Isolated: true,
		Restart: wasmactor.Restart{Policy: wasmactor.Permanent, MaxRestarts: 1, Period: time.Minute}})
	require.NoError(t, err)
	mon, err := n1.Monitor(ctx, pid)
	require.NoError(t, err)

	// A call from another node into a crashing actor fails at once with the
	// exact error, and supervision restarts the actor on its own node.
	_, err = n1.Call(ctx, pid, map[string]any{"op": "crash"})
	require.ErrorIs(t, err, wasmactor.ErrCrashed)
	_, err = n1.Call(ctx, pid, map[string]any{"op": "ping"})
	require.NoError(t, err, "restarted on n2 under the same PID")
	require.Equal(t, uint64(1), n2.Stats().Restarts)
	noDown(t, mon)

	// Beyond its intensity it stays dead and the remote monitor fires.
	_, err = n1.Call(ctx, pid, map[string]any{"op": "crash"})
	require.ErrorIs(t, err, wasmactor.ErrCrashed)
	require.Contains(t, waitDown(t, mon, 10*time.Second).Reason, "panic")
}

func TestNodeStartsBeforeItsSeedAndJoinsLater(t *testing.T) {
	net := memtransport.NewNetwork()
	// n2's seed does not exist yet: it starts anyway and is not ready.
	n2 := newNode(t, host.Config{Name: "n2", Transport: net.NewNode("n2", 2), Join: []string{"n1"}})
	require.ErrorContains(t, n2.Ready(), "not joined")
	// Once the seed is up, the background retry joins it.
	n1 := newNode(t, host.Config{Name: "n1", Transport: net.NewNode("n1", 1)})
	require.Eventually(t, func() bool { return n2.Ready() == nil && len(n1.Members()) == 1 }, time.Minute, 10*time.Millisecond)

	// Join at run time, as `wasmactor join` does.
	n3 := newNode(t, host.Config{Name: "n3", Transport: net.NewNode("n3", 3)})
	require.NoError(t, n3.Join(ctxT(t), "n1"))
	require.Eventually(t, func() bool { return len(n3.Members()) == 2 }, time.Minute, 10*time.Millisecond)
	lone := newNode(t, host.Config{Name: "lone"})
	require.ErrorIs(t, lone.Join(ctxT(t), "n1"), wasmactor.ErrUnknownNode)
}
