package host_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/proto"
)

// TestFailedDrainLeavesNodeInPlacementAndUndrain: a drain with nowhere to
// move (the only member drains too) fails before it marks or announces
// anything, so the node stays in placement; and Undrain, asked of any
// node, puts a drained node back, here and on every member.
func TestFailedDrainLeavesNodeInPlacementAndUndrain(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)

	_, err := n1.Drain(ctx, "n2", host.DrainOptions{})
	require.NoError(t, err, "n2 has nothing to move; it drains")
	require.True(t, host.Drains(n2))
	require.True(t, host.KnowsDraining(n1, "n2"), "n2 told n1 before its drain returned")

	_, err = n1.Drain(ctx, "", host.DrainOptions{})
	require.ErrorIs(t, err, wasmactor.ErrModuleUnavailable, "n1's only member drains")
	require.False(t, host.Drains(n1), "a drain that moved nothing leaves n1 in placement")
	require.False(t, host.KnowsDraining(n2, "n1"), "and told no one it drains")

	require.NoError(t, n1.Undrain(ctx, "n2"))
	require.False(t, host.Drains(n2))
	require.False(t, host.KnowsDraining(n1, "n2"), "n2 told n1 before its undrain returned")
	require.NoError(t, n2.Undrain(ctx, ""), "undraining a node that does not drain does nothing")
}

// TestDrainMarkIsPerRunAndSyncClearsIt: a member's sync that says it no
// longer drains clears the mark (a sync used only to set it), and a mark
// for an earlier run of the member (a load refresh that started before it
// restarted) does not keep its new run out of placement.
func TestDrainMarkIsPerRunAndSyncClearsIt(t *testing.T) {
	c := newCluster(t, 1, host.Config{})
	n1 := c.nodes[0]
	r := c.addRogue(t, "r", 7)

	r.cast(t, "n1", proto.KindSync, proto.Sync{Draining: true})
	r.sync(t, n1)
	require.True(t, host.KnowsDraining(n1, "r"))
	r.cast(t, "n1", proto.KindSync, proto.Sync{Draining: false})
	r.sync(t, n1)
	require.False(t, host.KnowsDraining(n1, "r"), "the sync of a run that no longer drains")

	host.MarkDrainingRun(n1, "r", 6) // late news of r's previous run
	require.False(t, host.KnowsDraining(n1, "r"), "a mark of another run of r")
	host.MarkDrainingRun(n1, "r", 7)
	require.True(t, host.KnowsDraining(n1, "r"))
}
