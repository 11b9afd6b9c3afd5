package scheduler

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkMailboxPushDrain measures the message path: producers push, one
// consumer drains batches of 64 (the engine's batch size order of magnitude).
func BenchmarkMailboxPushDrain(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		var m Mailbox[uint64]
		buf := make([]uint64, 0, 64)
		b.ReportAllocs()
		for i := range b.N {
			m.Push(uint64(i))
			if m.Len() >= 64 {
				buf = m.Drain(buf[:0], 64)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("producers=GOMAXPROCS", func(b *testing.B) {
		var m Mailbox[uint64]
		stop := make(chan struct{})
		var drained atomic.Int64
		var consumer sync.WaitGroup
		consumer.Go(func() {
			buf := make([]uint64, 0, 64)
			for {
				buf = m.Drain(buf[:0], 64)
				drained.Add(int64(len(buf)))
				if len(buf) == 0 {
					select {
					case <-stop:
						return
					default:
						runtime.Gosched()
					}
				}
			}
		})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var i uint64
			for pb.Next() {
				m.Push(i)
				i++
			}
		})
		close(stop)
		consumer.Wait()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}

type nopRunner struct{}

func (nopRunner) Turn() bool { return false }

// BenchmarkWake measures Wake: on an already queued task (the common case when
// a mailbox receives a burst), and the full wake-run cycle.
func BenchmarkWake(b *testing.B) {
	b.Run("queued", func(b *testing.B) {
		s := New(Config{Workers: 1})
		defer s.Close()
		gate := make(chan struct{})
		// Hold the only worker so the task under test stays queued.
		s.NewTask(funcRunner(func() bool { <-gate; return false })).Wake()
		task := s.NewTask(nopRunner{})
		task.Wake()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				task.Wake()
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "wakes/s")
		close(gate)
	})
	b.Run("requeue", func(b *testing.B) {
		// A task that always has more work: the requeue → worker → turn path.
		s := New(Config{})
		defer s.Close()
		var turns atomic.Int64
		done := make(chan struct{})
		target := int64(b.N)
		task := s.NewTask(funcRunner(func() bool {
			if turns.Add(1) == target {
				close(done)
				return false
			}
			return true
		}))
		b.ReportAllocs()
		b.ResetTimer()
		task.Wake()
		<-done
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "turns/s")
	})
	b.Run("cycle-tasks=1000", func(b *testing.B) {
		// Many tasks each woken from outside: queue contention across workers.
		s := New(Config{})
		defer s.Close()
		const tasks = 1000
		var turns atomic.Int64
		var wg sync.WaitGroup
		ts := make([]*Task, tasks)
		for i := range ts {
			ts[i] = s.NewTask(funcRunner(func() bool { turns.Add(1); wg.Done(); return false }))
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += tasks {
			n := min(tasks, b.N-i)
			wg.Add(n)
			for _, t := range ts[:n] {
				t.Wake()
			}
			wg.Wait()
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "wakes/s")
	})
}
