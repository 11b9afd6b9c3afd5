package scheduler

import "sync/atomic"

// PushIf queues v (in the system lane if system, else the user lane) only
// if gate still holds want, checked under the mailbox's lock, and reports
// whether it did.
//
// It lets a consumer take one producer's messages out of a shared mailbox
// and send that producer's later messages elsewhere without losing or
// reordering any: the owner of gate changes it, then calls [Mailbox.Extract];
// a push that took the lock first is extracted, a push that comes after sees
// the new value and is refused, so its producer routes it again.
func (m *Mailbox[T]) PushIf(v T, system bool, gate *atomic.Uint32, want uint32) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gate.Load() != want {
		return false
	}
	if system {
		m.system.push(v)
	} else {
		m.user.push(v)
	}
	m.n.Add(1)
	return true
}

// Extract removes every queued message for which match is true and returns
// them, system lane first, FIFO within each lane; the others stay queued in
// their order. match runs under the mailbox's lock and must not call back
// into the mailbox.
func (m *Mailbox[T]) Extract(match func(*T) bool) (system, user []T) {
	m.mu.Lock()
	defer m.mu.Unlock()
	system = m.system.extract(system, match)
	user = m.user.extract(user, match)
	m.n.Add(-int64(len(system) + len(user)))
	return system, user
}

// extract moves the matching elements to dst in FIFO order and compacts
// the rest in place.
func (r *ring[T]) extract(dst []T, match func(*T) bool) []T {
	if r.n == 0 {
		return dst
	}
	mask := len(r.buf) - 1
	kept := 0
	var zero T
	for i := 0; i < r.n; i++ {
		p := &r.buf[(r.head+i)&mask]
		if match(p) {
			dst = append(dst, *p)
			*p = zero
			continue
		}
		if kept != i {
			q := &r.buf[(r.head+kept)&mask]
			*q, *p = *p, zero
		}
		kept++
	}
	r.n = kept
	if r.n == 0 {
		r.head = 0
	}
	return dst
}
