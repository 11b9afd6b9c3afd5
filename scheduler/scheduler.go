package scheduler

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Config configures a [Scheduler]. The zero value is ready to use.
type Config struct {
	// Workers is the number of worker goroutines; 0 means runtime.GOMAXPROCS(0).
	Workers int
}

// Runner does one turn of work for a [Task]: for wasmactor, one batched guest
// call of an instance.
type Runner interface {
	// Turn does a bounded amount of work and reports whether work is left. A
	// task that reports more is put at the back of the run queue.
	//
	// Turn is never called concurrently with itself for one task. It may call
	// Wake on any task, its own included, but must not call Close on the
	// scheduler running it (Close waits for the turn to finish).
	//
	// A panic in Turn is not recovered: guest failures arrive as errors from
	// the engine, so a panic here is a host bug and crashes the process like
	// any goroutine panic would.
	Turn() (more bool)
}

// Scheduler runs [Task]s on a fixed set of worker goroutines from one FIFO
// run queue.
//
// A shared queue behind one mutex is the simplest structure that is fair by
// construction (strict FIFO, requeue at the back). On the 2-core machines the
// project targets it is not the bottleneck: a turn is a guest call of a
// microsecond or more, while the queue costs tens of nanoseconds.
type Scheduler struct {
	mu     sync.Mutex
	cond   sync.Cond // signalled when the queue gains a task or the scheduler closes
	queue  ring[*Task]
	idle   int // workers waiting on cond; lets enqueue skip Signal when nobody sleeps
	closed bool

	closing atomic.Bool
	wg      sync.WaitGroup
}

// New starts a scheduler with its workers. Stop it with [Scheduler.Close].
func New(cfg Config) *Scheduler {
	n := cfg.Workers
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	s := &Scheduler{}
	s.cond.L = &s.mu
	s.wg.Add(n)
	for range n {
		go s.worker()
	}
	return s
}

// Close stops the workers once their current turns end and waits for them.
// Tasks still queued are not run; Wake becomes a no-op. Close is idempotent
// and safe to call concurrently; every call returns after the workers are gone.
// It must not be called from inside a Turn of this scheduler.
func (s *Scheduler) Close() {
	if s.closing.CompareAndSwap(false, true) {
		s.mu.Lock()
		s.closed = true
		// Drop queued tasks now so they (and their runners) can be collected.
		for s.queue.n > 0 {
			s.queue.pop()
		}
		s.mu.Unlock()
		s.cond.Broadcast()
	}
	s.wg.Wait()
}

// Queued reports how many tasks wait on the run queue (for metrics).
func (s *Scheduler) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queue.n
}

func (s *Scheduler) worker() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		for s.queue.n == 0 && !s.closed {
			s.idle++
			s.cond.Wait()
			s.idle--
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		t := s.queue.pop()
		s.mu.Unlock()
		t.run()
	}
}

// enqueue puts t at the back of the run queue; t is in stateQueued.
func (s *Scheduler) enqueue(t *Task) {
	s.mu.Lock()
	if s.closed {
		// The task stays "queued" forever, which is what makes later Wakes
		// no-ops: nothing will run again.
		s.mu.Unlock()
		return
	}
	s.queue.push(t)
	signal := s.idle > 0
	s.mu.Unlock()
	// Signalling after Unlock is safe: a sleeping worker registered itself on
	// cond before releasing mu, and the one we wake rechecks the queue.
	if signal {
		s.cond.Signal()
	}
}

// Task states. Only these transitions happen:
//
//	idle    -> queued   Wake (the waker enqueues)
//	queued  -> running  a worker dequeued it
//	running -> woken    Wake during the turn
//	running -> idle     the turn ended with no more work and no wake
//	running, woken -> queued   the turn ended with more work, or was woken (the worker enqueues)
const (
	stateIdle int32 = iota
	stateQueued
	stateRunning
	stateWoken
)

// Task is a [Runner] bound to a [Scheduler]. Create it with
// [Scheduler.NewTask]; it is idle until woken.
type Task struct {
	s     *Scheduler
	r     Runner
	state atomic.Int32
}

// NewTask binds r to s. The task does not run until [Task.Wake].
func (s *Scheduler) NewTask(r Runner) *Task {
	return &Task{s: s, r: r}
}

// Wake makes sure the task runs soon. The task is on the run queue at most
// once; waking a running task makes it run again after its current turn, so no
// wake-up is lost. Safe from any goroutine, including from inside Turn; when
// the task is already queued it costs one atomic load. After the scheduler is
// closed, Wake does nothing.
func (t *Task) Wake() {
	for {
		switch st := t.state.Load(); st {
		case stateQueued, stateWoken:
			return
		case stateIdle:
			if t.state.CompareAndSwap(stateIdle, stateQueued) {
				t.s.enqueue(t)
				return
			}
		case stateRunning:
			if t.state.CompareAndSwap(stateRunning, stateWoken) {
				return
			}
		}
		// Lost a race with another waker or the worker; look again.
	}
}

// run is called by the worker that dequeued t.
func (t *Task) run() {
	t.state.Store(stateRunning)
	more := t.r.Turn()
	if !more && t.state.CompareAndSwap(stateRunning, stateIdle) {
		return
	}
	// More work, or a Wake arrived during the turn (state woken): back of the
	// queue, so every other queued task runs first.
	t.state.Store(stateQueued)
	t.s.enqueue(t)
}
