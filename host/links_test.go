package host_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// TestUnlinkLocalAndRemote: after Unlink, an abnormal stop of either actor
// leaves the other running, whichever side of the link asks, on one node or
// across two.
func TestUnlinkLocalAndRemote(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 }, 10*time.Second, 5*time.Millisecond)
	spawn := func(on string) host.PID {
		pid, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: on})
		require.NoError(t, err)
		return pid
	}
	// settled waits until n's casts to the node of dead have been handled
	// there: a monitor of dead is answered with a Down behind them.
	settled := func(n *host.Node, dead host.PID) {
		m, err := n.Monitor(ctx, dead)
		require.NoError(t, err)
		waitDown(t, m, 10*time.Second)
	}

	for _, tc := range []struct {
		name           string
		unlinkOn       *host.Node
		victimOn       string
		survivorOn     string
		unlinkReversed bool
	}{
		{"local", n1, "n1", "n1", false},
		{"local, arguments reversed", n1, "n1", "n1", true},
		{"remote victim", n1, "n2", "n1", false},
		{"remote survivor", n1, "n1", "n2", false},
		{"unlinked by the victim's node", n2, "n2", "n1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			survivor, victim := spawn(tc.survivorOn), spawn(tc.victimOn)
			require.NoError(t, n1.Link(ctx, survivor, victim))
			if tc.unlinkReversed {
				require.NoError(t, tc.unlinkOn.Unlink(ctx, victim, survivor))
			} else {
				require.NoError(t, tc.unlinkOn.Unlink(ctx, survivor, victim))
			}
			ms, err := n1.Monitor(ctx, survivor)
			require.NoError(t, err)
			mv, err := n1.Monitor(ctx, victim)
			require.NoError(t, err)
			require.NoError(t, n1.Kill(ctx, victim, "boom"))
			require.Equal(t, "boom", waitDown(t, mv, 10*time.Second).Reason)
			// Any exit signal the victim's node sent went out before this
			// monitor's Down.
			settled(n1, victim)
			if tc.survivorOn == "n2" {
				settled(n2, victim)
			}
			noDown(t, ms)
			getCounter(t, n1, survivor)
		})
	}

	t.Run("control: linked actors do die", func(t *testing.T) {
		survivor, victim := spawn("n1"), spawn("n2")
		require.NoError(t, n1.Link(ctx, survivor, victim))
		ms, err := n1.Monitor(ctx, survivor)
		require.NoError(t, err)
		require.NoError(t, n1.Kill(ctx, victim, "boom"))
		require.Equal(t, "boom", waitDown(t, ms, 10*time.Second).Reason)
	})

	t.Run("errors", func(t *testing.T) {
		x, y := spawn("n1"), spawn("n2")
		require.NoError(t, n1.Unlink(ctx, x, y), "not linked")
		dead := spawn("n1")
		require.NoError(t, n1.Kill(ctx, dead, ""))
		require.NoError(t, n1.Unlink(ctx, x, dead), "dead")
		require.ErrorIs(t, n1.Unlink(ctx, y, y), wasmactor.ErrBadArgument, "neither is on n1")
		require.ErrorIs(t, n1.Unlink(ctx, x, host.PID{Node: "n2"}), wasmactor.ErrBadPID)
	})
}

func TestIsLocal(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	here, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n1"})
	require.NoError(t, err)
	there, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	require.True(t, n1.IsLocal(here))
	require.False(t, n1.IsLocal(there))
	require.True(t, n2.IsLocal(there))
	require.False(t, n2.IsLocal(here))
	// The text form has no incarnation: the Go API reads 0 as "current".
	parsed, err := wasmactor.ParsePID(here.String())
	require.NoError(t, err)
	require.True(t, n1.IsLocal(parsed))
	// A PID of an earlier run of n1 names nothing here.
	require.False(t, n1.IsLocal(host.PID{Node: "n1", Incarnation: n1.Incarnation() + 1, Serial: here.Serial}))
}
