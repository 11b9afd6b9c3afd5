package host_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

func moduleHashes(n *host.Node) []string {
	var out []string
	for _, m := range n.Modules() {
		out = append(out, m.Hash.String())
	}
	return out
}

func TestUndeployRefusedWhileInUseThenForced(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1, n3 := c.nodes[0], c.nodes[2]
	ctx := ctxT(t)
	v1 := deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	v2 := deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/counterv2"))
	for _, n := range c.nodes {
		require.Eventually(t, func() bool { return len(n.Modules()) == 2 }, 5*time.Second, 5*time.Millisecond)
	}
	old, err := n1.Spawn(ctx, "Counter@"+v1[:8], host.SpawnOptions{Node: "n3"})
	require.NoError(t, err)
	mon, err := n1.Monitor(ctx, old)
	require.NoError(t, err)

	// In use: refused, nothing changed.
	_, err = n1.Undeploy(ctx, v1[:8], host.UndeployOptions{})
	require.ErrorIs(t, err, wasmactor.ErrInUse)
	require.ErrorContains(t, err, "n3: 1")
	require.Equal(t, int64(0), getCounter(t, n1, old).Version)
	require.Len(t, n3.Modules(), 2)

	// The newest version goes: Counter falls back to v1 on every node.
	rep, err := n1.Undeploy(ctx, "Counter@"+v2[:8], host.UndeployOptions{})
	require.NoError(t, err)
	require.Equal(t, v2, rep.Module.Hash.String())
	require.Equal(t, []host.UndeployNode{{Node: "n1"}, {Node: "n2"}, {Node: "n3"}}, rep.Nodes)
	for _, n := range c.nodes {
		require.Equal(t, []string{v1}, moduleHashes(n), "every node forgot v2")
	}
	fresh, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	require.Equal(t, int64(0), getCounter(t, n1, fresh).Version, "Counter is v1 again")
	_, err = n1.Spawn(ctx, "Counter@"+v2[:8], host.SpawnOptions{Node: "n3"})
	require.ErrorIs(t, err, wasmactor.ErrUnknownFactory)

	// Forced: its actors stop with reason "undeployed", its instances go.
	rep, err = n1.Undeploy(ctx, v1, host.UndeployOptions{Force: true})
	require.NoError(t, err)
	require.Equal(t, []host.UndeployNode{{Node: "n1"}, {Node: "n2", Stopped: 1}, {Node: "n3", Stopped: 1}}, rep.Nodes)
	require.Equal(t, host.ReasonUndeployed, waitDown(t, mon, 10*time.Second).Reason)
	for _, n := range c.nodes {
		require.Empty(t, n.Modules())
		require.Zero(t, n.Stats().Instances, "node %s freed the instances", n.Name())
	}
	_, err = n1.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.ErrorIs(t, err, wasmactor.ErrUnknownFactory)
	_, err = n1.Undeploy(ctx, v1[:8], host.UndeployOptions{})
	require.ErrorIs(t, err, wasmactor.ErrNotFound)

	// Deploying it again brings it back, everywhere.
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	for _, n := range c.nodes {
		require.Eventually(t, func() bool { return len(n.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	}
	pid, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n3"})
	require.NoError(t, err)
	require.Equal(t, int64(0), getCounter(t, n1, pid).Value)
}

// A node that was down during an undeploy deletes its copy when it comes
// back, and its announcement does not bring the module back elsewhere.
func TestUndeployTombstoneOutlivesAnAbsentNode(t *testing.T) {
	c := newCluster(t, 1, host.Config{})
	n1 := c.nodes[0]
	ctx := ctxT(t)
	dir := filepath.Join(t.TempDir(), "n2")
	startN2 := func(inc uint64) *host.Node {
		return newNode(t, host.Config{Name: "n2", DataDir: dir, Transport: c.net.NewNode("n2", inc), Join: []string{"n1"}})
	}
	n2 := startN2(2)
	c.nodes = append(c.nodes, n2)
	c.waitMesh(t)
	v1 := deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	pid, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"}) // n2 pulls and stores it
	require.NoError(t, err)
	require.NoError(t, n1.Stop(ctx, pid))

	require.NoError(t, n2.Close())
	require.Eventually(t, func() bool { return len(n1.Members()) == 0 }, 5*time.Second, 5*time.Millisecond)
	rep, err := n1.Undeploy(ctx, v1[:8], host.UndeployOptions{})
	require.NoError(t, err)
	require.Equal(t, []host.UndeployNode{{Node: "n1"}}, rep.Nodes)

	n2 = startN2(3)
	c.nodes[1] = n2
	c.waitMesh(t)
	require.Eventually(t, func() bool { return len(n2.Modules()) == 0 }, 5*time.Second, 5*time.Millisecond, "n2 learned the tombstone")
	require.Empty(t, n1.Modules(), "n2's announcement did not bring it back")
	_, err = n2.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.ErrorIs(t, err, wasmactor.ErrUnknownFactory)

	// And n2 keeps the tombstone across its own restart.
	require.NoError(t, n2.Close())
	require.Eventually(t, func() bool { return len(n1.Members()) == 0 }, 5*time.Second, 5*time.Millisecond)
	n2 = startN2(4)
	c.nodes[1] = n2
	c.waitMesh(t)
	require.Empty(t, n2.Modules())
}
