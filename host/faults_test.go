package host_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
	"github.com/wasmactor/wasmactor/internal/transporttest"
	"github.com/wasmactor/wasmactor/transport/quic"
)

// TestOneSidedFaultHealsOnBothSides: n1 stops hearing n2 while n2 still
// hears n1. n1 reports n2 down at once; n2 learns of the fault when the
// link heals (a down, then an up). Both sides end in the same state: each
// side's monitor of the other's actor fired exactly once with
// "noconnection", and n2's name is known on n1 again.
func TestOneSidedFaultHealsOnBothSides(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n1, fixture(t, "minimal_actor.wasm"))
	a1, err := n1.Spawn(ctx, "Echo", host.SpawnOptions{Node: "n1"})
	require.NoError(t, err)
	a2, err := n1.Spawn(ctx, "Echo", host.SpawnOptions{Node: "n2", Name: "svc"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { p, err := n1.Whereis(ctx, "svc"); return err == nil && p == a2 }, time.Minute, 5*time.Millisecond)

	m1, err := n1.Monitor(ctx, a2) // n1 watches n2's actor
	require.NoError(t, err)
	m2, err := n2.Monitor(ctx, a1) // n2 watches n1's actor
	require.NoError(t, err)

	c.net.Deafen("n1", "n2")
	d := waitDown(t, m1, time.Minute)
	require.Equal(t, wasmactor.ReasonNoConnection, d.Reason)
	_, err = n1.Whereis(ctx, "svc")
	require.ErrorIs(t, err, wasmactor.ErrNotFound, "n1 dropped n2's names")
	// n2 heard nothing yet, and its PIDs are not stale on n1: n2 may be back.
	require.ErrorIs(t, n1.Send(ctx, a2, "x"), wasmactor.ErrNodeDown)

	c.net.Heal("n1", "n2")
	d = waitDown(t, m2, time.Minute)
	require.Equal(t, wasmactor.ReasonNoConnection, d.Reason, "the side that noticed nothing sees the fault too")
	require.Eventually(t, func() bool { p, err := n1.Whereis(ctx, "svc"); return err == nil && p == a2 }, time.Minute, 5*time.Millisecond,
		"n2 re-sent its names in the new session")
	r, err := n1.Call(ctx, a2, "again")
	require.NoError(t, err, "the same run of n2 is reached by its old PIDs")
	var s string
	require.NoError(t, r.Decode(&s))
	require.Equal(t, "again", s)
	select {
	case d := <-m1.C:
		t.Fatalf("a monitor fired twice: %+v", d)
	case d := <-m2.C:
		t.Fatalf("a monitor fired twice: %+v", d)
	default:
	}
}

// TestEveryRemoteMonitorFiresOnceUnderControlOverflow: with tiny transport
// queues, thousands of remote monitors and their downs overflow them. A
// monitor that could not be sent fires at once; every other fires when its
// actor dies, through the backlog. None is lost, none fires twice.
func TestEveryRemoteMonitorFiresOnceUnderControlOverflow(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	c.net.SetQueueLimit(8)
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n2, fixture(t, "minimal_actor.wasm"))
	const actors = 300
	const perActor = 10
	var pids []host.PID
	for range actors {
		p, err := n2.Spawn(ctx, "Echo", host.SpawnOptions{Node: "n2"})
		require.NoError(t, err)
		pids = append(pids, p)
	}
	var mons []*host.Monitor
	for _, p := range pids {
		for range perActor {
			m, err := n1.Monitor(ctx, p)
			require.NoError(t, err)
			mons = append(mons, m)
		}
	}
	for _, p := range pids {
		require.NoError(t, n2.Kill(ctx, p, "killed"))
	}
	reasons := map[string]int{}
	for _, m := range mons {
		d := waitDown(t, m, 2*time.Minute)
		reasons[d.Reason]++
	}
	// "killed" for a monitor in place when its actor died; "noproc" for one
	// that reached n2 after the kill (the kills do not wait for the monitor
	// casts); "noconnection" for one refused at n1 (the queue was full).
	require.Equal(t, actors*perActor, reasons["killed"]+reasons[wasmactor.ReasonNoProc]+reasons[wasmactor.ReasonNoConnection],
		"every monitor fired, for one of those reasons: %v", reasons)
	for _, m := range mons {
		select {
		case d := <-m.C:
			t.Fatalf("a monitor fired twice: %+v", d)
		default:
		}
	}
	t.Logf("downs by reason: %v", reasons)
}

// TestProcessOneSidedFaultHeals is the key case of the one above across
// real processes and real QUIC: this process (n1) stops hearing the node
// process n2 while n2 still hears n1 (UDP proxies drop one direction). n1
// reports n2 down within the idle timeout and redials; n2 learns of the
// fault through the new session. Both sides' monitors fire exactly once,
// n2's name comes back on n1, and n2's actor answers its old PID.
func TestProcessOneSidedFaultHeals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node process; skipped with -short")
	}
	dir := t.TempDir()
	cookieFile := filepath.Join(dir, "cookie")
	cookie, err := quic.LoadOrCreateCookie(cookieFile)
	require.NoError(t, err)
	real1, real2 := freeUDPAddr(t), freeUDPAddr(t)
	p1, p2 := transporttest.NewProxy(t), transporttest.NewProxy(t)
	p1.SetTarget(real1.String())
	p2.SetTarget(real2.String())
	n1 := newNode(t, host.Config{Name: "n1", Listen: real1.String(), Advertise: p1.Addr(), Cookie: cookie, IdleTimeout: procIdle})
	startProc(t, "n2", filepath.Join(dir, "n2"), cookieFile, p1.Addr(),
		"WASMACTOR_TEST_LISTEN="+real2.String(), "WASMACTOR_TEST_ADVERTISE="+p2.Addr())
	require.Eventually(t, func() bool { return len(n1.Members()) == 1 }, 30*time.Second, 20*time.Millisecond)

	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/probe"))
	local, err := n1.Spawn(ctx, "Probe", host.SpawnOptions{Node: "n1"})
	require.NoError(t, err)
	remote, err := n1.Spawn(ctx, "Probe", host.SpawnOptions{Node: "n2", Name: "svc"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { p, err := n1.Whereis(ctx, "svc"); return err == nil && p == remote }, 30*time.Second, 20*time.Millisecond)
	m1, err := n1.Monitor(ctx, remote)
	require.NoError(t, err)
	probe := func(cmd map[string]any) map[string]any {
		t.Helper()
		r, err := n1.Call(ctx, remote, cmd)
		require.NoError(t, err)
		var out map[string]any
		require.NoError(t, r.Decode(&out))
		return out
	}
	require.Empty(t, probe(map[string]any{"op": "monitor", "pid": []uint64{local.Incarnation, local.Serial}})["err"])

	// n1 stops hearing n2, whichever of the two dials carries the session.
	p1.Cut(real2.String(), transporttest.ToServer)
	p2.Cut(real1.String(), transporttest.ToClient)
	require.Equal(t, wasmactor.ReasonNoConnection, waitDown(t, m1, 5*procIdle).Reason)

	// n1 redials on a fresh path; n2 sees its session replaced.
	require.Eventually(t, func() bool { return len(n1.Members()) == 1 }, 60*time.Second, 50*time.Millisecond)
	events := probe(map[string]any{"op": "events", "n": 1})["events"].([]any)
	require.Len(t, events, 1, "n2's monitor fired exactly once: %v", events)
	ev := events[0].(map[any]any)
	require.Equal(t, "down", ev["kind"])
	require.Equal(t, wasmactor.ReasonNoConnection, ev["reason"])
	require.Eventually(t, func() bool { p, err := n1.Whereis(ctx, "svc"); return err == nil && p == remote }, 30*time.Second, 20*time.Millisecond,
		"n2 re-sent its names")
	require.Empty(t, probe(map[string]any{"op": "echo", "text": "hi"})["err"], "the same run answers its old PID")
	select {
	case d := <-m1.C:
		t.Fatalf("n1's monitor fired twice: %+v", d)
	default:
	}
}
