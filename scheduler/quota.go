package scheduler

import (
	"fmt"
	"sync/atomic"

	"github.com/wasmactor/wasmactor"
)

// Bounds of a [Quota]: both counts live in one 64-bit word, so that taking
// a message checks and reserves its place and its bytes in one atomic step.
const (
	// MaxQuotaMessages is the largest message bound a Quota takes (the
	// count's top bit is left free, so that an accounting bug that takes
	// the count below zero is seen).
	MaxQuotaMessages = 1<<23 - 1
	// MaxQuotaBytes is the largest byte bound a Quota takes (1 TiB).
	MaxQuotaBytes = 1<<40 - 1
)

const (
	countShift = 40
	bytesMask  = 1<<countShift - 1
)

// Quota bounds the user messages queued for one actor, in number and in
// bytes: [Quota.TakeBytes] (or [Quota.Take]) before queuing,
// [Quota.GiveBytes] (or [Quota.Give]) once the messages left the mailbox
// (delivered or discarded). The zero value refuses everything; set the
// bounds with [NewQuota], [Quota.Init] or [Quota.InitBytes].
//
// # Notes
//
// A message larger than the byte bound is accepted only when nothing else
// is queued, so a bound below the largest message never makes that message
// undeliverable. A Quota is 16 bytes: a node holds one per actor.
type Quota struct {
	max uint64        // messages<<40 | bytes: the bounds, set before the quota is shared
	v   atomic.Uint64 // messages<<40 | bytes: what is taken
}

// NewQuota returns a quota allowing max outstanding messages of any size.
func NewQuota(max int) *Quota {
	q := &Quota{}
	q.Init(max)
	return q
}

// Init sets the message bound and leaves bytes unbounded (up to
// [MaxQuotaBytes]). It must be called before the quota is shared; it
// panics if max is not 1..[MaxQuotaMessages] because a mailbox that
// accepts nothing is a configuration bug, not a runtime condition.
func (q *Quota) Init(max int) { q.InitBytes(max, MaxQuotaBytes) }

// InitBytes sets both bounds: at most max messages and, except for a lone
// message, maxBytes bytes of them. Like Init it panics on a bound out of
// range (max 1..[MaxQuotaMessages], maxBytes 1..[MaxQuotaBytes]).
func (q *Quota) InitBytes(max, maxBytes int) {
	if max < 1 || max > MaxQuotaMessages {
		panic(fmt.Sprintf("scheduler: Quota.Init(%d): max must be 1..%d", max, MaxQuotaMessages))
	}
	if maxBytes < 1 || maxBytes > MaxQuotaBytes {
		panic(fmt.Sprintf("scheduler: Quota.InitBytes(%d): maxBytes must be 1..%d", maxBytes, MaxQuotaBytes))
	}
	q.max = uint64(max)<<countShift | uint64(maxBytes)
}

// Take reserves room for one message whose size does not count; see
// TakeBytes.
func (q *Quota) Take() error { return q.TakeBytes(0) }

// TakeBytes reserves room for one message of n bytes. It returns
// [wasmactor.ErrMailboxFull] (the sentinel itself, so the hot failure path
// does not allocate) when max messages are outstanding, or when their bytes
// and n would exceed the byte bound and at least one message is queued.
func (q *Quota) TakeBytes(n int) error {
	lim := q.max
	maxCount, maxBytes := lim>>countShift, lim&bytesMask
	size := min(uint64(max(n, 0)), MaxQuotaBytes)
	for {
		v := q.v.Load()
		count, bytes := v>>countShift, v&bytesMask
		if count >= maxCount || count > 0 && bytes+size > maxBytes {
			return wasmactor.ErrMailboxFull
		}
		if bytes+size > bytesMask {
			return wasmactor.ErrMailboxFull // a lone message cannot overflow the field
		}
		// CAS rather than Add-then-undo: an overshoot visible to other
		// takers would make them fail spuriously near the limit.
		if q.v.CompareAndSwap(v, v+1<<countShift+size) {
			return nil
		}
	}
}

// Give returns room for n messages taken with Take (of no size).
func (q *Quota) Give(n int) { q.GiveBytes(n, 0) }

// GiveBytes returns room for n messages of bytes bytes in all, taken
// earlier. Giving back more messages than were taken is a bug in the
// caller's accounting and panics, like a negative sync.WaitGroup counter.
func (q *Quota) GiveBytes(n, bytes int) {
	n, bytes = max(n, 0), max(bytes, 0)
	if n == 0 && bytes == 0 {
		return
	}
	// One add, as on the hot path it always was: a count taken below zero
	// wraps past the bound, which no count reaches otherwise.
	if v := q.v.Add(-(uint64(n)<<countShift + uint64(bytes))); v>>countShift > q.max>>countShift {
		panic("scheduler: Quota.Give returned more than was taken")
	}
}

// Outstanding reports how many messages are currently reserved.
func (q *Quota) Outstanding() int { return int(q.v.Load() >> countShift) }

// OutstandingBytes reports the bytes of the messages currently reserved.
func (q *Quota) OutstandingBytes() int { return int(q.v.Load() & bytesMask) }

// Max reports the message bound.
func (q *Quota) Max() int { return int(q.max >> countShift) }

// MaxBytes reports the byte bound.
func (q *Quota) MaxBytes() int { return int(q.max & bytesMask) }
