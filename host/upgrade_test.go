package host_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// variant returns wasm with a custom section appended: another module (its
// own hash) with the same code, for upgrading an actor to "a new version"
// of a guest that has only one.
func variant(wasm []byte, name string) []byte {
	payload := append([]byte{byte(len(name))}, name...)
	payload = append(payload, "a variant for tests"...)
	out := bytes.Clone(wasm)
	out = append(out, 0) // custom section
	for n := len(payload); ; n >>= 7 {
		if n < 0x80 {
			out = append(out, byte(n))
			break
		}
		out = append(out, byte(n&0x7f|0x80))
	}
	return append(out, payload...)
}

type counterV2Reply struct {
	Value    int64 `cbor:"value"`
	Version  int64 `cbor:"version"`
	Restores int64 `cbor:"restores"`
}

func getV2(t testing.TB, n *host.Node, pid host.PID) counterV2Reply {
	t.Helper()
	r, err := n.Call(ctxT(t), pid, map[string]any{"op": "get"})
	require.NoError(t, err)
	var v counterV2Reply
	require.NoError(t, r.Decode(&v))
	return v
}

func TestUpgradeKeepsStatePIDNamesMonitorsAndLinks(t *testing.T) {
	n := newNode(t, host.Config{})
	ctx := ctxT(t)
	v1 := deploy(t, n, guestbuildtest.Build(t, "examples/counter"))
	pid, err := n.Spawn(ctx, "Counter", host.SpawnOptions{Name: "counter", Args: map[string]int{"start": 40}})
	require.NoError(t, err)
	partner, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.NoError(t, err)
	require.NoError(t, n.Link(ctx, pid, partner))
	require.NoError(t, n.JoinGroup(ctx, "counters", pid))
	mon, err := n.Monitor(ctx, pid)
	require.NoError(t, err)
	require.NoError(t, n.Send(ctx, pid, map[string]any{"op": "inc", "by": 2}))

	v2 := deploy(t, n, guestbuildtest.Build(t, "testdata/guests/counterv2"))
	res, err := n.Upgrade(ctx, pid, "")
	require.NoError(t, err)
	require.Equal(t, pid, res.PID)
	require.Equal(t, "Counter", res.Factory)
	require.Equal(t, v1, res.From.String())
	require.Equal(t, v2, res.To.String())
	require.False(t, res.Current)
	require.Positive(t, res.StateBytes)

	got := getV2(t, n, pid)
	require.Equal(t, counterV2Reply{Value: 42, Version: 2, Restores: 1}, got, "the new version runs with the old one's count")
	where, err := n.Whereis(ctx, "counter")
	require.NoError(t, err)
	require.Equal(t, pid, where)
	members, err := n.GroupMembers(ctx, "counters")
	require.NoError(t, err)
	require.Equal(t, []host.PID{pid}, members)
	noDown(t, mon)
	for _, a := range n.Actors() {
		if a.PID == pid {
			require.Equal(t, v2, a.Module, "listings show the new module")
		}
	}

	// Upgrading again to the same version does nothing; pinning the old
	// one goes back (v2 writes version 2, which v1 reads as its own bytes
	// and refuses: the actor stays in v2).
	res, err = n.Upgrade(ctx, pid, "Counter@"+v2[:8])
	require.NoError(t, err)
	require.True(t, res.Current)
	_, err = n.Upgrade(ctx, pid, v1[:8])
	require.ErrorIs(t, err, wasmactor.ErrRestoreFailed)
	require.Equal(t, counterV2Reply{Value: 42, Version: 2, Restores: 1}, getV2(t, n, pid))
	_, err = n.Upgrade(ctx, pid, "Plain@"+v2[:8])
	require.ErrorIs(t, err, wasmactor.ErrBadArgument, "an upgrade keeps the factory")

	// The link survived: the partner's abnormal death takes the actor
	// down, and the monitor placed before the upgrade fires once.
	require.NoError(t, n.Kill(ctx, partner, "boom"))
	require.Equal(t, host.Down{PID: pid, Reason: "boom"}, waitDown(t, mon, 10*time.Second))
	_, err = n.Whereis(ctx, "counter")
	require.ErrorIs(t, err, wasmactor.ErrNotFound)
}

func TestUpgradeRefusalsLeaveTheActorUntouched(t *testing.T) {
	n := newNode(t, host.Config{})
	ctx := ctxT(t)
	v1 := deploy(t, n, guestbuildtest.Build(t, "examples/counter"))
	v2 := deploy(t, n, guestbuildtest.Build(t, "testdata/guests/counterv2"))
	bad := deploy(t, n, guestbuildtest.Build(t, "testdata/guests/badrestore"))

	// Restore refuses: the actor carries on in v1 with its count, and
	// messages sent meanwhile are all there.
	pid, err := n.Spawn(ctx, "Counter@"+v1[:8], host.SpawnOptions{Args: map[string]int{"start": 7}})
	require.NoError(t, err)
	for range 100 {
		require.NoError(t, n.Send(ctx, pid, map[string]any{"op": "inc"}))
	}
	_, err = n.Upgrade(ctx, pid, "")
	require.ErrorIs(t, err, wasmactor.ErrRestoreFailed)
	require.ErrorContains(t, err, "badrestore refuses every snapshot")
	require.Equal(t, counterReply{Value: 107}, getCounter(t, n, pid))

	// Restore panics: the same, and the new version's instance lives on.
	unlucky, err := n.Spawn(ctx, "Counter@"+v1[:8], host.SpawnOptions{Args: map[string]int{"start": 13}})
	require.NoError(t, err)
	_, err = n.Upgrade(ctx, unlucky, bad[:8])
	require.ErrorIs(t, err, wasmactor.ErrRestoreFailed)
	require.ErrorContains(t, err, "panic in Restore: unlucky snapshot")
	require.Equal(t, counterReply{Value: 13}, getCounter(t, n, unlucky))
	require.Zero(t, n.Stats().InstanceCrashes)

	// A factory without snapshots is refused as such; a Snapshot that
	// fails as such (with the guest's reason); a dead actor is no actor.
	plain, err := n.Spawn(ctx, "Plain@"+v2[:8], host.SpawnOptions{})
	require.NoError(t, err)
	_, err = n.Upgrade(ctx, plain, "")
	require.ErrorIs(t, err, wasmactor.ErrCannotSnapshot)
	require.ErrorContains(t, err, "does not implement snapshots")
	nosnap, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.NoError(t, err)
	_, err = n.Upgrade(ctx, nosnap, v2[:8])
	require.ErrorIs(t, err, wasmactor.ErrSnapshotFailed)
	require.ErrorContains(t, err, "badrestore keeps no state")
	require.NoError(t, n.Stop(ctx, plain))
	_, err = n.Upgrade(ctx, plain, "")
	require.ErrorIs(t, err, wasmactor.ErrNoProc)
	_, err = n.Upgrade(ctx, pid, "Counter@ffffffff")
	require.ErrorIs(t, err, wasmactor.ErrUnknownFactory)
}

type seqStatsR struct {
	seqStats
	Restores uint64 `cbor:"restores"`
}

// A sequence-checking actor is upgraded back and forth while a sender
// floods it: nothing is lost, duplicated or reordered, every upgrade counts.
func TestUpgradeUnderLoadKeepsOrder(t *testing.T) {
	n := newNode(t, host.Config{MailboxSize: 1 << 16})
	ctx := ctxT(t)
	wasm := guestbuildtest.Build(t, "testdata/guests/bench")
	a := deploy(t, n, wasm)
	b := deploy(t, n, variant(wasm, "b"))
	check, err := n.Spawn(ctx, "SeqCheck@"+a[:8], host.SpawnOptions{})
	require.NoError(t, err)
	send, err := n.Spawn(ctx, "SeqSend@"+a[:8], host.SpawnOptions{})
	require.NoError(t, err)

	const rounds, per, upgrades = 40, 100, 20
	var wg sync.WaitGroup
	wg.Go(func() {
		for range rounds {
			if err := n.Send(ctx, send, []any{abiPID(check), 1, per}); err != nil {
				panic(err)
			}
		}
	})
	for i := range upgrades {
		to := []string{b, a}[i%2]
		res, err := n.Upgrade(ctx, check, to[:8])
		require.NoError(t, err)
		require.Equal(t, to, res.To.String())
	}
	wg.Wait()
	require.Eventually(t, func() bool { return seqOf(t, n, check).Received == rounds*per }, 30*time.Second, 5*time.Millisecond)
	var s seqStatsR
	r, err := n.Call(ctx, check, "stats")
	require.NoError(t, err)
	require.NoError(t, r.Decode(&s))
	require.Zero(t, s.Gaps)
	require.Zero(t, s.Dups)
	require.Zero(t, s.Reorders)
	require.Equal(t, uint64(upgrades), s.Restores)
	require.Zero(t, seqOf(t, n, send).Failed)
}

// An isolated actor stays isolated in the new version: it gets an
// instance of its own, and its old one is closed.
func TestUpgradeIsolatedActor(t *testing.T) {
	n := newNode(t, host.Config{})
	ctx := ctxT(t)
	deploy(t, n, guestbuildtest.Build(t, "examples/counter"))
	pid, err := n.Spawn(ctx, "Counter", host.SpawnOptions{Isolated: true, Args: map[string]int{"start": 5}})
	require.NoError(t, err)
	require.Equal(t, 1, n.Stats().Instances)
	deploy(t, n, guestbuildtest.Build(t, "testdata/guests/counterv2"))
	_, err = n.Upgrade(ctx, pid, "")
	require.NoError(t, err)
	require.Equal(t, int64(5), getV2(t, n, pid).Value)
	require.Equal(t, 1, n.Stats().Instances, "the old instance is gone")
}

func TestUpgradeFactoryRolls(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1 := c.nodes[0]
	ctx := ctxT(t)
	v1 := deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	var pids []host.PID
	for i := range 6 {
		pid, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: fmt.Sprintf("n%d", i%2+1), Args: map[string]int{"start": i}})
		require.NoError(t, err)
		pids = append(pids, pid)
	}
	v2 := deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/counterv2"))
	require.Eventually(t, func() bool { return len(c.nodes[1].Modules()) == 2 }, 5*time.Second, 5*time.Millisecond)
	_, err := n1.Upgrade(ctx, pids[0], "") // one already current
	require.NoError(t, err)

	var mu sync.Mutex
	var seen []host.PID
	rep, err := n1.UpgradeFactory(ctx, "Counter", "", host.RollingOptions{Parallel: 3, Progress: func(r host.UpgradeResult, err error) {
		require.NoError(t, err)
		mu.Lock()
		seen = append(seen, r.PID)
		mu.Unlock()
	}})
	require.NoError(t, err)
	require.Equal(t, host.RollingReport{To: "Counter@" + v2, Upgraded: 5, Current: 1}, rep)
	require.ElementsMatch(t, pids, seen)
	for i, pid := range pids {
		require.Equal(t, counterV2Reply{Value: int64(i), Version: 2, Restores: 1}, getV2(t, n1, pid))
	}

	// Back to v1 refuses (v1 cannot read v2's snapshot): the first failure
	// stops the roll unless told to go on.
	rep, err = n1.UpgradeFactory(ctx, "Counter", v1[:8], host.RollingOptions{})
	require.ErrorIs(t, err, wasmactor.ErrRestoreFailed)
	require.Equal(t, 1, rep.Failed)
	require.Equal(t, 5, rep.NotTried)
	rep, err = n1.UpgradeFactory(ctx, "Counter", v1[:8], host.RollingOptions{KeepGoing: true, Parallel: 2})
	require.ErrorIs(t, err, wasmactor.ErrRestoreFailed)
	require.Equal(t, 6, rep.Failed)
	require.Zero(t, rep.NotTried)
}
