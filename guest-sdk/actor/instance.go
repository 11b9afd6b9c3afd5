package actor

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
)

// instance is the guest side of one module instance: the factories, the live
// actors and the buffers the ABI exports hand to the host. The wasip1
// exports drive the package-level inst; tests build their own with a fake
// host.
type instance struct {
	host      hostAPI
	factories map[string]*factory
	actors    actorTable

	incarnation     uint64 // self_node, fetched on the first delivery
	haveIncarnation bool

	inbox   []byte
	names   []byte       // wasmactor_factories result, kept alive for the host
	snaps   []byte       // wasmactor_snapshotters result, likewise
	state   []byte       // last wasmactor_snapshot result, kept alive likewise
	encBuf  bytes.Buffer // reused by Send, Ask, Reply...
	logBuf  []byte       // reused by Log
	typBuf  []byte       // reused by typed sends and replies (typed.go)
	members []PID        // reused by GroupMembers
	out     outbox       // posted tells (post.go)

	diag io.Writer // panic stacks and snapshot errors; stderr reaches the node's log

	// last caches the most recent lookup: a batch often holds runs of
	// records for one actor, and a map lookup costs a Go wasm guest far
	// more than a compare. Cleared whenever an actor is added or removed.
	last   *Context
	lastID uint64

	lastFactory *factory // the factory of the last START

	// req is the ask that reqOf is handling; reqOf is nil outside an ask
	// and once it is answered. Here rather than in every Context: one
	// actor runs at a time.
	req   Request
	reqOf *Context

	lastRef uint64 // ask refs: unique per instance, hence per actor
	broken  bool   // a delivery failed; the host discards the instance
}

var inst = newInstance(newHost(), registry)

func newInstance(h hostAPI, factories map[string]*factory) *instance {
	return &instance{host: h, factories: factories, diag: os.Stderr}
}

// Inbox sizing: the first buffer is big enough for typical batches so the
// host rarely asks again; beyond maxInbox the request is refused (the
// default instance memory is 64 MiB in all).
const (
	minInbox = 64 << 10
	maxInbox = 32 << 20
)

// inboxFor implements wasmactor_inbox: a buffer of at least size bytes, nil
// if that is unreasonable. A new buffer replaces the old one, which the host
// no longer uses.
func (in *instance) inboxFor(size uint32) []byte {
	if size > maxInbox {
		return nil
	}
	if int(size) <= len(in.inbox) && in.inbox != nil {
		return in.inbox
	}
	n := max(minInbox, 2*len(in.inbox))
	for n < int(size) {
		n *= 2
	}
	in.inbox = make([]byte, min(n, maxInbox))
	return in.inbox
}

// factoryList implements wasmactor_factories.
func (in *instance) factoryList() []byte {
	if in.names == nil {
		in.names = factoryNames(in.factories)
	}
	return in.names
}

// snapshotterList implements wasmactor_snapshotters: the factories whose
// actors implement Snapshotter, in the layout of wasmactor_factories. A
// node that runs a new module on its interpreter while it compiles it
// starts only these actors at once (it moves them to the compiled code
// with a snapshot); the others wait for the compiler. The SDK learns it by
// calling each constructor once and discarding the actor; a constructor
// that panics counts as not snapshotting.
func (in *instance) snapshotterList() []byte {
	if in.snaps == nil {
		snaps := make(map[string]*factory)
		for name, f := range in.factories {
			if snapshots(f) {
				snaps[name] = f
			}
		}
		in.snaps = factoryNames(snaps)
	}
	return in.snaps
}

func snapshots(f *factory) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, ok = f.new().(Snapshotter)
	return ok
}

// Refusals of wasmactor_snapshot (docs/abi.md): the export returns -code.
const (
	snapNoActor     = 2 // no actor with that id
	snapUnsupported = 3 // its factory does not implement Snapshotter
	snapFailed      = 4 // Snapshot returned an error or panicked
)

// snapshot implements wasmactor_snapshot: the actor's state (with its
// version in front, see [SnapshotVersioner]) or, as refusal, why there is
// none. Imports are not allowed here, so why a Snapshot failed goes to
// stderr, which reaches the node's log and the error of the upgrade or
// migration that asked.
func (in *instance) snapshot(id uint64) (state []byte, refusal int) {
	c := in.actors.get(id)
	if c == nil || in.broken {
		return nil, snapNoActor
	}
	s, isSnap := c.actor.(Snapshotter)
	if !isSnap {
		return nil, snapUnsupported
	}
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(in.diag, "wasmactor: actor %d: panic in Snapshot: %v\n%s", id, r, debug.Stack())
			state, refusal = nil, snapFailed
		}
	}()
	st, err := s.Snapshot()
	if err != nil {
		fmt.Fprintf(in.diag, "wasmactor: actor %d: Snapshot: %v\n", id, err)
		return nil, snapFailed
	}
	st = frameSnapshot(c.actor, st)
	if st == nil {
		st = []byte{}
	}
	in.state = st
	return st, 0
}

// deliver implements wasmactor_deliver for the n bytes at the start of the
// inbox: 0 on success, 1 when the instance is broken (fail was called).
func (in *instance) deliver(n uint32) int32 {
	if in.broken {
		in.fail("wasmactor: instance already failed")
		return 1
	}
	if uint64(n) > uint64(len(in.inbox)) {
		in.fail("wasmactor: malformed batch: length " + strconv.FormatUint(uint64(n), 10) +
			" exceeds the inbox (" + strconv.Itoa(len(in.inbox)) + " bytes)")
		return 1
	}
	return in.deliverBatch(in.inbox[:n])
}

// deliverBatch runs every record of b in order. Any panic in user code (or
// in the SDK) is recovered into a fail("panic: ...") and a 1, and the
// instance refuses further work: the host discards it, and every actor in it
// dies with that reason.
func (in *instance) deliverBatch(b []byte) (rc int32) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(in.diag, "wasmactor: panic: %v\n%s", r, debug.Stack())
			in.fail(fmt.Sprintf("panic: %v", r))
			rc = 1
		}
	}()
	if !in.haveIncarnation && len(b) > 0 {
		in.incarnation = in.host.selfNode()
		in.haveIncarnation = true
	}
	le := binary.LittleEndian
	for off := 0; off < len(b); {
		// Tells and asks are the bulk of every batch: their header is read
		// here, field by field, rather than by parseRecord and dispatch. In
		// a Go wasm guest a call costs more than a tell's work, a struct
		// returned costs a memory.fill and two memory.copy calls, and with
		// interruption on every call and every taken branch is an exit from
		// the guest (docs/figures-perf.md). A malformed record falls
		// through to parseRecord, which says what is wrong with it.
		if rest := b[off:]; len(rest) >= headerSize {
			h := (*[headerSize]byte)(rest)
			kind, size, plen := le.Uint16(h[4:]), le.Uint32(h[0:]), le.Uint32(h[40:])
			// size-headerSize wraps for a size under the header, so one
			// compare checks both ends of size.
			if kind-kindTell < 2 && size%8 == 0 && uint64(size-headerSize) <= uint64(len(rest)-headerSize) &&
				plen <= size-headerSize {
				if c := in.lookup(le.Uint64(h[8:])); c != nil {
					from := PID{Incarnation: le.Uint64(h[16:]), Serial: le.Uint64(h[24:])}
					ref := le.Uint64(h[32:])
					if kind == kindAsk {
						in.req = Request{From: from, Ref: ref}
						in.reqOf = c
					}
					c.actor.Receive(c, Message{data: rest[headerSize : headerSize+plen : headerSize+plen], from: from, ref: ref, kind: kind})
					in.reqOf = nil
					if c.x != nil && c.x.stopping {
						in.after(c)
					}
				}
				if in.out.n != 0 {
					in.out.flush(in) // the callback is over: its posts go now
				}
				off += int(size)
				continue
			}
		}
		rec, next, err := parseRecord(b, off)
		if err != nil {
			in.fail(err.Error())
			return 1
		}
		if err := in.dispatch(&rec); err != "" {
			in.fail("wasmactor: malformed batch: record at offset " + strconv.Itoa(off) + ": " + err)
			return 1
		}
		if in.out.n != 0 {
			in.out.flush(in)
		}
		off = next
	}
	return 0
}

func (in *instance) fail(reason string) {
	in.broken = true
	in.now().fail(reason)
}

// dispatch runs one record other than a tell or an ask. It returns a non-empty text when the record
// breaks the ABI (a protocol error the instance fails on); records for
// actors this instance does not hold are dropped, because an actor that
// stopped itself may still have records in flight.
func (in *instance) dispatch(r *record) string {
	switch r.kind {
	case kindStart, kindRestore:
		return in.start(r)
	case kindReply:
		c := in.lookup(r.actor)
		if c == nil {
			return ""
		}
		if c.x == nil {
			return "" // an answer nobody waits for
		}
		then, ok := c.x.pending[r.ref]
		if !ok {
			return "" // an answer nobody waits for (e.g. after a deferred timeout)
		}
		delete(c.x.pending, r.ref)
		var err error
		if r.status != codeOK {
			err = codeError(uint32(r.status))
		}
		then(c, Message{data: r.payload, from: r.from, ref: r.ref, kind: r.kind}, err)
		in.after(c)
	case kindDown:
		c := in.lookup(r.actor)
		if c == nil {
			return ""
		}
		if h, ok := c.actor.(DownHandler); ok {
			h.HandleDown(c, Down{Ref: Ref(r.ref), PID: r.from, Reason: reasonText(r.payload)})
			in.after(c)
		}
	case kindExit:
		c := in.lookup(r.actor)
		if c == nil {
			return ""
		}
		if h, ok := c.actor.(ExitHandler); ok {
			h.HandleExit(c, Exit{PID: r.from, Reason: reasonText(r.payload)})
			in.after(c)
		}
	case kindDrop:
		// The actor lives on elsewhere (a new version, another node): forget
		// it here without running Terminate.
		if in.lookup(r.actor) != nil {
			in.remove(r.actor)
		}
	case kindNodeDown:
		c := in.lookup(r.actor)
		if c == nil {
			return ""
		}
		if h, ok := c.actor.(NodeDownHandler); ok {
			node, reason, ok := splitStart(r.payload) // the same layout: u16 length, name, rest
			if !ok {
				return "NODEDOWN payload too short for its node name"
			}
			h.HandleNodeDown(c, NodeDown{Ref: Ref(r.ref), Node: string(node), Incarnation: r.from.Incarnation, Reason: string(reason)})
			in.after(c)
		}
	case kindGroup:
		c := in.lookup(r.actor)
		if c == nil {
			return ""
		}
		if len(r.payload) < 1 {
			return "GROUP record without its event"
		}
		ev := r.payload[0]
		if ev != groupJoined && ev != groupLeft && ev != groupOverflow {
			return "" // an event of a newer host
		}
		if h, ok := c.actor.(GroupHandler); ok {
			h.HandleGroup(c, GroupEvent{Ref: Ref(r.ref), Group: string(r.payload[1:]), PID: r.from,
				Joined: ev == groupJoined, Overflow: ev == groupOverflow})
			in.after(c)
		}
	case kindSpawned:
		c := in.lookup(r.actor)
		if c == nil {
			return ""
		}
		if c.x == nil {
			return ""
		}
		then, ok := c.x.spawns[r.ref]
		if !ok {
			return ""
		}
		delete(c.x.spawns, r.ref)
		var err error
		var mon Ref
		if r.status != codeOK {
			err = codeError(uint32(r.status))
		} else if len(r.payload) >= 8 {
			mon = Ref(binary.LittleEndian.Uint64(r.payload))
		}
		then(c, r.from, mon, err)
		in.after(c)
	case kindStop:
		c := in.lookup(r.actor)
		if c == nil {
			return ""
		}
		// The host already counts the actor dead: no stop import, and
		// requests made from Terminate are refused by the host.
		if c.x == nil {
			c.x = &stoppedByHost
		} else {
			c.x.stopping = true
		}
		in.remove(c.id)
		if s, ok := c.actor.(Stopper); ok {
			s.Terminate(c, reasonText(r.payload))
		}
	}
	// Unknown kinds are ignored: the ABI may add kinds within a version.
	return ""
}

// lookup returns the live actor with the id, or nil. It is small enough
// to inline into the receive loop (TestReceivePathCalls): the table's
// probe is in lookupTable.
func (in *instance) lookup(id uint64) *Context {
	if c := in.last; c != nil && in.lastID == id {
		return c
	}
	return in.lookupTable(id)
}

//go:noinline
func (in *instance) lookupTable(id uint64) *Context {
	c := in.actors.get(id)
	if c != nil {
		in.last, in.lastID = c, id
	}
	return c
}

// add adds c; false if an actor with its id is running already.
func (in *instance) add(c *Context) bool {
	in.last = nil
	return in.actors.put(c)
}

func (in *instance) remove(id uint64) {
	in.actors.delete(id)
	in.last = nil
}

// start handles START and RESTORE.
func (in *instance) start(r *record) string {
	name, rest, ok := splitStart(r.payload)
	if !ok {
		return "START payload too short for its factory name"
	}
	// A spawn storm repeats one factory: a compare instead of a map lookup
	// (each costs a Go wasm guest far more than natively).
	f := in.lastFactory
	if f == nil || !sameName(f.name, name) {
		var ok bool
		if f, ok = in.factories[string(name)]; !ok {
			if in.actors.get(r.actor) != nil {
				return "START for actor " + strconv.FormatUint(r.actor, 10) + ", which is already running"
			}
			// The host resolves factories against this module's own list, so
			// this is unlikely; the actor stops instead of failing everyone.
			in.now().stop(r.actor, "wasmactor: unknown factory "+strconv.Quote(string(name)))
			return ""
		}
		in.lastFactory = f
	}
	c := &Context{in: in, id: r.actor, parent: r.from, fac: f}
	// One table operation instead of a lookup and an insert: a duplicate
	// START is refused by the insert. It breaks the ABI: the instance fails.
	if !in.add(c) {
		return "START for actor " + strconv.FormatUint(r.actor, 10) + ", which is already running"
	}
	c.actor = f.new()
	if c.actor == nil {
		in.remove(c.id)
		in.now().stop(r.actor, "wasmactor: factory "+strconv.Quote(c.Factory())+" returned nil")
		return ""
	}

	var err error
	if r.kind == kindRestore {
		err = restore(c, rest)
	} else if s, ok := c.actor.(Starter); ok {
		err = s.Init(c, Message{data: rest, from: r.from, kind: r.kind})
	}
	if err != nil {
		in.remove(c.id)
		in.now().stop(c.id, err.Error())
		return ""
	}
	if c.stopping() { // a call saved per START, which most actors need
		in.after(c)
	}
	return ""
}

// sameName reports whether b spells s. Comparing a factory name byte by
// byte, inlined, saves a Go wasm guest the two runtime calls of a string
// compare on every START.
func sameName(s string, b []byte) bool {
	if len(s) != len(b) {
		return false
	}
	for i := range len(b) {
		if s[i] != b[i] {
			return false
		}
	}
	return true
}

// restore rebuilds c's actor from a snapshot. A panic in the actor's code
// is an error like any other: a failed restore must leave the instance
// working, since the node keeps the actor where it was and goes on.
func restore(c *Context, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in Restore: %v", r)
		}
	}()
	version, state := unframeSnapshot(b)
	if v, ok := c.actor.(VersionedRestorer); ok {
		return v.RestoreVersion(version, state)
	}
	if s, ok := c.actor.(Snapshotter); ok {
		return s.Restore(state)
	}
	return fmt.Errorf("wasmactor: factory %q cannot restore a snapshot", c.Factory())
}

// after completes a callback: an actor that called Stop runs Terminate, the
// host learns of the stop, and the actor is forgotten, so later records for
// it in this batch are dropped.
func (in *instance) after(c *Context) {
	if !c.stopping() {
		return
	}
	in.remove(c.id)
	var reason string
	if c.x != nil {
		reason = c.x.stopReason
	}
	if s, ok := c.actor.(Stopper); ok {
		r := reason
		if r == "" {
			r = "normal"
		}
		s.Terminate(c, r)
	}
	in.now().stop(c.id, reason)
}

// reasonText copies a reason out of the inbox; reasons outlive the record.
func reasonText(p []byte) string { return string(p) }
