package host_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// TestProcessMigrationToAKilledTarget: the target of a migration is stopped
// and then killed -9 while the actor is on its way; the actor carries on at
// its node with its state and the messages sent meanwhile. Then it migrates
// to another node process, and its old PID keeps working.
func TestProcessMigrationToAKilledTarget(t *testing.T) {
	pc := newProcCluster(t)
	n2 := pc.start(t, "n2")
	pc.start(t, "n3")
	pc.waitMembers(t, "n2", "n3")
	ctx := ctxT(t)
	n1 := pc.n1
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	pid, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n1", Name: "survivor", Args: map[string]int{"start": 40}})
	require.NoError(t, err)

	require.NoError(t, n2.cmd.Process.Signal(syscall.SIGSTOP))
	done := make(chan error, 1)
	go func() {
		_, err := n1.Migrate(ctx, pid, "n2")
		done <- err
	}()
	// The actor is frozen, waiting for n2, once an ask of it goes unanswered.
	require.Eventually(t, func() bool {
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := n1.Call(cctx, pid, map[string]any{"op": "get"})
		return errors.Is(err, wasmactor.ErrTimeout)
	}, 10*time.Second, time.Millisecond)
	require.NoError(t, n1.Send(ctx, pid, map[string]any{"op": "inc", "by": 2})) // queued meanwhile
	require.NoError(t, n2.cmd.Process.Signal(syscall.SIGKILL))
	select {
	case err := <-done:
		require.Error(t, err)
		t.Logf("migration failed as it should: %v", err)
	case <-time.After(6 * procIdle):
		t.Fatal("the migration did not give up on a dead target")
	}
	got := getCounter(t, n1, pid)
	require.Equal(t, int64(42), got.Value, "state and the message queued meanwhile are there")
	where, err := n1.Whereis(ctx, "survivor")
	require.NoError(t, err)
	require.Equal(t, pid, where)

	// A live target takes it; the old PID works, the name follows.
	res, err := n1.Migrate(ctx, pid, "n3")
	require.NoError(t, err)
	require.Equal(t, "n3", res.New.Node)
	require.NoError(t, n1.Send(ctx, pid, map[string]any{"op": "inc", "by": 1}))
	require.Equal(t, int64(43), getCounter(t, n1, pid).Value)
	require.Eventually(t, func() bool {
		p, err := n1.Whereis(ctx, "survivor")
		return err == nil && p == res.New
	}, 10*time.Second, 10*time.Millisecond)
}
