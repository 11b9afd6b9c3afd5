package host_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
	"github.com/wasmactor/wasmactor/internal/memtransport"
)

// stallLimit is how long any one call may take before the watchdog calls it
// a deadlock. Generous: a turn that instantiates a Go guest under the race
// detector on a loaded machine takes a second or two.
const stallLimit = 20 * time.Second

// watchdog fails a test whose calls stall: every call made through do is
// timed, and one that runs past its limit, or a run that stops making
// progress, ends the test with every goroutine's stack.
type watchdog struct {
	t     testing.TB
	limit time.Duration

	mu       sync.Mutex
	inflight map[int]flight
	next     int

	progress atomic.Uint64 // bumped by the test whenever the system moved

	stalled chan struct{} // closed with report set
	report  string
	stop    chan struct{}
	done    chan struct{}
}

type flight struct {
	what  string
	since time.Time
}

func newWatchdog(t testing.TB, limit time.Duration) *watchdog {
	w := &watchdog{t: t, limit: limit, inflight: map[int]flight{},
		stalled: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go w.watch()
	t.Cleanup(w.close)
	return w
}

// do runs f as one watched call.
func (w *watchdog) do(what string, f func()) {
	w.mu.Lock()
	id := w.next
	w.next++
	w.inflight[id] = flight{what: what, since: time.Now()}
	w.mu.Unlock()
	f()
	w.mu.Lock()
	delete(w.inflight, id)
	w.mu.Unlock()
	w.progress.Add(1)
}

func (w *watchdog) watch() {
	defer close(w.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last, lastAt := w.progress.Load(), time.Now()
	for {
		select {
		case <-w.stop:
			return
		case now := <-tick.C:
			var stuck []string
			w.mu.Lock()
			for _, f := range w.inflight {
				if d := now.Sub(f.since); d > w.limit {
					stuck = append(stuck, fmt.Sprintf("%s (for %v)", f.what, d.Round(time.Millisecond)))
				}
			}
			w.mu.Unlock()
			if p := w.progress.Load(); p != last {
				last, lastAt = p, now
			} else if now.Sub(lastAt) > w.limit {
				stuck = append(stuck, fmt.Sprintf("no progress for %v", now.Sub(lastAt).Round(time.Millisecond)))
			}
			if len(stuck) > 0 {
				sort.Strings(stuck)
				w.report = fmt.Sprintf("stalled: %s\n\nall goroutines:\n%s", strings.Join(stuck, "; "), allStacks())
				close(w.stalled)
				return
			}
		}
	}
}

func (w *watchdog) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// wait waits for ch, failing the test with the watchdog's report if the
// system stalls first.
func (w *watchdog) wait(ch <-chan struct{}, what string) {
	w.t.Helper()
	select {
	case <-ch:
	case <-w.stalled:
		w.t.Fatalf("waiting for %s: %s", what, w.report)
	}
}

// startWatchedNode starts a node whose Close, at cleanup, is bounded too: a
// Close that deadlocks fails the test with every stack instead of hanging
// the test binary.
func startWatchedNode(t *testing.T, cfg host.Config) *host.Node {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := host.Start(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- n.Close() }()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(time.Minute):
			t.Errorf("node %s: Close stalled\n%s", n.Name(), allStacks())
		}
	})
	return n
}

// TestNoDeadlockUnderChurn runs guests that spawn, monitor, register, link
// and kill in loops on two nodes (their monitors and links cross nodes),
// while other goroutines call Stats, Actors, Members, Deploy, Spawn, Call,
// Monitor, Stop and Kill. A watchdog fails the test with every goroutine's
// stack if any call takes longer than stallLimit or the run stops making
// progress. At the end every actor is gone, and so is every record and
// isolated instance they had.
func TestNoDeadlockUnderChurn(t *testing.T) {
	const (
		drivers = 6 // three per node
		rounds  = 300
		pool    = 2
		perG    = 150 // iterations of each Go-side goroutine
	)
	checkGoroutines(t)
	churn := guestbuildtest.Build(t, "testdata/guests/churn")
	echo := fixture(t, "minimal_actor.wasm")

	nw := memtransport.NewNetwork()
	cfg := func(i int) host.Config {
		name := fmt.Sprintf("n%d", i+1)
		// A driver's turn instantiates isolated Go guests from its spawn
		// import; on a loaded machine under the race detector that can
		// outlast the default 5 s guest deadline, which would fail the
		// drivers' shared instance. Stalls are the watchdog's to find.
		c := host.Config{Name: name, InstancesPerModule: pool, CompileTimeout: compileTimeout,
			GuestTimeout: 2 * time.Minute, Transport: nw.NewNode(name, uint64(i+1))}
		if i > 0 {
			c.Join = []string{"n1"}
		}
		return c
	}
	nodes := []*host.Node{startWatchedNode(t, cfg(0)), startWatchedNode(t, cfg(1))}
	require.Eventually(t, func() bool { return len(nodes[0].Members()) == 1 && len(nodes[1].Members()) == 1 },
		20*time.Second, 5*time.Millisecond, "mesh")
	ctx := ctxT(t)
	for _, n := range nodes { // no pulls: the churn is what is measured
		deploy(t, n, churn)
		deploy(t, n, echo)
	}
	// Deployed while everything runs: the first deploy of each compiles and
	// announces it, later ones are no-ops.
	var more [][]byte
	for _, f := range []string{"loop.wasm", "trap.wasm", "fail.wasm", "print.wasm", "exit.wasm"} {
		more = append(more, fixture(t, f))
	}

	w := newWatchdog(t, stallLimit)
	var wg sync.WaitGroup
	var errs sync.Map // what → first unexpected error
	unexpected := func(what string, err error, allowed ...error) {
		if err == nil {
			return
		}
		for _, a := range allowed {
			if errors.Is(err, a) {
				return
			}
		}
		errs.LoadOrStore(what, err)
	}
	loop := func(body func(i int)) {
		wg.Go(func() {
			for i := range perG {
				body(i)
			}
		})
	}

	// Drivers: i on node i%2, so "the next driver" is on the other node.
	var downs []*host.Monitor
	for i := range drivers {
		n := nodes[i%2]
		pid, err := n.Spawn(ctx, "Driver", host.SpawnOptions{Node: n.Name(), Args: map[string]int{"id": i, "rounds": rounds, "drivers": drivers}})
		require.NoError(t, err)
		m, err := n.Monitor(ctx, pid)
		require.NoError(t, err)
		downs = append(downs, m)
	}

	for k, n := range nodes {
		loop(func(int) {
			w.do(n.Name()+" Stats", func() { _ = n.Stats() })
			w.do(n.Name()+" Actors", func() { _ = n.Actors() })
			w.do(n.Name()+" Members", func() { _ = n.Members() })
		})
		loop(func(i int) {
			wasm := more[(i+k)%len(more)]
			w.do(n.Name()+" Deploy", func() {
				_, err := n.Deploy(ctx, wasm)
				unexpected("Deploy", err)
			})
		})
		loop(func(i int) {
			opts := host.SpawnOptions{Isolated: i%4 == 0, Name: fmt.Sprintf("g%d-%d", k, i%8)}
			if i%3 != 0 {
				opts.Node = n.Name() // else placement chooses, asking the peer
			}
			var pid host.PID
			var err error
			w.do(n.Name()+" Spawn", func() { pid, err = n.Spawn(ctx, "Child", opts) })
			if err != nil {
				unexpected("Spawn", err, wasmactor.ErrNameTaken)
				return
			}
			w.do(n.Name()+" Call", func() {
				_, err := n.Call(ctx, pid, "ping")
				unexpected("Call", err)
			})
			w.do(n.Name()+" Monitor+Stop", func() {
				m, err := n.Monitor(ctx, pid)
				unexpected("Monitor", err)
				if i%2 == 0 {
					unexpected("Stop", n.Stop(ctx, pid))
				} else {
					unexpected("Kill", n.Kill(ctx, pid, "boom"))
				}
				if m != nil {
					<-m.C
				}
			})
		})
		loop(func(i int) {
			w.do(n.Name()+" Spawn Echo", func() {
				pid, err := n.Spawn(ctx, "Echo", host.SpawnOptions{Node: n.Name(), Isolated: i%2 == 0})
				if err != nil {
					unexpected("Spawn Echo", err)
					return
				}
				unexpected("Stop Echo", n.Stop(ctx, pid))
			})
		})
	}

	// Everything ends: the drivers by themselves, the goroutines after
	// their iterations.
	driversDone := make(chan struct{})
	go func() {
		for _, m := range downs {
			d := <-m.C
			if d.Reason != wasmactor.ReasonNormal {
				errs.LoadOrStore("driver "+d.PID.String(), fmt.Errorf("stopped with %q", d.Reason))
			}
			w.progress.Add(1)
		}
		close(driversDone)
	}()
	w.wait(driversDone, "the drivers")
	goroutinesDone := make(chan struct{})
	go func() { wg.Wait(); close(goroutinesDone) }()
	w.wait(goroutinesDone, "the Go-side goroutines")
	errs.Range(func(k, v any) bool {
		t.Errorf("%s: %v", k, v)
		return true
	})

	// Nothing is left: no actor, no record, no isolated instance.
	for _, n := range nodes {
		eventually(t, stallLimit, func() bool {
			st := n.Stats()
			return st.Actors == 0 && st.Instances <= 2*pool // churn's pool and Echo's
		}, "%s: left behind: %+v", n.Name(), n.Stats())
		st := n.Stats()
		t.Logf("%s: %+v", n.Name(), st)
		require.Zero(t, st.PendingAsks, n.Name())
		require.Zero(t, st.Timers, n.Name())
		eventually(t, stallLimit, func() bool {
			for _, v := range host.Records(n) {
				if v != 0 {
					return false
				}
			}
			return true
		}, "%s: records left: %v; names %v", n.Name(), host.Records(n), host.NameList(n))
	}
}

// holdingHandler is a slog.Handler that, once armed, holds the first
// "initialising" line (testdata/init_log.wat's _initialize) until released:
// an instantiation is then stuck in guest code for as long as a test wants.
type holdingHandler struct {
	armed   atomic.Bool
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (h *holdingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *holdingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *holdingHandler) WithGroup(string) slog.Handler            { return h }

func (h *holdingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "initialising" || !h.armed.Load() {
		return nil
	}
	held := false
	h.once.Do(func() { held = true })
	if held {
		close(h.entered)
		<-h.release
	}
	return nil
}

// TestInstantiationBlocksNoOne holds a spawn inside the guest code of a new
// instance (its _initialize) and checks that meanwhile Stats, Actors and
// other spawns of the same module, isolated and shared, complete: no lock
// they need is held across an instantiation.
func TestInstantiationBlocksNoOne(t *testing.T) {
	checkGoroutines(t)
	h := &holdingHandler{entered: make(chan struct{}), release: make(chan struct{})}
	n := newNode(t, host.Config{Logger: slog.New(h), InstancesPerModule: 2})
	deploy(t, n, fixture(t, "init_log.wasm"))
	ctx := ctxT(t)

	h.armed.Store(true)
	held := make(chan error, 1)
	go func() {
		_, err := n.Spawn(ctx, "Slow", host.SpawnOptions{Isolated: true})
		held <- err
	}()
	select {
	case <-h.entered:
	case <-ctx.Done():
		t.Fatal("the held spawn never reached _initialize")
	}
	defer close(h.release) // also if the checks below fail

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = n.Stats()
		_ = n.Actors()
		for _, isolated := range []bool{true, false, false} { // the shared ones grow the pool
			_, err := n.Spawn(ctx, "Slow", host.SpawnOptions{Isolated: isolated})
			assert.NoError(t, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(stallLimit):
		t.Fatalf("Stats, Actors or a spawn waited for another spawn's instantiation\n%s", allStacks())
	}
	select {
	case err := <-held:
		t.Fatalf("the held spawn returned (%v) while its instantiation was held", err)
	default:
	}
}
