package scheduler

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// waitFor fails the test if done is not closed in a generous bound. It guards
// against hangs (a lost wake-up would otherwise hang until go test's timeout);
// it asserts nothing about speed.
func waitFor(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

type funcRunner func() bool

func (f funcRunner) Turn() bool { return f() }

func TestTaskRunsOnWake(t *testing.T) {
	s := New(Config{Workers: 2})
	defer s.Close()
	done := make(chan struct{})
	task := s.NewTask(funcRunner(func() bool { close(done); return false }))
	task.Wake()
	waitFor(t, done, "the task's turn")
}

func TestMoreRunsAgain(t *testing.T) {
	s := New(Config{Workers: 1})
	defer s.Close()
	done := make(chan struct{})
	n := 0
	task := s.NewTask(funcRunner(func() bool {
		n++ // only ever one turn at a time, so no race
		if n == 5 {
			close(done)
			return false
		}
		return true
	}))
	task.Wake()
	waitFor(t, done, "five turns")
}

// TestWakeHammer wakes one task from many goroutines, some from inside its own
// turn, and checks that (a) the task never runs concurrently with itself and
// (b) no wake-up is lost: every unit of work announced before a Wake is
// consumed by a later turn.
func TestWakeHammer(t *testing.T) {
	for _, workers := range []int{1, 2, 8} {
		t.Run("workers="+itoa(workers), func(t *testing.T) {
			s := New(Config{Workers: workers})
			defer s.Close()

			const producers = 16
			const perProducer = 5000
			const total = producers * perProducer
			var (
				pending   atomic.Int64 // work announced but not yet consumed
				consumed  atomic.Int64
				inTurn    atomic.Int32
				overlaps  atomic.Int32
				selfWakes atomic.Int64
				done      = make(chan struct{})
				doneOnce  sync.Once
				task      *Task
			)
			task = s.NewTask(funcRunner(func() bool {
				if !inTurn.CompareAndSwap(0, 1) {
					overlaps.Add(1)
				}
				got := pending.Swap(0)
				if got > 0 && consumed.Load()%7 == 0 {
					// Waking yourself must requeue, not deadlock or double-run.
					selfWakes.Add(1)
					task.Wake()
				}
				if consumed.Add(got) == total {
					doneOnce.Do(func() { close(done) })
				}
				runtime.Gosched() // widen the window for concurrent Wakes
				inTurn.Store(0)
				return false
			}))

			var wg sync.WaitGroup
			for range producers {
				wg.Go(func() {
					for range perProducer {
						pending.Add(1)
						task.Wake()
					}
				})
			}
			wg.Wait()
			waitFor(t, done, "all announced work to be consumed (lost wake-up?)")
			require.Zero(t, overlaps.Load(), "task ran concurrently with itself")
			require.EqualValues(t, total, consumed.Load())
		})
	}
}

// TestManyTasksHammer runs many tasks woken from many goroutines, each
// counting its own work, to shake out queue races between tasks.
func TestManyTasksHammer(t *testing.T) {
	s := New(Config{Workers: 4})
	defer s.Close()
	const tasks = 64
	const wakesPerTask = 2000
	type counter struct {
		pending, consumed atomic.Int64
		inTurn            atomic.Int32
	}
	var overlaps atomic.Int32
	var finished sync.WaitGroup
	finished.Add(tasks)
	cs := make([]*counter, tasks)
	ts := make([]*Task, tasks)
	for i := range tasks {
		c := &counter{}
		cs[i] = c
		ts[i] = s.NewTask(funcRunner(func() bool {
			if !c.inTurn.CompareAndSwap(0, 1) {
				overlaps.Add(1)
			}
			// Consume one unit per turn to exercise the "more" path too.
			more := false
			if c.pending.Load() > 0 {
				c.pending.Add(-1)
				if c.consumed.Add(1) == wakesPerTask {
					finished.Done()
				}
				more = c.pending.Load() > 0
			}
			c.inTurn.Store(0)
			return more
		}))
	}
	var wg sync.WaitGroup
	for p := range 8 {
		wg.Go(func() {
			for k := range wakesPerTask * tasks / 8 {
				i := (p + k) % tasks
				cs[i].pending.Add(1)
				ts[i].Wake()
			}
		})
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { finished.Wait(); close(done) }()
	waitFor(t, done, "every task to consume its work")
	require.Zero(t, overlaps.Load())
	for i := range tasks {
		require.EqualValues(t, wakesPerTask, cs[i].consumed.Load(), "task %d", i)
	}
}

// TestFairness: with one worker, two tasks that always have more work must
// alternate strictly, because a task with more work goes to the back.
func TestFairness(t *testing.T) {
	s := New(Config{Workers: 1})
	defer s.Close()
	const turns = 2000
	var (
		mu    sync.Mutex
		order []byte
		done  = make(chan struct{})
	)
	mk := func(name byte) *Task {
		return s.NewTask(funcRunner(func() bool {
			mu.Lock()
			defer mu.Unlock()
			if len(order) < turns {
				order = append(order, name)
				if len(order) == turns {
					close(done)
				}
			}
			return true // infinite work
		}))
	}
	a, b := mk('a'), mk('b')
	// Queue both before the only worker can pick either: block it first.
	gate := make(chan struct{})
	blocker := s.NewTask(funcRunner(func() bool { <-gate; return false }))
	blocker.Wake()
	a.Wake()
	b.Wake()
	close(gate)
	waitFor(t, done, "both infinite tasks to make progress")
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(order); i++ {
		require.NotEqual(t, order[i-1], order[i], "task %c ran twice in a row at turn %d", order[i], i)
	}
}

// TestFairnessManyWorkers: three infinite tasks on two workers all progress.
func TestFairnessManyWorkers(t *testing.T) {
	s := New(Config{Workers: 2})
	defer s.Close()
	const want = 1000
	var counts [3]atomic.Int64
	var wg sync.WaitGroup
	wg.Add(len(counts))
	for i := range counts {
		s.NewTask(funcRunner(func() bool {
			if counts[i].Add(1) == want {
				wg.Done()
			}
			return true
		})).Wake()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	waitFor(t, done, "all three tasks to reach 1000 turns")
}

// TestCloseWaitsForTurn: Close returns only after the running turn ended, and
// a task that still has more work is not run again.
func TestCloseWaitsForTurn(t *testing.T) {
	s := New(Config{Workers: 1})
	started := make(chan struct{})
	release := make(chan struct{})
	var turns, ended atomic.Int32
	task := s.NewTask(funcRunner(func() bool {
		if turns.Add(1) == 1 {
			close(started)
			<-release
		}
		ended.Add(1)
		return true
	}))
	task.Wake()
	<-started

	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	// Close cannot return while the turn is blocked. Checking this without a
	// sleep: the turn is provably still inside Turn until we release it.
	select {
	case <-closed:
		t.Fatal("Close returned while a turn was running")
	default:
	}
	// Release the turn only once Close has marked the scheduler closed, so the
	// requeue that follows the turn is the one Close must drop.
	deadline := time.Now().Add(60 * time.Second)
	for {
		s.mu.Lock()
		c := s.closed
		s.mu.Unlock()
		if c {
			break
		}
		require.True(t, time.Now().Before(deadline), "Close never marked the scheduler closed")
		runtime.Gosched()
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a turn was running")
	default:
	}
	close(release)
	waitFor(t, closed, "Close")
	require.EqualValues(t, 1, ended.Load(), "the turn in progress finished")
	require.EqualValues(t, 1, turns.Load(), "no turn after Close")

	// Wake after Close is a no-op and Close is idempotent.
	task.Wake()
	s.NewTask(funcRunner(func() bool { t.Error("ran after Close"); return false })).Wake()
	s.Close()
}

// TestCloseNoLeak runs the scheduler inside a synctest bubble: synctest.Test
// fails if any goroutine started in the bubble is still alive at the end, so
// this proves Close leaves no worker behind.
func TestCloseNoLeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Config{Workers: 4})
		var n atomic.Int32
		for range 10 {
			s.NewTask(funcRunner(func() bool { n.Add(1); return n.Load() < 100 })).Wake()
		}
		synctest.Wait()
		s.Close()
		s.Close()
	})
}

func TestConcurrentClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Config{})
		task := s.NewTask(funcRunner(func() bool { return true }))
		task.Wake()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(s.Close)
			wg.Go(task.Wake)
		}
		wg.Wait()
	})
}

func TestDefaultWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Config{})
		synctest.Wait()
		// Every worker is idle on the condition variable.
		s.mu.Lock()
		idle := s.idle
		s.mu.Unlock()
		require.Equal(t, runtime.GOMAXPROCS(0), idle)
		s.Close()
	})
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
