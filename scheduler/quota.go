package scheduler

import (
	"fmt"
	"sync/atomic"

	"github.com/wasmactor/wasmactor"
)

// Quota bounds the user messages queued for one actor: [Quota.Take] before
// queuing, [Quota.Give] once the messages left the mailbox (delivered or
// discarded). The zero value refuses everything; set the bound with
// [NewQuota] or [Quota.Init].
type Quota struct {
	max int64
	n   atomic.Int64
}

// NewQuota returns a quota allowing max outstanding messages.
func NewQuota(max int) *Quota {
	q := &Quota{}
	q.Init(max)
	return q
}

// Init sets the bound. It must be called before the quota is shared; it
// panics if max < 1 because a mailbox that accepts nothing is a configuration
// bug, not a runtime condition.
func (q *Quota) Init(max int) {
	if max < 1 {
		panic(fmt.Sprintf("scheduler: Quota.Init(%d): max must be at least 1", max))
	}
	q.max = int64(max)
}

// Take reserves room for one message. It returns [wasmactor.ErrMailboxFull]
// (the sentinel itself, so the hot failure path does not allocate) when max
// messages are outstanding.
func (q *Quota) Take() error {
	for {
		n := q.n.Load()
		if n >= q.max {
			return wasmactor.ErrMailboxFull
		}
		// CAS rather than Add-then-undo: an overshoot visible to other
		// takers would make them fail spuriously near the limit.
		if q.n.CompareAndSwap(n, n+1) {
			return nil
		}
	}
}

// Give returns room for n messages taken earlier. Giving back more than was
// taken is a bug in the caller's accounting and panics, like a negative
// sync.WaitGroup counter.
func (q *Quota) Give(n int) {
	if n <= 0 {
		return
	}
	if q.n.Add(-int64(n)) < 0 {
		panic("scheduler: Quota.Give returned more than was taken")
	}
}

// Outstanding reports how many messages are currently reserved.
func (q *Quota) Outstanding() int { return int(q.n.Load()) }

// Max reports the bound.
func (q *Quota) Max() int { return int(q.max) }
