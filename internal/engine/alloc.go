package engine

import "github.com/tetratelabs/wazero/experimental"

// limitAllocator backs one instance's linear memory and enforces the page
// limit itself, so the engine knows when a memory.grow was refused and can
// name the failure "oom" instead of an anonymous trap (see New).
//
// It is used only by the goroutine running the instance's calls.
type limitAllocator struct {
	limit   uint64 // bytes
	buf     []byte
	refused bool   // a grow past the limit was refused
	over    bool   // the module's minimum memory is over the limit
	peak    uint64 // largest size handed out, in bytes
	started bool   // the initial allocation is done
}

func (a *limitAllocator) Allocate(capacity, _ uint64) experimental.LinearMemory {
	a.buf = make([]byte, 0, min(capacity, a.limit))
	return a
}

func (a *limitAllocator) Reallocate(size uint64) []byte {
	if size > a.limit {
		if a.started {
			a.refused = true
			return nil
		}
		// The initial allocation: wazero cannot take a refusal here, so give
		// the module its minimum and let the caller fail the instance.
		a.over = true
	}
	a.started = true
	if size <= uint64(cap(a.buf)) {
		a.buf = a.buf[:size]
	} else {
		// Grow like append, but never reserve past the limit.
		nc := max(size, min(2*uint64(cap(a.buf)), a.limit))
		nb := make([]byte, size, nc)
		copy(nb, a.buf)
		a.buf = nb
	}
	a.peak = max(a.peak, size)
	return a.buf
}

func (a *limitAllocator) Free() { a.buf = nil }
