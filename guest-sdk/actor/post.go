package actor

import (
	"encoding/binary"
	"strconv"
)

// Posted tells ([Context.Post]) wait in the instance's outbox and reach the
// host in one send_batch call (docs/abi.md, "Batched sends"): a Go guest
// pays for every import call far more than for the copy into the outbox.
//
// The outbox is flushed before any other request to the host (by any actor
// of the instance: requests keep the order the code made them in), when a
// different actor posts, when it is full, and when the callback that posted
// returns. So a posted tell is queued or refused by the time its callback
// is over, exactly where a Send made at the flush would have been.

// send_batch entries: a 32-byte header (size, status, to, payload length),
// then the payload, the whole padded to a multiple of 8.
const (
	postHeader = 32
	// postMax is the largest payload that goes through the outbox; a
	// larger one is sent with send at once (after the outbox), so the
	// outbox stays small and the payload is copied once.
	postMax = 4 << 10
	// outboxFlushAt is the outbox size that triggers a flush.
	outboxFlushAt = 64 << 10
)

// outbox is the instance's buffer of posted tells, all from one actor.
type outbox struct {
	buf []byte // entries in buf[:end]; len(buf) is its capacity
	end int
	n   int      // entries in buf[:end]
	c   *Context // the actor that posted them
	// flush is flushPosts, set by the first post. Called through this
	// field, send_batch is linked into a guest only if the guest posts, so
	// a guest that never does runs on nodes without the import.
	flush func(*instance) (int, uint32)
}

// Post sends v, encoded as CBOR, to the actor to, batched with this
// actor's other posted messages into one request to the host. It is
// [Context.Send] for actors that send many messages in one callback: much
// cheaper per message, but the host's verdict comes later.
//
// Posted messages go out in order, before this instance's next other
// request to the host (a Send, Ask, Reply, Spawn, Kill, Stop...), so every
// request keeps the order the code made it in, and at the latest when the
// callback returns. A posted message the host refuses (the target's
// mailbox is full, it does not exist, its node is down...) is counted in
// [Context.Refused]; [Context.Flush] sends the posted messages at once and
// reports the refusals among them. The error Post returns is an encoding
// error: the message was not posted.
func (c *Context) Post(to PID, v any) error {
	b, err := c.in.encode(v)
	if err != nil {
		return err
	}
	c.PostRaw(to, b)
	return nil
}

// PostRaw is [Context.Post] with data sent as is. data is copied before
// PostRaw returns, so it may be reused at once.
func (c *Context) PostRaw(to PID, data []byte) {
	// The common case, a post by the actor whose posts wait, with room
	// for it, takes one branch and stores no pointer: in a Go wasm guest
	// every taken branch and every pointer store's write-barrier check is
	// an exit from the guest when the node interrupts runaway guests
	// (about 35 ns each, BenchmarkWazeroLoop); the rest is postSlow's.
	o := &c.in.out
	size := (postHeader + len(data) + 7) &^ 7
	off := o.end
	if o.c != c || len(data) > postMax || off+size > len(o.buf) {
		if off = c.postSlow(to, data, size); off < 0 {
			return
		}
	}
	// An array pointer: one bounds check for the header's fields.
	h := (*[postHeader]byte)(o.buf[off:])
	le := binary.LittleEndian
	le.PutUint32(h[0:], uint32(size))
	le.PutUint32(h[4:], 0) // status (the host's), reserved
	le.PutUint64(h[8:], to.Incarnation)
	le.PutUint64(h[16:], to.Serial)
	le.PutUint32(h[24:], uint32(len(data)))
	le.PutUint32(h[28:], 0)
	// The padding keeps what an earlier post left there: the host reads
	// only payload_len bytes, and the buffer is the guest's own memory.
	copy(o.buf[off+postHeader:], data)
	o.end = off + size
	o.n++
}

// postSlow makes room in the outbox for an entry of size bytes posted by
// c, and returns where it goes; or sends a large payload at once (after
// the outbox) and returns -1.
func (c *Context) postSlow(to PID, data []byte, size int) int {
	in := c.in
	o := &in.out
	if o.c != c && o.n != 0 {
		in.flushPosts()
	}
	if len(data) > postMax {
		in.flushPosts()
		if code := in.host.send(c.id, to, data); code != codeOK {
			c.refusedPosts(1)
		}
		return -1
	}
	if o.end+size > outboxFlushAt && o.n != 0 {
		in.flushPosts()
	}
	o.c, o.flush = c, (*instance).flushPosts
	if o.end+size > len(o.buf) {
		// The buffer is used up to o.end and kept at its full length, so
		// that a post stores no slice.
		nb := make([]byte, max(2*len(o.buf), o.end+size, 4096))
		copy(nb, o.buf[:o.end])
		o.buf = nb
	}
	return o.end
}

// Flush sends this actor's posted messages now, rather than before the
// next request or when the callback returns. It returns nil if the host
// queued every one of them, or a [*PostError] saying how many it refused
// and why the first was (errors.Is(err, ErrMailboxFull)...); they are
// counted in [Context.Refused] too.
func (c *Context) Flush() error {
	o := &c.in.out
	if o.n == 0 || o.c != c {
		return nil
	}
	refused, first := c.in.flushPosts()
	if refused == 0 {
		return nil
	}
	return &PostError{Refused: refused, Err: codeError(first)}
}

// Refused returns how many of this actor's posted messages the host has
// refused so far ([Context.Post]).
func (c *Context) Refused() uint64 {
	if c.x == nil {
		return 0
	}
	return c.x.refused
}

// refusedPosts counts n refused posts of c.
func (c *Context) refusedPosts(n int) { c.ext().refused += uint64(n) }

// PostError reports posted messages that the host refused: how many, and
// the reason of the first, which it unwraps to.
type PostError struct {
	Refused int
	Err     error
}

func (e *PostError) Error() string {
	return "wasmactor: " + strconv.Itoa(e.Refused) + " posted messages refused, the first: " + e.Err.Error()
}

func (e *PostError) Unwrap() error { return e.Err }

// now returns the host after flushing the outbox: every request other than
// a posted tell goes through it, so that requests reach the host in the
// order the code made them.
func (in *instance) now() hostAPI {
	if in.out.n != 0 {
		in.out.flush(in)
	}
	return in.host
}

// flushPosts sends the outbox with one send_batch call and counts the
// refusals against the actor that posted. It returns how many were
// refused and the code of the first.
func (in *instance) flushPosts() (refused int, first uint32) {
	o := &in.out
	if o.n == 0 {
		return 0, codeOK
	}
	c, n := o.c, o.n
	r := in.host.sendBatch(c.id, o.buf[:o.end])
	switch {
	case r < 0:
		// Refused whole (the actor may no longer send): nothing went.
		refused, first = n, uint32(-r)
	case r > 0:
		refused = int(r)
		le := binary.LittleEndian
		for off := 0; off < o.end; off += int(le.Uint32(o.buf[off:])) {
			if code := le.Uint16(o.buf[off+4:]); code != codeOK {
				first = uint32(code)
				break
			}
		}
		if first == codeOK {
			first = codeInternal // a host that counted a refusal it did not mark
		}
	}
	o.end, o.n, o.c = 0, 0, nil
	if refused > 0 {
		c.refusedPosts(refused)
	}
	return refused, first
}
