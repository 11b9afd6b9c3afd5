package host

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/engine"
)

// This file moves an actor out of its instance at a message boundary
// without losing, duplicating or reordering anything queued for it: the
// common part of hot upgrade (upgrade.go) and migration.
//
// Every delivery for an actor goes through enqueue. Normally it lands in the
// mailbox of the actor's instance; while the actor moves (its route is odd)
// it is parked on the move instead, and the move hands everything parked to
// the actor's new home (commit) or back to its old one (thaw), in order.
//
// A move:
//
//  1. freeze, under the instance's turnMu (so between two turns): the
//     actor's state goes from alive to moving, its route becomes odd, and
//     what its instance's mailbox holds for it is taken out (carried).
//  2. snapshot in the old instance, still between turns.
//  3. restore at the destination (another instance, or another node).
//  4. commit: the actor's state goes from moving to alive again with its
//     new home, and everything carried and parked is queued there. Or
//     thaw: everything goes back to the old home, as if nothing happened.
//
// An exit during a move (a kill, a crash of the old instance) wins: it
// takes the state from moving to exiting, the commit's compare-and-swap
// fails, and the move is thawed; records the exit queued (STOP, a
// supervised restart's START) were parked and reach the actor's home in
// their order.

// move is an actor on its way out of an instance.
type move struct {
	from    *instance
	carried []delivery // taken out of from's mailbox at the freeze, in order
	parked  []delivery // queued since; guarded by the actor's mu
}

// restoreWatch is a RESTORE in progress in an instance: the stop import
// for its actor means the guest refused it (the SDK stops an actor whose
// Restore failed).
type restoreWatch struct {
	serial uint64
	failed string
}

// isSystemKind says which lane of a mailbox a record kind travels in:
// everything but user messages and replies goes first.
func isSystemKind(k abi.Kind) bool {
	return k != abi.KindTell && k != abi.KindAsk && k != abi.KindReply
}

// enqueue queues d for a wherever a lives: its instance's mailbox, or the
// move in progress. It is the one way a record reaches an actor after its
// START.
func (n *Node) enqueue(a *actor, d delivery) { n.enqueueVia(a, d, 0) }

// enqueueVia is enqueue for a record that came through node via: from
// there directly (a node's incarnation: held if the actor just arrived and
// that node's fence has not passed yet, see migrate.go), or by an ordered
// path (0).
func (n *Node) enqueueVia(a *actor, d delivery, via uint64) {
	d.actor = a
	system := isSystemKind(d.kind)
	if a.goa != nil { // a Go actor has a mailbox of its own, and never moves
		a.goa.push(d, system)
		return
	}
	for {
		// The route first, then the migration: a move that ends (leave in
		// migrate.go) stores the migration before it turns the route, so a
		// route read after that change comes with the migration in sight,
		// and one read before it makes PushIf below fail. Read the other
		// way round, a record could land in the mailbox of an instance the
		// actor has left, whose turn drops it.
		r := a.route.Load()
		if m := a.mig.Load(); m != nil && n.divert(a, m, d, via) {
			return
		}
		if r&1 == 0 {
			in := a.inst.Load()
			// Checked again under the mailbox's lock: a freeze that takes
			// the actor's records out of this mailbox either sees this one
			// or makes this push fail.
			if in.mailbox.PushIf(d, system, &a.route, r) {
				in.task.Wake()
				return
			}
			continue
		}
		a.mu.Lock()
		if a.route.Load() == r && a.mv != nil {
			a.mv.parked = append(a.mv.parked, d)
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
	}
}

// beginExit starts an actor's exit: alive or moving becomes exiting. It
// waits out a commit in progress, and leaves alone an actor no longer
// pinned to from (if from is not nil) or already exiting or dead.
func (a *actor) beginExit(from *instance) bool {
	for {
		s := a.state.Load()
		switch s {
		case stateCommitting:
			runtime.Gosched() // a commit takes no lock for long and never waits
			continue
		case stateAlive, stateMoving:
		default:
			return false
		}
		if from != nil && a.inst.Load() != from {
			return false
		}
		if a.state.CompareAndSwap(s, stateExiting) {
			return true
		}
	}
}

// errNotHere: the actor left the instance the caller locked; look again.
var errNotHere = errors.New("wasmactor: actor moved meanwhile")

// errSettling: the actor arrived by migration and some node's fence has not
// passed yet; it may move again once they have.
var errSettling = errors.New("wasmactor: actor still settling after a migration")

// freeze stops a's deliveries at a boundary: the caller holds from.turnMu,
// so no turn of from is running. From now on a's records are carried by the
// move; the caller ends it with commit or thaw.
func (n *Node) freeze(a *actor, from *instance) (*move, error) {
	mv := &move{from: from}
	a.mu.Lock()
	switch {
	case a.mv != nil:
		a.mu.Unlock()
		return nil, fmt.Errorf("%w: %s is already being moved", wasmactor.ErrBusy, n.pidOf(a))
	case a.inst.Load() != from:
		a.mu.Unlock()
		return nil, errNotHere
	case a.mig.Load() != nil:
		a.mu.Unlock()
		return nil, errSettling
	case !a.state.CompareAndSwap(stateAlive, stateMoving):
		a.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", wasmactor.ErrNoProc, n.pidOf(a))
	}
	a.mv = mv
	a.route.Add(1)
	a.mu.Unlock()
	sys, user := from.mailbox.Extract(func(d *delivery) bool { return d.actor == a })
	mv.carried = append(sys, user...)
	return mv, nil
}

// handOver queues what the move carried and parked at in, in order, and
// ends the move; the caller holds a.mu (nobody can park meanwhile).
func (mv *move) handOver(a *actor, in *instance) {
	for _, list := range [][]delivery{mv.carried, mv.parked} {
		for _, d := range list {
			if isSystemKind(d.kind) {
				in.mailbox.PushSystem(d)
			} else {
				in.mailbox.Push(d)
			}
		}
	}
	a.mv = nil
	a.route.Add(1)
	in.task.Wake()
}

// thaw ends a move that did not happen: the actor's records go back to its
// home (its old instance, or wherever a restart after a crash put it).
func (n *Node) thaw(a *actor, mv *move) {
	a.mu.Lock()
	mv.handOver(a, a.inst.Load())
	a.state.CompareAndSwap(stateMoving, stateAlive) // unless an exit won
	a.mu.Unlock()
}

// commit makes to (an instance of m that has restored a) the actor's home.
// It fails if the actor exited meanwhile; the caller then drops the
// restored copy and thaws.
func (n *Node) commit(a *actor, mv *move, to *instance, m *module) bool {
	if !to.adopt(a, n.cfg.Limits.ActorsPerInstance) {
		return false
	}
	if !a.state.CompareAndSwap(stateMoving, stateCommitting) {
		to.release(a)
		return false
	}
	a.mod.Store(m)
	a.inst.Store(to)
	mv.from.release(a)
	a.mu.Lock()
	mv.handOver(a, to)
	a.state.Store(stateAlive)
	a.mu.Unlock()
	return true
}

// quietSnapshot freezes a at a boundary where it has no asks of its own in
// flight and takes its snapshot. An ask's continuation lives in the guest's
// memory, outside the snapshot: moving the actor would lose it, so the move
// waits (the actor keeps running meanwhile) until ctx is done.
//
// On success the actor is frozen; the caller commits or thaws mv.
func (n *Node) quietSnapshot(ctx context.Context, a *actor) (state []byte, mv *move, err error) {
	wait := 50 * time.Microsecond
	for {
		in := a.inst.Load()
		in.turnMu.Lock()
		mv, err := n.freeze(a, in)
		if errors.Is(err, errNotHere) {
			in.turnMu.Unlock()
			continue
		}
		settling := errors.Is(err, errSettling)
		if err != nil && !settling {
			in.turnMu.Unlock()
			return nil, nil, err
		}
		// Its START (after a spawn or a restart) must have run: the guest
		// has no actor to snapshot before.
		starting := mv != nil && slices.ContainsFunc(mv.carried, func(d delivery) bool { return d.kind == abi.KindStart })
		asks := n.inFlight(a)
		if asks == 0 && !starting && !settling {
			state, err = n.snapshotFrozen(a, in, mv)
			in.turnMu.Unlock()
			return state, mv, err
		}
		if mv != nil {
			n.thaw(a, mv)
		}
		in.turnMu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			if starting {
				return nil, nil, fmt.Errorf("%w: %s has not started yet: %w", wasmactor.ErrBusy, n.pidOf(a), ctx.Err())
			}
			if settling {
				return nil, nil, fmt.Errorf("%w: %s: not every node's sends from before its last migration have reached it yet: %w", wasmactor.ErrBusy, n.pidOf(a), ctx.Err())
			}
			return nil, nil, fmt.Errorf("%w: %s has %d asks or spawn requests of its own in flight (their continuations cannot move): %w",
				wasmactor.ErrBusy, n.pidOf(a), asks, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Millisecond)
	}
}

// snapshotFrozen asks the guest for a frozen actor's state; the caller
// holds in.turnMu. On any error the move is thawed.
func (n *Node) snapshotFrozen(a *actor, in *instance, mv *move) ([]byte, error) {
	// Not the caller's context: cancelling a guest call kills the instance,
	// and with it every actor it hosts.
	state, err := in.inst.SnapshotState(context.Background(), a.serial)
	if err == nil {
		return state, nil
	}
	pid := n.pidOf(a)
	n.thaw(a, mv)
	var refusal *engine.Refusal
	if errors.As(err, &refusal) {
		switch refusal.Code {
		case abi.SnapshotUnsupported:
			return nil, fmt.Errorf("%w: %s (factory %s): %v", wasmactor.ErrCannotSnapshot, pid, a.factory, refusal)
		case abi.SnapshotNoActor:
			return nil, fmt.Errorf("%w: %s: its instance does not know it: %v", wasmactor.ErrNoProc, pid, refusal)
		case abi.SnapshotError:
			return nil, fmt.Errorf("%w: %s: %v", wasmactor.ErrSnapshotFailed, pid, refusal)
		}
		return nil, fmt.Errorf("%w: %s (factory %s): %v", wasmactor.ErrCannotSnapshot, pid, a.factory, refusal)
	}
	reason := in.fail(err) // a trap in Snapshot: the instance is gone, as in a turn
	return nil, fmt.Errorf("%w: %s: its instance failed taking the snapshot: %s", wasmactor.ErrCrashed, pid, reason)
}

// restore rebuilds a from state in this instance, between two of its
// turns. The guest refuses with the stop import (the SDK's answer to an
// error or panic in Restore); a trap fails the instance, as in a turn.
func (in *instance) restore(a *actor, state []byte) error {
	in.turnMu.Lock()
	defer in.turnMu.Unlock()
	in.mu.Lock()
	dead := in.dead
	in.mu.Unlock()
	if dead {
		return fmt.Errorf("%w: the instance to restore into has failed", wasmactor.ErrRestoreFailed)
	}
	var b engine.Batch
	// The actor may have lived here before and left (upgraded back and
	// forth): the guest forgets it first, or a RESTORE of a running id would
	// fail the instance.
	left, _ := in.mailbox.Extract(func(d *delivery) bool { return d.actor == a })
	for _, d := range left {
		b.Add(&engine.Record{Kind: d.kind, Actor: a.serial, Payload: d.payload})
	}
	b.Add(&engine.Record{Kind: abi.KindRestore, Actor: a.serial, Factory: a.factory, Payload: state})
	w := &restoreWatch{serial: a.serial}
	in.restoring = w
	err := in.inst.Deliver(context.Background(), &b)
	in.restoring = nil
	if err != nil {
		reason := in.fail(err)
		return fmt.Errorf("%w: the instance failed restoring it: %s", wasmactor.ErrRestoreFailed, reason)
	}
	if w.failed != "" {
		return fmt.Errorf("%w: %s", wasmactor.ErrRestoreFailed, w.failed)
	}
	return nil
}

// drop tells in's guest to forget a without running its stop hook: the
// actor lives on elsewhere, or its restored copy was not committed. A STOP
// with reason "moved" follows for guests that do not know DROP (the first
// SDK): they run the actor's Terminate, whose requests the node refuses, as
// the actor is not theirs any more; a guest that dropped the actor ignores
// the STOP. Either way the guest holds no stale copy that a later RESTORE
// of the same actor would collide with.
func (in *instance) drop(a *actor) {
	in.pushSystem(delivery{actor: a, kind: abi.KindDrop})
	in.pushSystem(delivery{actor: a, kind: abi.KindStop, payload: []byte(reasonMoved)})
}

// reasonMoved is the reason of the STOP that follows a DROP.
const reasonMoved = "moved"

// discard closes an instance that hosts nothing any more (an isolated
// actor's, after the actor moved out). Its turns end first.
func (in *instance) discard() {
	in.turnMu.Lock()
	in.mu.Lock()
	in.dead = true
	in.mu.Unlock()
	in.mod.retire(in)
	_ = in.inst.Close(context.Background())
	in.turnMu.Unlock()
}

// countOf is how many asks the actor with serial has in flight.
func (p *pendingAsks) countOf(serial uint64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m[serial])
}

// inFlight is how many requests of a's own are in flight, whose
// continuations live in its guest: asks and spawn requests.
func (n *Node) inFlight(a *actor) int {
	k := n.asks.countOf(a.serial)
	a.mu.Lock()
	if x := a.rels().ext; x != nil {
		k += len(x.spawns)
	}
	a.mu.Unlock()
	return k
}
