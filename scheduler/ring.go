package scheduler

// ring is a growable FIFO ring buffer. Its length is always a power of two so
// the index wrap is a mask, not a division. Not safe for concurrent use; the
// owners hold their own lock.
type ring[T any] struct {
	buf  []T
	head int
	n    int
}

// minRing is the first allocation; small enough that an idle actor's mailbox
// costs little, big enough that a busy one rarely grows.
const minRing = 16

// shrinkAbove is the capacity beyond which an emptied ring gives its buffer
// back, so one burst does not pin memory for the life of an instance.
const shrinkAbove = 1 << 12

func (r *ring[T]) push(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = v
	r.n++
}

func (r *ring[T]) grow() {
	size := 2 * len(r.buf)
	if size < minRing {
		size = minRing
	}
	nb := make([]T, size)
	if r.n > 0 {
		// Copy in order so head restarts at 0.
		k := copy(nb, r.buf[r.head:])
		if k < r.n {
			copy(nb[k:], r.buf[:r.n-k])
		}
	}
	r.buf = nb
	r.head = 0
}

// pop removes the oldest element; the caller checks n > 0.
func (r *ring[T]) pop() T {
	var zero T
	v := r.buf[r.head]
	r.buf[r.head] = zero // let the GC have what the element points to
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	return v
}

// drainTo appends up to max elements to dst in FIFO order and removes them.
func (r *ring[T]) drainTo(dst []T, max int) []T {
	k := r.n
	if k > max {
		k = max
	}
	if k <= 0 {
		return dst
	}
	mask := len(r.buf) - 1
	// At most two contiguous runs: head..end of buffer, then from 0.
	first := len(r.buf) - r.head
	if first > k {
		first = k
	}
	run := r.buf[r.head : r.head+first]
	dst = append(dst, run...)
	clear(run)
	if rest := k - first; rest > 0 {
		run = r.buf[:rest]
		dst = append(dst, run...)
		clear(run)
	}
	r.head = (r.head + k) & mask
	r.n -= k
	if r.n == 0 {
		r.head = 0
		if len(r.buf) > shrinkAbove {
			r.buf = nil
		}
	}
	return dst
}
