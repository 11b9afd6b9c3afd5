package scheduler

import (
	"sync"
	"sync/atomic"
)

// Mailbox is an unbounded multi-producer, single-consumer queue with two
// lanes: a system lane (exit, down, stop) that [Mailbox.Drain] always empties
// first, and a user lane. Order is FIFO within each lane. The zero value is an
// empty mailbox ready to use.
//
// A mailbox has no bound of its own because many actors share the mailbox of
// their instance; bound each actor's user messages with a [Quota].
//
// # Notes
//
// A mutex-protected ring per lane is used rather than a lock-free list: a
// push is one uncontended lock, a store and an unlock (about 20 ns), there is
// no per-message allocation, and Drain copies a whole batch under one lock.
type Mailbox[T any] struct {
	mu     sync.Mutex
	system ring[T]
	user   ring[T]
	n      atomic.Int64 // both lanes; read without the lock by Len
}

// Push queues a user message.
func (m *Mailbox[T]) Push(v T) {
	m.mu.Lock()
	m.user.push(v)
	m.n.Add(1)
	m.mu.Unlock()
}

// PushSystem queues a system message, which Drain hands out before any user
// message.
func (m *Mailbox[T]) PushSystem(v T) {
	m.mu.Lock()
	m.system.push(v)
	m.n.Add(1)
	m.mu.Unlock()
}

// Drain appends up to max messages to dst and returns it: system messages
// first, then user messages, FIFO within each lane. Pass dst[:0] of a reused
// slice to drain without allocating.
func (m *Mailbox[T]) Drain(dst []T, max int) []T {
	if max <= 0 || m.n.Load() == 0 {
		return dst
	}
	m.mu.Lock()
	before := len(dst)
	dst = m.system.drainTo(dst, max)
	dst = m.user.drainTo(dst, max-(len(dst)-before))
	m.n.Add(-int64(len(dst) - before))
	m.mu.Unlock()
	return dst
}

// Len reports how many messages are queued in both lanes. It takes no lock.
func (m *Mailbox[T]) Len() int { return int(m.n.Load()) }
