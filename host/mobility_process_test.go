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
	"github.com/wasmactor/wasmactor/internal/proto"
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

// TestProcessUpgradeMigrateDrain: node processes n2 and n3 (and this
// process as n1): a counter upgraded in place through the client requests
// the CLI makes, a sequence-checking actor migrated back and forth between
// the processes while n1 floods it, then n3 drained and stopped, and every
// actor still answers by its first PID.
func TestProcessUpgradeMigrateDrain(t *testing.T) {
	pc := newProcCluster(t)
	n2 := pc.start(t, "n2")
	n3 := pc.start(t, "n3")
	pc.waitMembers(t, "n2", "n3")
	ctx := ctxT(t)
	n1 := pc.n1
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	counter, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2", Name: "c", Args: map[string]int{"start": 1}})
	require.NoError(t, err)
	v2 := deploy(t, n1, guestbuildtest.Build(t, "examples/counter/v2"))
	c3 := client(t, n3.addr, pc.cookie)
	var up proto.UpgradeReply
	require.Eventually(t, func() bool { // the name reaches n3, and n2 hears of v2
		return rpc(t, c3, proto.KindUpgradeCLI, proto.Upgrade{Target: "c"}, &up) == nil
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, v2, up.To.String())
	require.Equal(t, counter, up.PID)
	var v struct {
		Value   int64 `cbor:"value"`
		Version int64 `cbor:"version"`
	}
	r, err := n1.Call(ctx, counter, map[string]any{"op": "get"})
	require.NoError(t, err)
	require.NoError(t, r.Decode(&v))
	require.Equal(t, int64(1), v.Value)
	require.Equal(t, int64(2), v.Version)

	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/bench"))
	check, err := n1.Spawn(ctx, "SeqCheck", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	send, err := n1.Spawn(ctx, "SeqSend", host.SpawnOptions{Node: "n1"})
	require.NoError(t, err)
	const per, moves = 50, 10
	stop := make(chan struct{})
	flood := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				flood <- nil
				return
			default:
			}
			if err := n1.Send(ctx, send, []any{abiPID(check), 1, per}); err != nil {
				flood <- err
				return
			}
			for seqOf(t, n1, send).Sent > seqOf(t, n1, check).Received+10*per {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for i := range moves {
		_, err := n1.Migrate(ctx, check, []string{"n3", "n2"}[i%2])
		require.NoError(t, err, "move %d", i)
	}
	close(stop)
	require.NoError(t, <-flood)
	sent := seqOf(t, n1, send).Sent
	require.Eventually(t, func() bool { return seqOf(t, n1, check).Received == sent }, 30*time.Second, 10*time.Millisecond)
	s := seqOf(t, n1, check)
	require.Zero(t, s.Gaps+s.Dups+s.Reorders, "%+v", s)

	// Drain n3 (the counter goes there first), stop it: all still answer.
	_, err = n1.Migrate(ctx, counter, "n3")
	require.NoError(t, err)
	var drained proto.DrainReply
	require.NoError(t, rpc(t, client(t, n2.addr, pc.cookie), proto.KindDrainCLI, proto.Drain{Node: "n3"}, &drained))
	require.Empty(t, drained.Left)
	require.NotEmpty(t, drained.Moved)
	require.NoError(t, n3.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, n3.cmd.Wait())
	pc.waitMembers(t, "n2")
	r, err = n1.Call(ctx, counter, map[string]any{"op": "get"})
	require.NoError(t, err)
	require.NoError(t, r.Decode(&v))
	require.Equal(t, int64(1), v.Value)
	require.Equal(t, sent, seqOf(t, n1, check).Received)
}
