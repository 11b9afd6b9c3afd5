package host_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

func TestSpawnTellAsk(t *testing.T) {
	n := newNode(t, host.Config{})
	deploy(t, n, guestbuildtest.Build(t, "examples/counter"))
	ctx := ctxT(t)

	pid, err := n.Spawn(ctx, "Counter", host.SpawnOptions{Args: map[string]int{"start": 5}})
	require.NoError(t, err)
	require.Equal(t, n.Name(), pid.Node)
	require.NoError(t, n.Send(ctx, pid, map[string]any{"op": "inc", "by": 2}))
	require.NoError(t, n.Send(ctx, pid, map[string]any{"op": "inc", "by": 3}))
	require.Equal(t, int64(10), getCounter(t, n, pid).Value)

	_, err = n.Spawn(ctx, "NoSuchFactory", host.SpawnOptions{})
	require.ErrorIs(t, err, wasmactor.ErrUnknownFactory)
	require.ErrorIs(t, n.Send(ctx, host.PID{Node: n.Name(), Incarnation: n.Incarnation(), Serial: 999999}, 1), wasmactor.ErrNoProc)
	require.ErrorIs(t, n.Send(ctx, host.PID{Node: n.Name(), Incarnation: n.Incarnation() + 1, Serial: pid.Serial}, 1), wasmactor.ErrStaleIncarnation)
	require.ErrorIs(t, n.Send(ctx, host.PID{Node: n.Name(), Serial: pid.Serial}, 1), wasmactor.ErrBadPID, "no incarnation is not the current one")
}

func TestManyActorsShareOneInstance(t *testing.T) {
	n := newNode(t, host.Config{InstancesPerModule: 1})
	deploy(t, n, guestbuildtest.Build(t, "examples/counter"))
	ctx := ctxT(t)
	const actors = 300
	pids := make([]host.PID, actors)
	for i := range pids {
		var err error
		pids[i], err = n.Spawn(ctx, "Counter", host.SpawnOptions{})
		require.NoError(t, err)
		require.NoError(t, n.Send(ctx, pids[i], map[string]any{"op": "inc", "by": i}))
	}
	for i, pid := range pids {
		require.Equal(t, int64(i), getCounter(t, n, pid).Value, "actor %d", i)
	}
	st := n.Stats()
	require.Equal(t, 1, st.Instances)
	require.Equal(t, actors, st.Actors)
	instances := map[uint64]bool{}
	for _, a := range n.Actors() {
		instances[a.Instance] = true
	}
	require.Len(t, instances, 1)
}

func TestIsolatedSpawnSurvivesNeighbourCrash(t *testing.T) {
	n := newNode(t, host.Config{InstancesPerModule: 1})
	deploy(t, n, guestbuildtest.Build(t, "examples/crasher"))
	ctx := ctxT(t)

	a1, err := n.Spawn(ctx, "Worker", host.SpawnOptions{})
	require.NoError(t, err)
	a2, err := n.Spawn(ctx, "Worker", host.SpawnOptions{})
	require.NoError(t, err)
	iso, err := n.Spawn(ctx, "Worker", host.SpawnOptions{Isolated: true})
	require.NoError(t, err)
	require.Equal(t, 2, n.Stats().Instances)

	m1, err := n.Monitor(ctx, a1)
	require.NoError(t, err)
	m2, err := n.Monitor(ctx, a2)
	require.NoError(t, err)
	mi, err := n.Monitor(ctx, iso)
	require.NoError(t, err)

	require.NoError(t, n.Send(ctx, a1, map[string]any{"op": "crash"}))
	d1 := waitDown(t, m1, 10*time.Second)
	d2 := waitDown(t, m2, 10*time.Second)
	require.Contains(t, d1.Reason, "panic")
	require.Equal(t, d1.Reason, d2.Reason, "both actors of the instance die with its reason")
	require.Equal(t, a2, d2.PID)

	_, err = n.Call(ctx, iso, map[string]any{"op": "ping"})
	require.NoError(t, err, "the isolated actor is untouched")
	noDown(t, mi)
	_, err = n.Call(ctx, a2, map[string]any{"op": "ping"})
	require.ErrorIs(t, err, wasmactor.ErrNoProc)
	require.Equal(t, uint64(1), n.Stats().InstanceCrashes)
}

func TestSupervisionRestartsWithinIntensity(t *testing.T) {
	n := newNode(t, host.Config{})
	deploy(t, n, guestbuildtest.Build(t, "examples/crasher"))
	ctx := ctxT(t)
	pid, err := n.Spawn(ctx, "Worker", host.SpawnOptions{Isolated: true, Name: "w",
		Restart: wasmactor.Restart{Policy: wasmactor.Permanent, MaxRestarts: 2, Period: time.Minute}})
	require.NoError(t, err)
	mon, err := n.Monitor(ctx, pid)
	require.NoError(t, err)

	for i := range 2 {
		_, err := n.Call(ctx, pid, map[string]any{"op": "crash"})
		require.ErrorIs(t, err, wasmactor.ErrCrashed, "crash %d", i)
		// Restarted in place: same PID, same name, answering again.
		_, err = n.Call(ctx, pid, map[string]any{"op": "ping"})
		require.NoError(t, err, "after crash %d", i)
		got, err := n.Whereis(ctx, "w")
		require.NoError(t, err)
		require.Equal(t, pid, got)
		noDown(t, mon)
	}
	require.Equal(t, uint64(2), n.Stats().Restarts)

	// The third crash exceeds 2 restarts per minute: dead for good.
	require.NoError(t, n.Send(ctx, pid, map[string]any{"op": "crash"}))
	d := waitDown(t, mon, 10*time.Second)
	require.Contains(t, d.Reason, "panic")
	_, err = n.Whereis(ctx, "w")
	require.ErrorIs(t, err, wasmactor.ErrNotFound)
}

func TestTransientRestartsOnlyAbnormal(t *testing.T) {
	n := newNode(t, host.Config{})
	deploy(t, n, guestbuildtest.Build(t, "examples/crasher"))
	ctx := ctxT(t)
	pid, err := n.Spawn(ctx, "Worker", host.SpawnOptions{Restart: wasmactor.Restart{Policy: wasmactor.Transient}})
	require.NoError(t, err)
	mon, err := n.Monitor(ctx, pid)
	require.NoError(t, err)
	require.NoError(t, n.Kill(ctx, pid, "boom"))
	_, err = n.Call(ctx, pid, map[string]any{"op": "ping"})
	require.NoError(t, err, "abnormal exit: restarted")
	require.NoError(t, n.Kill(ctx, pid, wasmactor.ReasonNormal))
	require.Equal(t, wasmactor.ReasonNormal, waitDown(t, mon, 5*time.Second).Reason)
}

func TestInfiniteLoopStoppedAtDeadline(t *testing.T) {
	n := newNode(t, host.Config{GuestTimeout: 300 * time.Millisecond, Workers: 2})
	deploy(t, n, guestbuildtest.Build(t, "examples/counter"))
	deploy(t, n, fixture(t, "loop.wasm"))
	ctx := ctxT(t)
	counter, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.NoError(t, err)

	spinner, err := n.Spawn(ctx, "Bad", host.SpawnOptions{})
	require.NoError(t, err)
	mon, err := n.Monitor(ctx, spinner)
	require.NoError(t, err)
	// While one worker is stuck in the loop, the other keeps answering.
	for i := range 20 {
		require.NoError(t, n.Send(ctx, counter, map[string]any{"op": "inc", "by": 1}))
		require.Equal(t, int64(i+1), getCounter(t, n, counter).Value)
	}
	d := waitDown(t, mon, 10*time.Second)
	require.Equal(t, wasmactor.ReasonDeadline, d.Reason)
	require.Equal(t, int64(20), getCounter(t, n, counter).Value)
}

func TestMemoryBombRefused(t *testing.T) {
	n := newNode(t, host.Config{MemoryLimitPages: 64})
	deploy(t, n, fixture(t, "membomb.wasm"))
	deploy(t, n, guestbuildtest.Build(t, "examples/counter"))
	ctx := ctxT(t)
	bomb, err := n.Spawn(ctx, "Bad", host.SpawnOptions{})
	require.NoError(t, err)
	mon, err := n.Monitor(ctx, bomb)
	require.NoError(t, err)
	d := waitDown(t, mon, 10*time.Second)
	require.NotEmpty(t, d.Reason)
	require.True(t, wasmactor.IsAbnormal(d.Reason), d.Reason)
	// The node lives on.
	pid, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.NoError(t, err)
	require.Equal(t, int64(0), getCounter(t, n, pid).Value)
}

func TestBadModulesRejected(t *testing.T) {
	n := newNode(t, host.Config{MaxModuleSize: 1 << 20})
	ctx := ctxT(t)
	for _, name := range []string{"malformed.wasm", "bad_version.wasm", "missing_export.wasm", "bad_factories.wasm", "bad_import.wasm"} {
		_, err := n.Deploy(ctx, fixture(t, name))
		require.ErrorIs(t, err, wasmactor.ErrBadModule, name)
		require.NotContains(t, err.Error(), "\n", "one clear line")
	}
	_, err := n.Deploy(ctx, make([]byte, 2<<20))
	require.ErrorIs(t, err, wasmactor.ErrTooLarge)
	require.Empty(t, n.Modules())
}

// TestInspectModuleGivesDeploysVerdict checks InspectModule against Deploy
// on the same modules and config, without a Go guest build.
func TestInspectModuleGivesDeploysVerdict(t *testing.T) {
	cfg := host.Config{MaxModuleSize: 1 << 20, MemoryLimitPages: 64, Logger: quietLogger()}
	n := newNode(t, cfg)
	ctx := ctxT(t)

	wasm := fixture(t, "minimal_actor.wasm")
	inspected, err := host.InspectModule(ctx, cfg, wasm)
	require.NoError(t, err)
	deployed := deploy(t, n, wasm)
	require.Equal(t, deployed, inspected.Hash.String())
	info := n.Modules()[0]
	info.DeployedAt = 0
	require.Equal(t, info, inspected)

	for _, name := range []string{"malformed.wasm", "bad_version.wasm", "missing_export.wasm", "bad_factories.wasm", "bad_import.wasm", "membomb.wasm"} {
		_, errDeploy := n.Deploy(ctx, fixture(t, name))
		_, errInspect := host.InspectModule(ctx, cfg, fixture(t, name))
		if errDeploy == nil {
			require.NoError(t, errInspect, name)
			continue
		}
		require.EqualError(t, errInspect, errDeploy.Error(), name)
	}
	_, err = host.InspectModule(ctx, cfg, make([]byte, 2<<20))
	require.ErrorIs(t, err, wasmactor.ErrTooLarge)
	_, err = host.InspectModule(ctx, host.Config{MemoryLimitPages: 1 << 20}, wasm)
	require.Error(t, err, "an invalid config")
}

// heldCounter starts a node of one worker with cfg and a Counter, and
// holds the worker inside a guest call until the test calls release:
// print.wasm writes "hello" to stdout in every turn, and the node's logger
// blocks on that line. While the worker is held, nothing drains the
// counter's mailbox, so its bounds are reached by construction, however
// slow the machine.
func heldCounter(t *testing.T, cfg host.Config) (n *host.Node, counter host.PID, release func()) {
	t.Helper()
	gate := newLogGate("hello")
	cfg.Workers, cfg.Logger = 1, slog.New(gate)
	n = newNode(t, cfg)
	deploy(t, n, guestbuildtest.Build(t, "examples/counter"))
	deploy(t, n, fixture(t, "print.wasm"))
	ctx := ctxT(t)
	counter, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.NoError(t, err)
	require.Equal(t, int64(0), getCounter(t, n, counter).Value)
	_, err = n.Spawn(ctx, "Bad", host.SpawnOptions{})
	require.NoError(t, err)
	select {
	case <-gate.held:
	case <-ctx.Done():
		t.Fatal("the guest never wrote its line")
	}
	return n, counter, func() { close(gate.release) }
}

func TestFullMailboxIsTheSendersError(t *testing.T) {
	n, counter, release := heldCounter(t, host.Config{MailboxSize: 8})
	ctx := ctxT(t)
	for range 8 {
		require.NoError(t, n.Send(ctx, counter, map[string]any{"op": "inc", "by": 1}))
	}
	err := n.Send(ctx, counter, map[string]any{"op": "inc", "by": 1})
	require.ErrorIs(t, err, wasmactor.ErrMailboxFull)
	require.Equal(t, uint64(1), n.Stats().MailboxFull)

	// Asks count against the bound too: the caller sees it at once.
	_, err = n.Call(ctx, counter, map[string]any{"op": "get"})
	require.ErrorIs(t, err, wasmactor.ErrMailboxFull)
	// Once the worker is free, the 8 queued messages arrive, in order,
	// ahead of the next ask.
	// Until the counter's turn has drained them, a new ask is still refused,
	// so poll for the value (bounded by the test's context, not a timing).
	release()
	for {
		r, err := n.Call(ctx, counter, map[string]any{"op": "get"})
		if errors.Is(err, wasmactor.ErrMailboxFull) {
			require.NoError(t, ctx.Err(), "the mailbox never drained")
			runtime.Gosched()
			continue
		}
		require.NoError(t, err)
		var v counterReply
		require.NoError(t, r.Decode(&v))
		require.Equal(t, int64(8), v.Value)
		break
	}
}

// logGate is a slog.Handler that blocks the first goroutine logging a line
// equal to line until release is closed, and tells the test on held. Other
// records are discarded.
type logGate struct {
	line    string
	once    *sync.Once
	held    chan struct{}
	release chan struct{}
}

func newLogGate(line string) logGate {
	return logGate{line: line, once: new(sync.Once), held: make(chan struct{}), release: make(chan struct{})}
}

func (g logGate) Enabled(context.Context, slog.Level) bool { return true }
func (g logGate) WithAttrs([]slog.Attr) slog.Handler       { return g }
func (g logGate) WithGroup(string) slog.Handler            { return g }
func (g logGate) Handle(_ context.Context, r slog.Record) error {
	if r.Message == g.line {
		g.once.Do(func() {
			close(g.held)
			<-g.release
		})
	}
	return nil
}

func TestVersionsRunSideBySide(t *testing.T) {
	n := newNode(t, host.Config{})
	ctx := ctxT(t)
	v1 := deploy(t, n, guestbuildtest.Build(t, "examples/counter"))
	old, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.NoError(t, err)

	v2 := deploy(t, n, guestbuildtest.Build(t, "testdata/guests/counterv2"))
	require.NotEqual(t, v1, v2)
	cur, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.NoError(t, err)
	pinned, err := n.Spawn(ctx, "Counter@"+v1[:8], host.SpawnOptions{})
	require.NoError(t, err)

	require.Equal(t, int64(0), getCounter(t, n, old).Version, "running actors keep their version")
	require.Equal(t, int64(2), getCounter(t, n, cur).Version, "new spawns get the newest")
	require.Equal(t, int64(0), getCounter(t, n, pinned).Version, "Factory@prefix pins")
	require.Len(t, n.Modules(), 2)
}

func TestMinimalWATActor(t *testing.T) {
	n := newNode(t, host.Config{})
	deploy(t, n, fixture(t, "minimal_actor.wasm"))
	ctx := ctxT(t)
	pid, err := n.Spawn(ctx, "Echo", host.SpawnOptions{})
	require.NoError(t, err)
	for i := range 10 {
		msg := fmt.Sprintf("hello %d", i)
		r, err := n.Call(ctx, pid, msg)
		require.NoError(t, err)
		var got string
		require.NoError(t, r.Decode(&got))
		require.Equal(t, msg, got)
	}
}

func TestLinksPropagateAbnormalExits(t *testing.T) {
	n := newNode(t, host.Config{})
	deploy(t, n, guestbuildtest.Build(t, "examples/counter"))
	ctx := ctxT(t)
	a, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.NoError(t, err)
	b, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.NoError(t, err)
	c, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.NoError(t, err)
	require.NoError(t, n.Link(ctx, a, b))
	require.NoError(t, n.Link(ctx, b, c))
	mc, err := n.Monitor(ctx, c)
	require.NoError(t, err)

	require.NoError(t, n.Kill(ctx, a, "boom"))
	d := waitDown(t, mc, 5*time.Second)
	require.Equal(t, "boom", d.Reason, "the exit travels a→b→c")

	// A normal exit does not propagate.
	x, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.NoError(t, err)
	y, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.NoError(t, err)
	require.NoError(t, n.Link(ctx, x, y))
	require.NoError(t, n.Kill(ctx, x, wasmactor.ReasonNormal))
	require.Equal(t, int64(0), getCounter(t, n, y).Value)
}

func TestNamesAndGroups(t *testing.T) {
	n := newNode(t, host.Config{})
	deploy(t, n, guestbuildtest.Build(t, "examples/counter"))
	ctx := ctxT(t)
	a, err := n.Spawn(ctx, "Counter", host.SpawnOptions{Name: "alpha"})
	require.NoError(t, err)
	_, err = n.Spawn(ctx, "Counter", host.SpawnOptions{Name: "alpha"})
	require.ErrorIs(t, err, wasmactor.ErrNameTaken)
	b, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.NoError(t, err)
	require.ErrorIs(t, n.Register(ctx, "alpha", b), wasmactor.ErrNameTaken)
	got, err := n.Whereis(ctx, "alpha")
	require.NoError(t, err)
	require.Equal(t, a, got)

	require.NoError(t, n.JoinGroup(ctx, "g", a))
	require.NoError(t, n.JoinGroup(ctx, "g", b))
	members, err := n.GroupMembers(ctx, "g")
	require.NoError(t, err)
	require.ElementsMatch(t, []host.PID{a, b}, members)

	mon, err := n.Monitor(ctx, a)
	require.NoError(t, err)
	require.NoError(t, n.Stop(ctx, a))
	require.Equal(t, wasmactor.ReasonShutdown, waitDown(t, mon, 5*time.Second).Reason)
	_, err = n.Whereis(ctx, "alpha")
	require.ErrorIs(t, err, wasmactor.ErrNotFound, "a name dies with its actor")
	members, err = n.GroupMembers(ctx, "g")
	require.NoError(t, err)
	require.Equal(t, []host.PID{b}, members)
	require.NoError(t, n.Register(ctx, "alpha", b))
}

func TestGuestsTalkAsynchronously(t *testing.T) {
	n := newNode(t, host.Config{})
	deploy(t, n, guestbuildtest.Build(t, "examples/pingpong"))
	ctx := ctxT(t)
	ping, err := n.Spawn(ctx, "Ping", host.SpawnOptions{})
	require.NoError(t, err)
	// Ping spawns a linked Pong and bounces 200 asks off it; the host's ask
	// is answered once the last guest-to-guest answer has arrived.
	r, err := n.Call(ctx, ping, map[string]any{"op": "run", "rounds": 200})
	require.NoError(t, err)
	var s struct {
		Rounds  int  `cbor:"rounds"`
		Replies int  `cbor:"replies"`
		Errors  int  `cbor:"errors"`
		Done    bool `cbor:"done"`
	}
	require.NoError(t, r.Decode(&s))
	require.True(t, s.Done)
	require.Equal(t, 200, s.Replies)
	require.Zero(t, s.Errors)
}

func TestMonitorOfDeadActorFiresNoProc(t *testing.T) {
	n := newNode(t, host.Config{})
	mon, err := n.Monitor(ctxT(t), host.PID{Node: n.Name(), Incarnation: n.Incarnation(), Serial: 42})
	require.NoError(t, err)
	require.Equal(t, wasmactor.ReasonNoProc, waitDown(t, mon, time.Second).Reason)
}

func TestCloseStopsActorsAndIsIdempotent(t *testing.T) {
	n := newNode(t, host.Config{})
	deploy(t, n, guestbuildtest.Build(t, "examples/counter"))
	ctx := ctxT(t)
	var mons []*host.Monitor
	for range 5 {
		pid, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
		require.NoError(t, err)
		m, err := n.Monitor(ctx, pid)
		require.NoError(t, err)
		mons = append(mons, m)
	}
	require.NoError(t, n.Close())
	require.NoError(t, n.Close())
	for _, m := range mons {
		require.Equal(t, wasmactor.ReasonShutdown, waitDown(t, m, time.Second).Reason)
	}
	_, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
	require.ErrorIs(t, err, wasmactor.ErrClosed)
}

func TestConcurrentCallsHammer(t *testing.T) {
	n := newNode(t, host.Config{})
	deploy(t, n, guestbuildtest.Build(t, "examples/counter"))
	ctx := ctxT(t)
	const actors, per = 8, 200
	pids := make([]host.PID, actors)
	for i := range pids {
		var err error
		pids[i], err = n.Spawn(ctx, "Counter", host.SpawnOptions{})
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, actors)
	for _, pid := range pids {
		wg.Go(func() {
			for range per {
				if err := n.Send(ctx, pid, map[string]any{"op": "inc", "by": 1}); err != nil {
					errs <- err
					return
				}
				if _, err := n.Call(ctx, pid, map[string]any{"op": "get"}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for _, pid := range pids {
		require.Equal(t, int64(per), getCounter(t, n, pid).Value)
	}
}

// The data dir belongs to one node: a second node on it is refused with a
// clear error, and gets it once the first has closed.
func TestDataDirBelongsToOneNode(t *testing.T) {
	dir := t.TempDir()
	ctx := ctxT(t)
	first, err := host.Start(ctx, host.Config{Name: "first", DataDir: dir, Logger: quietLogger()})
	require.NoError(t, err)

	second, err := host.Start(ctx, host.Config{Name: "second", DataDir: dir, Logger: quietLogger()})
	if second != nil {
		second.Close()
	}
	require.EqualError(t, err, "wasmactor: data dir "+dir+" is in use by another node")

	require.NoError(t, first.Close())
	second, err = host.Start(ctx, host.Config{Name: "second", DataDir: dir, Logger: quietLogger()})
	require.NoError(t, err)
	require.NoError(t, second.Close())
}
