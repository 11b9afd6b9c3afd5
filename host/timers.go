package host

import (
	"sync"
	"time"
)

// timerSet holds timers that actors own: the timeouts of their pending asks
// and their SendAfter timers. Timers are indexed by owner (an actor's
// serial) and by a key unique for that owner, so an actor's death stops its
// own timers in time proportional to their number, and Close stops them all.
// Each timer carries a value V (for asks, the actor asked and the ask's
// trace) and a size (for SendAfter, the payload it holds).
//
// The set is bounded (see bound): per owner, in all, and in bytes.
//
// The set's lock is a leaf: no other lock is taken while it is held, and a
// timer's callback takes it only through take.
type timerSet[V any] struct {
	mu     sync.Mutex
	m      map[uint64]map[uint64]ownedTimer[V] // owner → key → timer
	count  int
	bytes  int64
	closed bool

	perOwner, total int   // bounds on the timers of one owner and of all; 0: none
	maxBytes        int64 // bound on the sizes of all; 0: none
}

type ownedTimer[V any] struct {
	t    *time.Timer
	v    V
	size int64
}

// addResult is why add armed a timer or did not.
type addResult uint8

const (
	added       addResult = iota
	addDup                // the owner has a timer under that key
	addClosed             // the set is closed
	addPerOwner           // the owner holds its bound of timers
	addTotal              // the set holds its bound of timers
	addBytes              // the set holds its bound of bytes
)

// bound sets the set's bounds (0: none). Call it before the set is used.
func (s *timerSet[V]) bound(perOwner, total int, maxBytes int64) {
	s.perOwner, s.total, s.maxBytes = perOwner, total, maxBytes
}

// add arms fire to run after d unless the timer is taken first, unless the
// owner already has a timer under key, the set is closed, or a bound would
// be passed (the result says which). fire should take the timer (take
// reports whether it was still armed) before acting.
func (s *timerSet[V]) add(owner, key uint64, d time.Duration, v V, size int64, fire func()) addResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return addClosed
	}
	mine := s.m[owner]
	switch _, dup := mine[key]; {
	case dup:
		return addDup
	case s.perOwner > 0 && len(mine) >= s.perOwner:
		return addPerOwner
	case s.total > 0 && s.count >= s.total:
		return addTotal
	case s.maxBytes > 0 && s.bytes+size > s.maxBytes:
		return addBytes
	}
	if s.m == nil {
		s.m = make(map[uint64]map[uint64]ownedTimer[V])
	}
	if mine == nil {
		mine = make(map[uint64]ownedTimer[V])
		s.m[owner] = mine
	}
	// Armed under the lock: a callback that fires at once waits in take
	// until the timer is recorded.
	mine[key] = ownedTimer[V]{t: time.AfterFunc(d, fire), v: v, size: size}
	s.count++
	s.bytes += size
	return added
}

// take disarms and removes one timer, reporting whether it was armed.
func (s *timerSet[V]) take(owner, key uint64) (V, bool) {
	return s.takeIf(owner, key, nil)
}

// takeIf is take for a timer whose value satisfies match (any if nil).
func (s *timerSet[V]) takeIf(owner, key uint64, match func(V) bool) (V, bool) {
	s.mu.Lock()
	mine := s.m[owner]
	ot, ok := mine[key]
	if ok && match != nil && !match(ot.v) {
		ok = false
	}
	if ok {
		delete(mine, key)
		if len(mine) == 0 {
			delete(s.m, owner)
		}
		s.count--
		s.bytes -= ot.size
	}
	s.mu.Unlock()
	if ok {
		ot.t.Stop()
	}
	return ot.v, ok
}

// drop disarms every timer of owner: it has died.
func (s *timerSet[V]) drop(owner uint64) { s.dropThen(owner, nil) }

// dropThen is drop, then fn (if not nil) for the key and value of each
// timer dropped, with no lock held.
func (s *timerSet[V]) dropThen(owner uint64, fn func(key uint64, v V)) {
	s.mu.Lock()
	mine := s.m[owner]
	delete(s.m, owner)
	s.count -= len(mine)
	for _, ot := range mine {
		s.bytes -= ot.size
	}
	s.mu.Unlock()
	for key, ot := range mine {
		ot.t.Stop()
		if fn != nil {
			fn(key, ot.v)
		}
	}
}

// takeAll disarms and removes every timer of owner and returns their
// values: they move with their owner (migrate.go).
func (s *timerSet[V]) takeAll(owner uint64) []V {
	var out []V
	s.dropThen(owner, func(_ uint64, v V) { out = append(out, v) })
	return out
}

// keys lists the (owner, key) pairs whose value matches.
func (s *timerSet[V]) keys(match func(V) bool) [][2]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][2]uint64
	for owner, mine := range s.m {
		for key, ot := range mine {
			if match(ot.v) {
				out = append(out, [2]uint64{owner, key})
			}
		}
	}
	return out
}

// len is the number of armed timers.
func (s *timerSet[V]) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// size is the sum of the armed timers' sizes.
func (s *timerSet[V]) size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// close disarms every timer; later adds fail.
func (s *timerSet[V]) close() {
	s.mu.Lock()
	m := s.m
	s.m, s.count, s.bytes, s.closed = nil, 0, 0, true
	s.mu.Unlock()
	for _, mine := range m {
		for _, ot := range mine {
			ot.t.Stop()
		}
	}
}
