package host_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// eventually polls cond until it holds, failing the test after d. It is a
// bounded wait for a state the node reaches on its own (an instance closed
// after its last turn), never a way to order events.
func eventually(t testing.TB, d time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for wait := time.Millisecond; !cond(); wait = min(2*wait, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: "+format, append([]any{d}, args...)...)
		}
		time.Sleep(wait)
	}
}

// allStacks is every goroutine's stack, for failures that are about them.
func allStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// checkGoroutines fails the test if, once its cleanups have run (call it
// before newNode, so the node's Close runs first), more goroutines are left
// than when it was called. Goroutines end a little after Close returns
// (timers' and wazero's), so it polls with a deadline.
func checkGoroutines(t testing.TB) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(30 * time.Second)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				t.Errorf("goroutines: %d after Close, %d before the node started\n%s", runtime.NumGoroutine(), base, allStacks())
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// heapAlloc is the live Go heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

const mib = 1 << 20

// compileTimeout is for the first compile of a Go guest no other test
// compiles, before the compilation cache has it: about 30 s under the race
// detector on an idle machine, more on a loaded one.
const compileTimeout = 5 * time.Minute

// stopChildren stops churn Children in turn in four ways (Node.Stop, Kill
// with an abnormal reason, the actor stopping itself, Kill "normal") and
// waits until each is dead.
func stopChildren(t testing.TB, n *host.Node, pids []host.PID) {
	t.Helper()
	ctx := ctxT(t)
	for i, pid := range pids {
		mon, err := n.Monitor(ctx, pid)
		require.NoError(t, err)
		switch i % 4 {
		case 0:
			require.NoError(t, n.Stop(ctx, pid))
		case 1:
			require.NoError(t, n.Kill(ctx, pid, "boom"))
		case 2:
			require.NoError(t, n.Send(ctx, pid, "stop"))
		case 3:
			require.NoError(t, n.Kill(ctx, pid, wasmactor.ReasonNormal))
		}
		waitDown(t, mon, 20*time.Second)
	}
}

// TestIsolatedInstanceReleasedOnEveryStop stops an isolated actor in every
// way an actor can stop and checks that its instance goes with it, while a
// supervised one keeps exactly one instance across its restarts.
func TestIsolatedInstanceReleasedOnEveryStop(t *testing.T) {
	checkGoroutines(t)
	n := newNode(t, host.Config{InstancesPerModule: 1})
	deploy(t, n, guestbuildtest.Build(t, "examples/crasher"))
	ctx := ctxT(t)

	spawn := func(opts host.SpawnOptions) host.PID {
		t.Helper()
		opts.Isolated = true
		pid, err := n.Spawn(ctx, "Worker", opts)
		require.NoError(t, err)
		_, err = n.Call(ctx, pid, map[string]any{"op": "ping"})
		require.NoError(t, err)
		return pid
	}
	released := func(how string) {
		t.Helper()
		eventually(t, 20*time.Second, func() bool {
			st := n.Stats()
			return st.Instances == 0 && st.GuestMemory == 0
		}, "%s: the isolated instance is still there: %+v", how, n.Stats())
	}
	stopped := func(pid host.PID, how string, stop func()) {
		t.Helper()
		mon, err := n.Monitor(ctx, pid)
		require.NoError(t, err)
		stop()
		waitDown(t, mon, 20*time.Second)
		released(how)
	}

	pid := spawn(host.SpawnOptions{})
	stopped(pid, "Node.Stop", func() { require.NoError(t, n.Stop(ctx, pid)) })
	pid = spawn(host.SpawnOptions{})
	stopped(pid, "Node.Kill", func() { require.NoError(t, n.Kill(ctx, pid, "")) })
	pid = spawn(host.SpawnOptions{})
	stopped(pid, "self-stop", func() { require.NoError(t, n.Send(ctx, pid, map[string]any{"op": "exit"})) })
	pid = spawn(host.SpawnOptions{})
	stopped(pid, "crash", func() { require.NoError(t, n.Send(ctx, pid, map[string]any{"op": "crash"})) })

	a, b := spawn(host.SpawnOptions{}), spawn(host.SpawnOptions{})
	require.Equal(t, 2, n.Stats().Instances)
	require.NoError(t, n.Link(ctx, a, b))
	stopped(b, "link exit", func() { require.NoError(t, n.Kill(ctx, a, "boom")) })

	// A supervised actor keeps one instance across restarts, whether it
	// is restarted in its instance (killed) or in a new one (crashed), and
	// gives it back when it stops for good.
	sup := spawn(host.SpawnOptions{Restart: wasmactor.Restart{Policy: wasmactor.Permanent, MaxRestarts: 10, Period: time.Minute}})
	for i, how := range []string{"kill", "crash", "exit", "kill"} {
		switch how {
		case "kill":
			require.NoError(t, n.Kill(ctx, sup, "boom"))
		default:
			require.NoError(t, n.Send(ctx, sup, map[string]any{"op": how}))
		}
		eventually(t, 20*time.Second, func() bool { return n.Stats().Restarts == uint64(i+1) }, "restart %d (%s)", i+1, how)
		_, err := n.Call(ctx, sup, map[string]any{"op": "ping"})
		require.NoError(t, err, "after %s", how)
		require.Equal(t, 1, n.Stats().Instances, "after %s", how)
	}
	stopped(sup, "Node.Stop after restarts", func() { require.NoError(t, n.Stop(ctx, sup)) })
}

// TestDeadActorsLeaveNoRecords gives actors every record the host keeps for
// an actor (pending asks, timers holding 256 KiB each, monitors, links,
// names), stops them in different ways, and checks that nothing they held
// is left: not in the node's tables, not on the live actors they watched or
// linked, not on the Go heap.
func TestDeadActorsLeaveNoRecords(t *testing.T) {
	checkGoroutines(t)
	n := newNode(t, host.Config{CompileTimeout: compileTimeout})
	deploy(t, n, guestbuildtest.Build(t, "testdata/guests/churn"))
	ctx := ctxT(t)

	mute, err := n.Spawn(ctx, "Mute", host.SpawnOptions{})
	require.NoError(t, err)
	anchor, err := n.Spawn(ctx, "Child", host.SpawnOptions{Args: map[string]any{"trap": true}})
	require.NoError(t, err)
	_, err = n.Call(ctx, anchor, "ping")
	require.NoError(t, err)
	before := host.Records(n)
	heap := heapAlloc()

	const children, asks, timers, size = 64, 4, 4, 256 << 10
	pids := make([]host.PID, children)
	for i := range pids {
		pids[i], err = n.Spawn(ctx, "Child", host.SpawnOptions{Isolated: i%8 == 0, Args: map[string]any{
			"name": fmt.Sprintf("child-%d", i), "asks": asks, "mute": []uint64{n.Incarnation(), mute.Serial},
			"timers": timers, "size": size,
			"watch": []uint64{n.Incarnation(), anchor.Serial}, "link": []uint64{n.Incarnation(), anchor.Serial},
		}})
		require.NoError(t, err)
	}
	for _, pid := range pids {
		_, err := n.Call(ctx, pid, "ping") // Init has run
		require.NoError(t, err)
	}
	held := host.Records(n)
	t.Logf("records held by %d children: %v; heap +%d MiB", children, held, (int64(heapAlloc())-int64(heap))/mib)
	require.Equal(t, before["asks"]+children*asks, held["asks"])
	require.Equal(t, before["names"]+children, held["names"])
	require.Equal(t, before["timers"]+children*timers, held["timers"])

	stopChildren(t, n, pids) // the anchor traps the abnormal exits

	_, err = n.Call(ctx, anchor, "ping") // the anchor lives on
	require.NoError(t, err)
	after := host.Records(n)
	require.Equal(t, before, after, "records of dead actors are left")
	grown := int64(heapAlloc()) - int64(heap)
	t.Logf("heap after the children died: %+d MiB (they held %d MiB in timers)", grown/mib, children*timers*size/mib)
	require.Less(t, grown, int64(16*mib), "the heap keeps what dead actors held")
}

// TestDeadActorsLeaveNoRemoteRecords is the cluster side of
// TestDeadActorsLeaveNoRecords: actors that monitor and link an actor on
// another node die, and neither node keeps a record of those monitors and
// links (the watcher's cluster.rwatch and rlinks, the target's watchers and
// rlinks).
func TestDeadActorsLeaveNoRemoteRecords(t *testing.T) {
	checkGoroutines(t)
	c := newCluster(t, 2, host.Config{CompileTimeout: compileTimeout})
	n1, n2 := c.nodes[0], c.nodes[1]
	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/churn"))
	ctx := ctxT(t)

	anchor, err := n1.Spawn(ctx, "Child", host.SpawnOptions{Node: "n2", Args: map[string]any{"trap": true}})
	require.NoError(t, err)
	_, err = n2.Call(ctx, anchor, "ping")
	require.NoError(t, err)
	before1, before2 := host.Records(n1), host.Records(n2)

	const children = 32
	remote := []uint64{anchor.Incarnation, anchor.Serial}
	pids := make([]host.PID, children)
	for i := range pids {
		pids[i], err = n1.Spawn(ctx, "Child", host.SpawnOptions{Node: "n1", Isolated: i%8 == 0,
			Args: map[string]any{"watch": remote, "link": remote}})
		require.NoError(t, err)
	}
	for _, pid := range pids {
		_, err := n1.Call(ctx, pid, "ping")
		require.NoError(t, err)
	}
	eventually(t, 20*time.Second, func() bool {
		r := host.Records(n2)
		return r["watchers"] == before2["watchers"]+children && r["rlinks"] == before2["rlinks"]+children
	}, "the anchor's node records the monitors and links: %v", host.Records(n2))
	held := host.Records(n1)
	t.Logf("held: %v on the children's node, %v on the anchor's", held, host.Records(n2))
	require.Equal(t, before1["rwatch"]+children, held["rwatch"])

	stopChildren(t, n1, pids)
	require.Equal(t, before1, host.Records(n1), "the dead actors' node keeps records")
	eventually(t, 20*time.Second, func() bool {
		r := host.Records(n2)
		return r["watchers"] == before2["watchers"] && r["rlinks"] == before2["rlinks"]
	}, "the anchor's node keeps records of dead actors: %v, before %v", host.Records(n2), before2)
	_, err = n2.Call(ctx, anchor, "ping")
	require.NoError(t, err)
}

// spawnRetrying spawns, waiting while a limit refuses: a stopped isolated
// actor's instance counts against Limits.IsolatedInstances and GuestMemory
// until it has closed, after its actor's last turn, and a loop of spawns
// and stops outruns the workers that close them.
func spawnRetrying(ctx context.Context, n *host.Node, factory string, opts host.SpawnOptions) (host.PID, error) {
	for {
		pid, err := n.Spawn(ctx, factory, opts)
		if !errors.Is(err, wasmactor.ErrLimit) || ctx.Err() != nil {
			return pid, err
		}
		runtime.Gosched()
	}
}

// TestSpawnStopCyclesReturnResources spawns and stops 2,000 isolated and
// 200,000 shared actors and checks that the node gives back what they took.
//
// Isolated actors each have an instance: instances, guest memory, the Go
// heap and goroutines return to their level before the cycles, for the
// hand-written Echo (2,000 cycles) and for Go guests (64 cycles, about 3 MiB
// of guest memory each).
//
// Shared instances are different: WASM linear memory never shrinks, so an
// instance keeps the memory its busiest moment needed, and a Go guest's
// heap settles only after a few cycles (its GC paces itself). So the shared
// actors go in four identical cycles of 50,000 through a pool of two
// instances: the instance count stays at the pool size, and the last cycle
// grows neither guest memory nor the Go heap (a per-actor leak would grow
// both every cycle).
func TestSpawnStopCyclesReturnResources(t *testing.T) {
	const (
		isolated   = 2000
		isolatedGo = 64
		cycles     = 4
		perCycle   = 50_000
		batch      = 10_000
		pool       = 2
		slack      = 8 * mib // the heap's noise between two measurements
	)
	checkGoroutines(t)
	n := newNode(t, host.Config{InstancesPerModule: pool, CompileTimeout: compileTimeout})
	deploy(t, n, fixture(t, "minimal_actor.wasm"))
	deploy(t, n, guestbuildtest.Build(t, "testdata/guests/churn"))
	ctx := ctxT(t)

	// Isolated: every cycle instantiates the module and must close it.
	isolatedCycles := func(factory string, count int) {
		t.Helper()
		base, heap, goroutines := n.Stats(), heapAlloc(), runtime.NumGoroutine()
		for i := range count {
			pid, err := spawnRetrying(ctx, n, factory, host.SpawnOptions{Isolated: true})
			require.NoError(t, err)
			if i%2 == 0 {
				require.NoError(t, n.Stop(ctx, pid))
			} else {
				require.NoError(t, n.Kill(ctx, pid, ""))
			}
		}
		eventually(t, time.Minute, func() bool { return n.Stats().Instances == base.Instances },
			"%s: instances: %d, before %d", factory, n.Stats().Instances, base.Instances)
		st := n.Stats()
		grown := int64(heapAlloc()) - int64(heap)
		t.Logf("%d isolated %s cycles: instances %d → %d, guest memory %d → %d KiB, heap %+d KiB, goroutines %d → %d",
			count, factory, base.Instances, st.Instances, base.GuestMemory>>10, st.GuestMemory>>10, grown>>10, goroutines, runtime.NumGoroutine())
		require.Equal(t, base.GuestMemory, st.GuestMemory, factory)
		require.Zero(t, st.Actors, factory)
		require.Less(t, grown, int64(slack), factory)
		eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= goroutines },
			"%s: goroutines: %d, before %d", factory, runtime.NumGoroutine(), goroutines)
	}
	isolatedCycles("Echo", isolated)
	isolatedCycles("Child", isolatedGo)

	// Shared: Go guests in a pool of two instances.
	cycle := func() {
		t.Helper()
		pids := make([]host.PID, 0, batch)
		for range perCycle / batch {
			pids = pids[:0]
			for range batch {
				pid, err := n.Spawn(ctx, "Child", host.SpawnOptions{})
				require.NoError(t, err)
				pids = append(pids, pid)
			}
			require.Equal(t, pool, n.Stats().Instances)
			for _, pid := range pids {
				require.NoError(t, n.Stop(ctx, pid))
			}
		}
		// One ask through each pool instance: system records (the STOPs)
		// go first, so once it is answered the guests have dropped every
		// stopped actor.
		var probes []host.PID
		for range pool {
			pid, err := n.Spawn(ctx, "Child", host.SpawnOptions{})
			require.NoError(t, err)
			probes = append(probes, pid)
		}
		seen := map[uint64]bool{}
		for _, a := range n.Actors() {
			seen[a.Instance] = true
		}
		require.Len(t, seen, pool, "one probe per instance")
		for _, pid := range probes {
			_, err := n.Call(ctx, pid, "ping")
			require.NoError(t, err)
			require.NoError(t, n.Stop(ctx, pid))
		}
	}
	var mem []uint64
	var heaps []uint64
	for range cycles {
		cycle()
		st := n.Stats()
		require.Equal(t, pool, st.Instances)
		require.Zero(t, st.Actors)
		mem, heaps = append(mem, st.GuestMemory>>10), append(heaps, heapAlloc()>>10)
	}
	t.Logf("%d shared cycles of %d: guest memory %v KiB, heap %v KiB", cycles, perCycle, mem, heaps)
	require.Equal(t, mem[cycles-2], mem[cycles-1], "the last identical cycle grew guest memory")
	require.Less(t, int64(heaps[cycles-1])-int64(heaps[cycles-2]), int64(slack>>10), "the last identical cycle grew the heap")
}
