package host

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/engine"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/scheduler"
)

// delivery is one record waiting in an instance's mailbox, 80 bytes: a
// spawn storm queues hundreds of thousands of them. A START's factory is
// its actor's (actor.factory, which never changes), so it takes no room
// here.
type delivery struct {
	actor   *actor
	kind    abi.Kind
	status  abi.Errno
	quota   bool   // counted against actor.quota (with the payload's bytes); given back when drained
	epoch   uint32 // GROUP only: see groupMonState
	from    abi.PID
	ref     uint64
	payload []byte
	trace   *traceCtx // the message's trace context; nil when untraced
}

// instance is one wazero instance hosting actors of one module.
type instance struct {
	n        *Node
	mod      *module
	id       uint64
	inst     *engine.Instance
	task     *scheduler.Task
	mailbox  scheduler.Mailbox[delivery]
	isolated bool
	// interp: the instance runs the interpreter's build of its module, and
	// its actors move to the compiled one when it is ready (coldstart.go).
	// retired: they are moving; no actor is pinned to it any more.
	interp  bool
	retired bool // guarded by mu
	// reserved: the instance holds its share of the node's guest memory
	// (and of its isolated instances) until unreserve.
	reserved atomic.Bool

	// turnMu is held by Turn, and by a move of one of the instance's actors
	// (mobility.go), so that the move happens between two turns.
	turnMu sync.Mutex
	// restoring is the actor a move restores into this instance; its
	// stop import is the restore's failure (mobility.go). Guarded by turnMu.
	restoring *restoreWatch

	// Owned by the goroutine running Turn (the scheduler runs a task on one
	// worker at a time), under turnMu.
	buf   []delivery
	batch engine.Batch
	asks  []pendingReply // asks in the current batch: answered if it crashes, held if not answered (held.go)
	ansAt int            // where the next answer in asks is looked for first (answeredInTurn)
	logb  *logBucket     // log rate limit of lines naming no actor of the batch
	trace turnTrace      // trace contexts of the batch's traced records, by actor
	sizes sizeTally      // the batch's message sizes, folded into the metric once per turn

	mu     sync.Mutex
	actors map[uint64]*actor
	dead   bool // failed or closed: no actor is pinned to it any more
}

func (n *Node) newInstance(ctx context.Context, m *module, isolated bool) (*instance, error) {
	build := m.build()
	if build == nil {
		return nil, fmt.Errorf("%w: module %s is not loaded", wasmactor.ErrModuleUnavailable, m.info.Hash.Short())
	}
	in := &instance{n: n, mod: m, isolated: isolated, interp: build.Interpreted(), actors: make(map[uint64]*actor)}
	eng := n.eng
	if in.interp {
		eng = n.interp
	}
	inst, err := eng.Instantiate(ctx, build, &imports{n: n, in: in})
	if err != nil {
		return nil, err
	}
	// The engine's id, which tags the guest's stdout and stderr lines: the
	// instance of `wasmactor ps` and of the node's log are the same number.
	in.id = inst.ID()
	in.inst = inst
	in.task = n.sched.NewTask(in)
	return in, nil
}

// unreserve gives back the instance's share of the node's limits, once:
// it is retired or closed.
func (in *instance) unreserve() {
	if in.reserved.CompareAndSwap(true, false) {
		in.n.releaseInstance(in.isolated)
	}
}

// load is the instance's population, and whether it is retired.
func (in *instance) load() (pop int, retired bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.actors), in.retired
}

// adopt pins a to this instance. It fails if the instance has died
// meanwhile, or if it is shared and holds max actors already.
func (in *instance) adopt(a *actor, max int) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.dead || in.retired || !in.isolated && len(in.actors) >= max {
		return false
	}
	in.actors[a.serial] = a
	return true
}

// release unpins an actor that is dead for good. An isolated or retired
// instance left with no actor is closed by its next turn, once the guest has had the
// actor's STOP (see closeIfIdle); the wake makes sure that turn comes.
func (in *instance) release(a *actor) {
	in.mu.Lock()
	delete(in.actors, a.serial)
	idle := (in.isolated || in.retired) && len(in.actors) == 0 && !in.dead
	in.mu.Unlock()
	if idle {
		in.task.Wake()
	}
}

// closeIfIdle closes an isolated or retired (coldstart.go) instance that
// hosts no actor and has nothing queued. It runs at the end of a turn, on the worker that owns the
// instance's calls: never inside a guest call, and holding no lock while
// the engine closes the instance. Records queued after it are dropped by
// the next turn (their actors are dead), asks among them answered NOPROC.
func (in *instance) closeIfIdle() {
	if in.mailbox.Len() > 0 {
		return
	}
	in.mu.Lock()
	if in.dead || len(in.actors) > 0 || !in.isolated && !in.retired {
		in.mu.Unlock()
		return
	}
	in.dead = true
	in.mu.Unlock()
	in.mod.retire(in)
	_ = in.inst.Close(context.Background())
}

func (in *instance) pushSystem(d delivery) {
	in.mailbox.PushSystem(d)
	in.task.Wake()
}

// Turn hands up to TurnBatch queued records to the guest in one call.
func (in *instance) Turn() bool {
	in.turnMu.Lock()
	defer in.turnMu.Unlock()
	n := in.n
	in.buf = in.mailbox.Drain(in.buf[:0], n.cfg.TurnBatch)
	n.metrics.depth.Observe(float64(len(in.buf) + in.mailbox.Len()))
	in.batch.Reset()
	in.mu.Lock()
	dead := in.dead
	in.mu.Unlock()
	var rec engine.Record
	in.asks, in.ansAt = in.asks[:0], 0
	for i := range in.buf {
		d := &in.buf[i]
		if d.quota {
			d.actor.quota.GiveBytes(1, len(d.payload))
		}
		if dead {
			n.dropped(d)
			continue
		}
		// Records for an actor that died while they waited are dropped
		// (at-most-once). START and STOP always go: START may be queued
		// just before its actor is marked alive, and a kill after it queues
		// a STOP behind it; STOP is for dead actors by definition. DROP
		// always goes: it tells the guest to forget an actor that has left.
		if d.kind != abi.KindStop && d.kind != abi.KindStart && d.kind != abi.KindDrop && !d.actor.alive() {
			n.dropped(d)
			continue
		}
		if d.kind == abi.KindDown && !d.actor.takeDown(d.ref) {
			continue // demonitored after the DOWN was queued
		}
		if d.kind == abi.KindNodeDown && !d.actor.takeNodeDown(d.ref) {
			continue // likewise
		}
		if d.kind == abi.KindGroup && !d.actor.takeGroup(d.ref, d.epoch) {
			continue // demonitored, or voided by an overflow record
		}
		if d.kind == abi.KindTell || d.kind == abi.KindAsk {
			in.sizes.observe(len(d.payload))
		}
		if d.kind == abi.KindAsk {
			in.asks = append(in.asks, pendingReply{to: d.from, ref: d.ref, asked: n.abiPID(d.actor), actor: d.actor, life: d.actor.life()})
		}
		if d.trace != nil {
			in.trace.note(d.actor.serial, d.trace)
		}
		rec = engine.Record{Kind: d.kind, Status: d.status, Actor: d.actor.serial, From: d.from, Ref: d.ref, Payload: d.payload}
		if d.kind == abi.KindStart {
			rec.Factory = d.actor.factory
		}
		in.batch.Add(&rec)
		// The guest's inbox is bounded (32 MiB in the Go SDK): a turn of
		// large messages goes in several calls.
		if len(in.batch.Bytes()) >= maxBatchBytes && !in.deliver() {
			dead = true
		}
	}
	n.metrics.size.add(&in.sizes)
	if !dead && in.deliver() {
		in.closeIfIdle()
	}
	// After the call: the log import reads in.buf for the actors running.
	clear(in.buf) // drop payload references
	return in.mailbox.Len() > 0
}

const maxBatchBytes = 8 << 20

// deliver hands the batch to the guest and resets it; false if the instance
// failed.
func (in *instance) deliver() bool {
	if in.batch.Len() == 0 {
		return true
	}
	defer in.batch.Reset()
	defer in.trace.reset()
	start := time.Now()
	err := in.inst.Deliver(context.Background(), &in.batch)
	observeSince(in.n.metrics.turn, start)
	if err != nil {
		reason := in.fail(err)
		for _, a := range in.asks {
			if !a.answered {
				in.n.replyError(a.asked, a.to, a.ref, wasmactor.ErrCrashed, reason)
			}
		}
		in.asks, in.ansAt = in.asks[:0], 0
		return false
	}
	in.n.stats.delivered.Add(uint64(in.batch.Len()))
	in.mod.counters.delivered.Add(uint64(in.batch.Len()))
	for i := range in.asks {
		if !in.asks[i].answered {
			in.n.hold(&in.asks[i])
		}
	}
	clear(in.asks) // drop actor references
	in.asks, in.ansAt = in.asks[:0], 0
	return true
}

// answeredInTurn marks the ask of this batch that actor serial has just
// answered; false if it answered none of them (an ask it held from an
// earlier turn, or none). Answers mostly come in the order of the asks, so
// the search starts after the last one found.
func (in *instance) answeredInTurn(serial uint64, to abi.PID, ref uint64) bool {
	k := len(in.asks)
	for j := range k {
		i := in.ansAt + j
		if i >= k {
			i -= k
		}
		p := &in.asks[i]
		if p.ref == ref && p.to == to && p.actor.serial == serial && !p.answered {
			p.answered = true
			in.ansAt = i + 1
			return true
		}
	}
	return false
}

// pendingReply is who waits for an answer to an ask of the current batch:
// the asker's PID (serial 0 for a node's host, on this node or another),
// the ask's ref, and the actor asked (its PID, record and life), in whose
// name the node answers if the turn crashes or the actor dies without
// answering (held.go).
type pendingReply struct {
	to       abi.PID
	ref      uint64
	asked    abi.PID
	actor    *actor
	life     uint32
	answered bool // the actor answered it in the turn
}

// dropped settles a record that will never reach its actor: whoever waits
// on an ask learns at once instead of timing out.
func (n *Node) dropped(d *delivery) {
	switch d.kind {
	case abi.KindAsk:
		n.replyError(n.abiPID(d.actor), d.from, d.ref, wasmactor.ErrNoProc, "")
	case abi.KindDown:
		d.actor.takeDown(d.ref)
	case abi.KindNodeDown:
		d.actor.takeNodeDown(d.ref)
	case abi.KindGroup:
		d.actor.takeGroup(d.ref, d.epoch)
	}
}

// fail discards the instance after a trap, panic or blown deadline: every
// actor in it dies with the reason (and is restarted if its policy says so).
func (in *instance) fail(err error) (reason string) {
	reason = "crash: " + err.Error()
	var f *engine.Failure
	if errors.As(err, &f) {
		reason = f.Reason
	}
	in.mu.Lock()
	in.dead = true
	victims := make([]*actor, 0, len(in.actors))
	for _, a := range in.actors {
		victims = append(victims, a)
	}
	clear(in.actors)
	in.mu.Unlock()
	in.n.stats.crashes.Add(1)
	in.n.metrics.crashes.WithLabelValues(crashClass(reason)).Inc()
	in.n.crashLog.add(proto.Crash{UnixMs: time.Now().UnixMilli(), Module: in.mod.info.Hash.Short(), Factories: in.mod.info.Factories,
		Instance: in.id, Actors: len(victims), Reason: reason})
	in.mod.retire(in)
	in.n.log.Warn("instance discarded", "module", in.mod.info.Hash.Short(), "instance", in.id, "reason", reason, "actors", len(victims))
	for _, a := range victims {
		in.n.exitFrom(a, in, reason, false, true)
	}
	_ = in.inst.Close(context.Background())
	return reason
}
