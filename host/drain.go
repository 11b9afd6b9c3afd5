package host

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/internal/rolling"
)

// DrainOptions are the options of [Node.Drain].
type DrainOptions struct {
	// KeepIsolated leaves actors spawned Isolated where they are (they are
	// reported as not moved): for actors isolated because they must not
	// share an instance, and whose operator would rather restart them.
	KeepIsolated bool
	// Parallel is how many migrations run at once; 0 means 16.
	Parallel int
}

// DrainReport is what a drain did.
type DrainReport struct {
	Node  string          `json:"node"`
	Moved []MigrateResult `json:"moved"`
	// Left are the actors still on the node, and why.
	Left []DrainLeft `json:"left"`
}

// DrainLeft is an actor a drain did not move.
type DrainLeft struct {
	PID     PID    `json:"pid"`
	Factory string `json:"factory"`
	Reason  string `json:"reason"`
	// Err is the error of its migration, if one was tried (match it with
	// errors.Is: wasmactor.ErrCannotSnapshot, wasmactor.ErrBusy...).
	Err error `json:"-"`
}

// Drain migrates every actor of node (this one, or another member, which
// then does the work) to the other members, spreading them by load (the
// fewest actors first, counting those it places), so that the node can be
// stopped without losing them: the rolling-restart story. Actors that
// cannot move (their factory has no snapshots, their asks never settled, or
// isolated ones with KeepIsolated) stay and are reported, and so do those
// not tried because ctx ended first: every actor of the node is in the
// report, moved or left.
//
// # Notes
//
// From the start of the drain, and for as long as the node runs or until
// [Node.Undrain], spawns that name no node are placed elsewhere: the node
// tells every member before it moves anything (a member that comes up
// later hears it in the node's sync). A drain that fails before moving
// anything (no member to move to) leaves the node in placement. Spawns that name the node still go there, and are not
// moved. Old PIDs keep working after the node stops (see [Node.Migrate]).
//
// # Errors
//
// [wasmactor.ErrNodeDown] or [wasmactor.ErrUnknownNode] for node, and
// [wasmactor.ErrModuleUnavailable] when the node has no member to move to.
// Actors that could not move are in the report, not an error.
func (n *Node) Drain(ctx context.Context, node string, opts DrainOptions) (DrainReport, error) {
	if err := n.checkOpen(); err != nil {
		return DrainReport{}, err
	}
	if node != "" && node != n.cfg.Name {
		if _, err := n.peer(node); err != nil {
			return DrainReport{}, err
		}
		var rep proto.DrainReply
		if err := n.call(ctx, node, proto.KindDrain, proto.Drain{Node: node, KeepIsolated: opts.KeepIsolated, Parallel: opts.Parallel}, &rep); err != nil {
			return DrainReport{}, err
		}
		return drainReportOf(node, rep), nil
	}
	members := n.Members()
	if len(members) == 0 {
		return DrainReport{Node: n.cfg.Name}, fmt.Errorf("%w: node %s has no member to move its actors to", wasmactor.ErrModuleUnavailable, n.cfg.Name)
	}
	// Somewhere to go first: a drain that cannot move anything leaves the
	// node as it was (in placement, unless it drained before).
	place, err := n.spreader(ctx, members)
	if err != nil {
		return DrainReport{Node: n.cfg.Name}, err
	}
	// Then out of placement, here and on every member, so that no spawn
	// lands here while the actors move out, nor after (until Undrain).
	n.cl.draining.Store(true)
	n.announceDraining(ctx, members, true)
	rep := DrainReport{Node: n.cfg.Name, Moved: []MigrateResult{}, Left: []DrainLeft{}}
	var todo []*actor
	for _, a := range n.actors.all() {
		if !a.alive() {
			continue
		}
		if a.goa != nil {
			err := errGoActor(n.pidOf(a))
			rep.Left = append(rep.Left, DrainLeft{PID: n.pidOf(a), Factory: a.factory, Reason: err.Error(), Err: err})
			continue
		}
		if opts.KeepIsolated && a.inst.Load().isolated {
			rep.Left = append(rep.Left, DrainLeft{PID: n.pidOf(a), Factory: a.factory, Reason: "isolated (kept)"})
			continue
		}
		todo = append(todo, a)
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].serial < todo[j].serial })
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = 16
	}
	notTried := rolling.Run(ctx, todo, parallel, true,
		func(ctx context.Context, a *actor) (MigrateResult, error) {
			cctx, cancel := context.WithTimeout(ctx, n.cfg.AskTimeout)
			defer cancel()
			return n.migrateLocal(cctx, a, place())
		},
		func(a *actor, r MigrateResult, err error) {
			if err != nil {
				rep.Left = append(rep.Left, DrainLeft{PID: n.pidOf(a), Factory: a.factory, Reason: err.Error(), Err: err})
				return
			}
			rep.Moved = append(rep.Moved, r)
		})
	// The drain ran out of time (or its caller went) before these: they
	// stay, and say so, like those that were tried.
	for _, a := range todo[len(todo)-notTried:] {
		rep.Left = append(rep.Left, DrainLeft{PID: n.pidOf(a), Factory: a.factory, Reason: "not tried: the drain ended first: " + context.Cause(ctx).Error()})
	}
	sort.Slice(rep.Left, func(i, j int) bool { return rep.Left[i].PID.Serial < rep.Left[j].PID.Serial })
	n.log.Info("node drained", "moved", len(rep.Moved), "left", len(rep.Left))
	return rep, nil
}

// announceDraining tells every member that this node drains (on) or no
// longer does, and waits (a little) for each to have heard: they stop, or
// resume, placing spawns here. A member that missed it hears it in this
// node's sync when its next session starts.
func (n *Node) announceDraining(ctx context.Context, members []NodeInfo, on bool) {
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if err := n.call(cctx, m.Name, proto.KindDraining, proto.Draining{Off: !on}, nil); err != nil {
				n.log.Warn("member not told of the drain or undrain; its placement may differ", "peer", m.Name, "drains", on, "err", err)
			}
		})
	}
	wg.Wait()
}

// Undrain puts node (this one, or another member, which then does the
// work) back into placement after a drain: spawns that name no node may
// land there again. It tells every member, as Drain does, and moves no
// actor back. Undraining a node that does not drain does nothing.
//
// # Errors
//
// [wasmactor.ErrNodeDown] or [wasmactor.ErrUnknownNode] for node.
func (n *Node) Undrain(ctx context.Context, node string) error {
	if err := n.checkOpen(); err != nil {
		return err
	}
	if node != "" && node != n.cfg.Name {
		if _, err := n.peer(node); err != nil {
			return err
		}
		return n.call(ctx, node, proto.KindUndrain, proto.Drain{Node: node}, nil)
	}
	if n.cl.draining.Swap(false) {
		n.log.Info("node undrained: spawns placed here again")
	}
	// Told even if it did not drain here: a member may still think it does.
	n.announceDraining(ctx, n.Members(), false)
	return nil
}

// spreader places actors on the least-loaded of members, by the actor
// counts they report once, counting each placement. Members that drain
// too are passed by.
func (n *Node) spreader(ctx context.Context, all []NodeInfo) (func() string, error) {
	loads, draining := n.memberStatus(ctx, all, 2*time.Second)
	known := n.drainingPeers()
	var members []NodeInfo
	for _, m := range all {
		if !draining[m.Name] && !known[m.Name] {
			members = append(members, m)
		}
	}
	if len(members) == 0 {
		return nil, fmt.Errorf("%w: node %s has no member to move its actors to that is not draining too", wasmactor.ErrModuleUnavailable, n.cfg.Name)
	}
	for _, m := range members {
		if _, ok := loads[m.Name]; !ok {
			loads[m.Name] = 1 << 30 // a member that does not answer is the last choice
		}
	}
	var mu sync.Mutex
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		best := members[0].Name
		for _, m := range members[1:] { // by name, so ties go the same way
			if loads[m.Name] < loads[best] {
				best = m.Name
			}
		}
		loads[best]++
		return best
	}, nil
}

func drainReportOf(node string, r proto.DrainReply) DrainReport {
	rep := DrainReport{Node: node, Moved: []MigrateResult{}, Left: []DrainLeft{}}
	for _, m := range r.Moved {
		rep.Moved = append(rep.Moved, MigrateResult{Old: m.Old, New: m.New, StateBytes: m.StateBytes, Took: time.Duration(m.Micros) * time.Microsecond})
	}
	for _, l := range r.Left {
		left := DrainLeft{PID: l.PID, Factory: l.Factory, Reason: l.Reason}
		if l.Code != 0 {
			left.Err = fmt.Errorf("%w: %s", abi.Errno(l.Code).Err(), l.Reason)
		}
		rep.Left = append(rep.Left, left)
	}
	return rep
}

func drainReplyOf(rep DrainReport) proto.DrainReply {
	var r proto.DrainReply
	for _, m := range rep.Moved {
		r.Moved = append(r.Moved, proto.MigrateReply{Old: m.Old, New: m.New, StateBytes: m.StateBytes, Micros: m.Took.Microseconds()})
	}
	for _, l := range rep.Left {
		x := proto.DrainLeft{PID: l.PID, Factory: l.Factory, Reason: l.Reason}
		if l.Err != nil {
			x.Code = uint16(abi.CodeOf(l.Err))
		}
		r.Left = append(r.Left, x)
	}
	return r
}

// serveDrain answers drain requests; ok is false for other kinds.
func (n *Node) serveDrain(ctx context.Context, kind uint16, body []byte) (reply []byte, ok bool, err error) {
	if kind != proto.KindDrain && kind != proto.KindDrainCLI {
		return nil, false, nil
	}
	var d proto.Drain
	if err := proto.Unmarshal(body, &d); err != nil {
		return nil, true, err
	}
	node := d.Node
	if kind == proto.KindDrain {
		node = n.cfg.Name // a peer asks this node to drain itself
	}
	rep, err := n.Drain(ctx, node, DrainOptions{KeepIsolated: d.KeepIsolated, Parallel: d.Parallel})
	if err != nil {
		return nil, true, err
	}
	return proto.Marshal(drainReplyOf(rep)), true, nil
}
