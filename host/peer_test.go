package host_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/transport"
)

// rogue is a cluster member that holds the cookie and misbehaves: a bare
// transport whose control messages the test writes by hand.
type rogue struct {
	tr      transport.Transport
	info    transport.NodeInfo
	markers uint64 // serials of marker claims, see sync

	mu    sync.Mutex
	blobs map[string][]byte // what ServeBlob answers, by key
}

// addRogue joins a rogue member named name to c and waits until every node
// of c sees it.
func (c *testCluster) addRogue(t *testing.T, name string, incarnation uint64) *rogue {
	t.Helper()
	r := &rogue{tr: c.net.NewNode(name, incarnation), blobs: map[string][]byte{}}
	r.info = r.tr.Self()
	ctx := ctxT(t)
	require.NoError(t, r.tr.Start(ctx, r))
	require.NoError(t, r.tr.Join(ctx, []string{"n1"}))
	t.Cleanup(func() { _ = r.tr.Close() })
	require.Eventually(t, func() bool {
		for _, n := range c.nodes {
			if len(n.Members()) != len(c.nodes) {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond, "every node sees the rogue")
	return r
}

func (r *rogue) pid(serial uint64) host.PID {
	return host.PID{Node: r.info.Name, Incarnation: r.info.Incarnation, Serial: serial}
}

// cast sends one control message to node, with body as given (a struct, or
// a map for bodies the proto types cannot express).
func (r *rogue) cast(t *testing.T, node string, kind uint16, body any) {
	t.Helper()
	require.NoError(t, r.tr.Cast(node, transport.Control{Kind: kind, Body: proto.Marshal(body)}))
}

// sync returns once n has handled everything r cast to it so far: casts
// are handled in order, so r claims a fresh name for one of its own actors
// (which any node accepts) and waits until n knows it.
func (r *rogue) sync(t *testing.T, n *host.Node) {
	t.Helper()
	r.markers++
	name := fmt.Sprintf("marker-%d", r.markers)
	r.cast(t, n.Name(), proto.KindName, registry.Claim{Name: name, PID: r.pid(1_000_000 + r.markers)})
	require.Eventually(t, func() bool {
		_, err := n.Whereis(context.Background(), name)
		return err == nil
	}, 10*time.Second, time.Millisecond, "%s handles the rogue's casts", n.Name())
}

func (r *rogue) HandleEnvelopes(transport.NodeInfo, []transport.Envelope) {}
func (r *rogue) HandleCast(transport.NodeInfo, transport.Control)         {}
func (r *rogue) NodeUp(transport.NodeInfo)                                {}
func (r *rogue) NodeDown(transport.NodeInfo, error)                       {}

func (r *rogue) HandleCall(context.Context, transport.PeerInfo, transport.Control) ([]byte, error) {
	return nil, errors.New("rogue: no calls")
}

func (r *rogue) ServeBlob(_ context.Context, _ transport.PeerInfo, key string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.blobs[key]; ok {
		return b, nil
	}
	return nil, errors.New("rogue: no such blob")
}

// echoNamed spawns an Echo actor (testdata/minimal_actor.wasm, deployed on
// n1 by the caller) on node with a name, and waits until every node of c
// knows the name.
func (c *testCluster) echoNamed(t *testing.T, node int, name string) host.PID {
	t.Helper()
	n := c.nodes[node]
	pid, err := n.Spawn(ctxT(t), "Echo", host.SpawnOptions{Node: n.Name(), Name: name})
	require.NoError(t, err)
	c.waitName(t, name, pid)
	return pid
}

// waitName waits until every node of c resolves name to pid.
func (c *testCluster) waitName(t *testing.T, name string, pid host.PID) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range c.nodes {
			if got, err := n.Whereis(context.Background(), name); err != nil || got != pid {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond, "every node resolves %q to %s", name, pid)
}

func newEchoCluster(t *testing.T, size int) *testCluster {
	t.Helper()
	c := newCluster(t, size, host.Config{})
	deploy(t, c.nodes[0], fixture(t, "minimal_actor.wasm"))
	require.Eventually(t, func() bool {
		for _, n := range c.nodes {
			if len(n.Modules()) != 1 {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond)
	for _, n := range c.nodes[1:] { // every node holds the module
		_, err := n.Spawn(ctxT(t), "Echo", host.SpawnOptions{Node: n.Name()})
		require.NoError(t, err)
	}
	return c
}

// TestPeerCannotUnregisterAnotherNodesName: a peer's name release counts
// only for its own actors; one for another node's actor is ignored on every
// node, the holder's own included.
func TestPeerCannotUnregisterAnotherNodesName(t *testing.T) {
	c := newEchoCluster(t, 2)
	svc := c.echoNamed(t, 0, "svc")
	r := c.addRogue(t, "rogue", 77)

	for _, n := range c.nodes {
		r.cast(t, n.Name(), proto.KindUnname, proto.NameRef{Name: "svc", PID: svc})
		r.sync(t, n)
		got, err := n.Whereis(ctxT(t), "svc")
		require.NoError(t, err, "on %s", n.Name())
		require.Equal(t, svc, got, "on %s", n.Name())
	}
	require.Equal(t, []string{"svc"}, c.nodes[0].Actors()[0].Names, "the holder's node keeps it too")
	require.Equal(t, svc, c.nodes[0].Actors()[0].PID)

	// Its own names it may release.
	mine := r.pid(1)
	for _, n := range c.nodes {
		r.cast(t, n.Name(), proto.KindName, registry.Claim{Name: "mine", PID: mine})
		r.cast(t, n.Name(), proto.KindUnname, proto.NameRef{Name: "mine", PID: mine})
		r.sync(t, n)
		_, err := n.Whereis(ctxT(t), "mine")
		require.ErrorIs(t, err, wasmactor.ErrNotFound)
	}
}

// rogueName returns a node name whose claim on name precedes (or not, as
// wanted) the claim of an actor of node other: which name wins a concurrent
// race is fixed by the node names.
func rogueName(t *testing.T, name, other string, precedes bool) string {
	t.Helper()
	theirs := registry.Claim{Name: name, PID: host.PID{Node: other, Incarnation: 1, Serial: 1}}
	for i := range 64 {
		node := fmt.Sprintf("rogue%d", i)
		if (registry.Claim{Name: name, PID: host.PID{Node: node, Incarnation: 1, Serial: 1}}).Precedes(theirs) == precedes {
			return node
		}
	}
	t.Fatal("no such node name among 64")
	return ""
}

// backDated is a claim as an older peer would send it, with a registration
// time (key 3) from the distant past.
func backDated(name string, pid host.PID) map[int]any {
	return map[int]any{1: name, 2: pid, 3: int64(1)}
}

// TestBackDatedClaimDoesNotTakeAName: a claim's registration time used to
// decide conflicts (the earliest won), and the claimer picks it. Now it
// counts for nothing: within the race window the tie-break of node names
// decides, and this rogue loses it.
func TestBackDatedClaimDoesNotTakeAName(t *testing.T) {
	c := newEchoCluster(t, 2)
	svc := c.echoNamed(t, 0, "svc")
	r := c.addRogue(t, rogueName(t, "svc", "n1", false), 77)

	for _, n := range c.nodes {
		r.cast(t, n.Name(), proto.KindName, backDated("svc", r.pid(1)))
		r.sync(t, n)
	}
	c.waitName(t, "svc", svc)
}

// TestEstablishedNameStaysWithTheIncumbent: once a name is established
// (announced longer ago than the race window), a peer's conflicting claim
// does not take it, even a back-dated claim of a node that would win the
// tie-break of a concurrent race. The claim waits behind the holder and
// takes the name only when the holder lets go.
func TestEstablishedNameStaysWithTheIncumbent(t *testing.T) {
	c := newEchoCluster(t, 2)
	for _, n := range c.nodes {
		host.SetNameRaceWindow(n, 0)
	}
	svc := c.echoNamed(t, 0, "svc")
	r := c.addRogue(t, rogueName(t, "svc", "n1", true), 77)

	for _, n := range c.nodes {
		r.cast(t, n.Name(), proto.KindName, backDated("svc", r.pid(1)))
		r.sync(t, n)
	}
	c.waitName(t, "svc", svc)

	// When the holder goes, the waiting claim takes the name everywhere.
	require.NoError(t, c.nodes[0].Stop(ctxT(t), svc))
	c.waitName(t, "svc", r.pid(1))
}

// TestConcurrentClaimsConvergeOnOneHolder: two nodes that cannot see each
// other register the same name; the third sees only one of them. After the
// heal every node holds the claim that precedes the other, and the loser's
// actor keeps running without the name.
func TestConcurrentClaimsConvergeOnOneHolder(t *testing.T) {
	c := newEchoCluster(t, 3)
	ctx := ctxT(t)
	c.net.Partition("n1", "n2")
	c.net.Partition("n1", "n3")
	require.Empty(t, c.nodes[0].Members())

	a, err := c.nodes[0].Spawn(ctx, "Echo", host.SpawnOptions{Node: "n1", Name: "leader"})
	require.NoError(t, err)
	b, err := c.nodes[1].Spawn(ctx, "Echo", host.SpawnOptions{Node: "n2", Name: "leader"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := c.nodes[2].Whereis(ctx, "leader")
		return err == nil && got == b
	}, 10*time.Second, time.Millisecond, "n3 sees n2's claim first")

	c.net.Heal("n1", "n2")
	c.net.Heal("n1", "n3")
	c.waitMesh(t)
	winner, loser, loserNode := a, b, c.nodes[1]
	if (registry.Claim{Name: "leader", PID: b}).Precedes(registry.Claim{Name: "leader", PID: a}) {
		winner, loser, loserNode = b, a, c.nodes[0]
	}
	c.waitName(t, "leader", winner)
	require.Eventually(t, func() bool {
		for _, info := range loserNode.Actors() {
			if info.PID == loser {
				return len(info.Names) == 0
			}
		}
		return false
	}, 10*time.Second, time.Millisecond, "the loser's node dropped the name of its actor")
	reply, err := loserNode.Call(ctx, loser, "still here")
	require.NoError(t, err, "the losing actor keeps running")
	var s string
	require.NoError(t, reply.Decode(&s))
	require.Equal(t, "still here", s)
}
