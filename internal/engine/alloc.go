package engine

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// limitAllocator backs one instance's linear memory and enforces the page
// limit itself, so the engine knows when a memory.grow was refused and can
// name the failure "oom" instead of an anonymous trap (see New).
//
// Where the platform allows (mmap_unix.go), it reserves the whole limit of
// address space up front and commits pages as the guest grows, so growth
// never copies and untouched memory costs nothing; elsewhere it grows a Go
// slice like append.
//
// It is used only by the goroutine running the instance's calls, except
// size, which anyone may read.
type limitAllocator struct {
	// size mirrors len(buf) for readers outside the call (Stats): they must
	// not wait for the instance's lock, which a running turn holds while it
	// may itself wait for host locks.
	size    atomic.Uint64
	limit   uint64 // bytes
	buf     []byte
	mapped  []byte // the reservation, when mmap is used
	refused bool   // a grow past the limit was refused
	over    bool   // the module's minimum memory is over the limit
	peak    uint64 // largest size handed out, in bytes
	started bool   // the initial allocation is done
}

// useMmap turns the reservation off, for benchmarks comparing the two.
var useMmap = mmapSupported

func (a *limitAllocator) Allocate(capacity, _ uint64) experimental.LinearMemory {
	if useMmap {
		if m, err := mmapReserve(a.limit); err == nil {
			a.mapped = m
			a.buf = m[:0]
			return a
		}
	}
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
		// the module its minimum (from the Go heap) and let the caller fail
		// the instance.
		a.over = true
		a.free()
		a.buf = make([]byte, 0, size)
	}
	a.started = true
	switch {
	case size <= uint64(len(a.buf)):
		a.buf = a.buf[:size]
	case a.mapped != nil:
		if err := mmapCommit(a.mapped, uint64(len(a.buf)), size); err != nil {
			a.refused = true
			return nil
		}
		a.buf = a.mapped[:size]
	case size <= uint64(cap(a.buf)):
		a.buf = a.buf[:size]
	default:
		// Grow like append, but never reserve past the limit.
		nb := make([]byte, size, max(size, min(2*uint64(cap(a.buf)), a.limit)))
		copy(nb, a.buf)
		a.buf = nb
	}
	a.peak = max(a.peak, size)
	a.size.Store(size)
	return a.buf
}

func (a *limitAllocator) Free() { a.free() }

func (a *limitAllocator) free() {
	a.size.Store(0)
	if a.mapped != nil {
		mmapRelease(a.mapped)
		a.mapped = nil
	}
	a.buf = nil
}
