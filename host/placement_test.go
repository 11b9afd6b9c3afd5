package host_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// TestPlacementHonoursTheFactory: a spawn that names no node goes to the
// least-loaded node that can run the factory, preferring one that holds the
// module; a factory nobody can run fails before any peer is asked.
func TestPlacementHonoursTheFactory(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 && len(n3.Modules()) == 1 }, 10*time.Second, 5*time.Millisecond)

	// Every node is idle: the holder wins the tie, so nothing moves.
	pid, err := n2.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.NoError(t, err)
	require.Equal(t, "n1", pid.Node)
	require.Zero(t, n2.Pulls()+n3.Pulls(), "no transfer")

	// n1 has an actor now; of the idle n2 and n3, neither holding the
	// module, the asking node wins the tie and pulls.
	pid, err = n2.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.NoError(t, err)
	require.Equal(t, "n2", pid.Node)
	require.Equal(t, uint64(1), n2.Pulls())

	_, err = n2.Spawn(ctx, "Nope", host.SpawnOptions{})
	require.ErrorIs(t, err, wasmactor.ErrUnknownFactory)

	// A module whose only holder left cannot be placed anywhere: its
	// announcement leaves the index with its holder (peer announcements are
	// pruned), so the factory is unknown again.
	deploy(t, n3, guestbuildtest.Build(t, "testdata/guests/probe"))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 2 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, n3.Close())
	// The member list drops n3 when its session ends; the index forgets
	// n3's announcement when n2 handles the node down, a step later: wait
	// for that, the event this checks.
	require.Eventually(t, func() bool { return len(n2.Members()) == 1 && len(n2.Modules()) == 1 }, 10*time.Second, 5*time.Millisecond)
	_, err = n2.Spawn(ctx, "Probe", host.SpawnOptions{})
	require.ErrorIs(t, err, wasmactor.ErrUnknownFactory)
}

// TestDrainingNodeGetsNoPlacedSpawns: from the moment a drain of n3
// starts, and after it, a spawn that names no node lands on n1 or n2,
// whichever node places it (n3 itself included), and n3 ends with no
// actors.
func TestDrainingNodeGetsNoPlacedSpawns(t *testing.T) {
	c := newCluster(t, 3, host.Config{})
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/bench"))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 && len(n3.Modules()) == 1 }, 10*time.Second, 5*time.Millisecond)
	for range 50 {
		_, err := n1.Spawn(ctx, "Blob", host.SpawnOptions{Node: "n3", Args: 16})
		require.NoError(t, err)
	}
	spawnAnywhere := func(when string) {
		for range 10 {
			for _, n := range c.nodes {
				pid, err := n.Spawn(ctx, "Blob", host.SpawnOptions{Args: 16})
				require.NoError(t, err, when)
				require.NotEqual(t, "n3", pid.Node, "placed by %s %s", n.Name(), when)
			}
		}
	}

	drained := make(chan error, 1)
	go func() {
		_, err := n1.Drain(ctx, "n3", host.DrainOptions{Parallel: 1})
		drained <- err
	}()
	// n3 tells every member before it moves anything.
	require.Eventually(t, func() bool { return host.KnowsDraining(n1, "n3") && host.KnowsDraining(n2, "n3") }, 10*time.Second, time.Millisecond)
	spawnAnywhere("during the drain")
	require.NoError(t, <-drained)
	spawnAnywhere("after the drain")
	require.Zero(t, n3.Stats().Actors, "every actor moved, none placed")
}
