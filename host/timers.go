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
// trace).
//
// The set's lock is a leaf: no other lock is taken while it is held, and a
// timer's callback takes it only through take.
type timerSet[V any] struct {
	mu     sync.Mutex
	m      map[uint64]map[uint64]ownedTimer[V] // owner → key → timer
	count  int
	closed bool
}

type ownedTimer[V any] struct {
	t *time.Timer
	v V
}

// add arms fire to run after d unless the timer is taken first. It reports
// false, arming nothing, if owner already has a timer under key or the set
// is closed. fire should take the timer (take reports whether it was still
// armed) before acting.
func (s *timerSet[V]) add(owner, key uint64, d time.Duration, v V, fire func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.m == nil {
		s.m = make(map[uint64]map[uint64]ownedTimer[V])
	}
	mine := s.m[owner]
	if _, dup := mine[key]; dup {
		return false
	}
	if mine == nil {
		mine = make(map[uint64]ownedTimer[V])
		s.m[owner] = mine
	}
	// Armed under the lock: a callback that fires at once waits in take
	// until the timer is recorded.
	mine[key] = ownedTimer[V]{t: time.AfterFunc(d, fire), v: v}
	s.count++
	return true
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
	}
	s.mu.Unlock()
	if ok {
		ot.t.Stop()
	}
	return ot.v, ok
}

// drop disarms every timer of owner: it has died.
func (s *timerSet[V]) drop(owner uint64) { s.dropThen(owner, nil) }

// dropThen is drop, then fn (if not nil) for the value of each timer
// dropped, with no lock held.
func (s *timerSet[V]) dropThen(owner uint64, fn func(V)) {
	s.mu.Lock()
	mine := s.m[owner]
	delete(s.m, owner)
	s.count -= len(mine)
	s.mu.Unlock()
	for _, ot := range mine {
		ot.t.Stop()
		if fn != nil {
			fn(ot.v)
		}
	}
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

// close disarms every timer; later adds fail.
func (s *timerSet[V]) close() {
	s.mu.Lock()
	m := s.m
	s.m, s.count, s.closed = nil, 0, true
	s.mu.Unlock()
	for _, mine := range m {
		for _, ot := range mine {
			ot.t.Stop()
		}
	}
}
