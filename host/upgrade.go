package host

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/internal/rolling"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/transport"
)

// UpgradeResult is what one actor's hot upgrade did.
type UpgradeResult struct {
	PID     PID    `json:"pid"`
	Factory string `json:"factory"`
	// From and To are the modules the actor ran before and runs now.
	From registry.Hash `json:"from"`
	To   registry.Hash `json:"to"`
	// Current: the actor already ran To, and nothing was done.
	Current bool `json:"current,omitempty"`
	// StateBytes is the size of the snapshot that crossed.
	StateBytes int `json:"state_bytes"`
	// Took is the time from the request until the actor ran the new
	// version, on the actor's node.
	Took time.Duration `json:"took"`
}

// Upgrade moves a running actor to another version of its module, keeping
// everything else: its PID, names, groups, monitors, links, supervision,
// and the messages queued for it, in their order. to names the version:
// "Counter@<hash prefix>" (the factory must be the actor's), a bare hash
// prefix, or "" for the newest module exporting the actor's factory. The
// actor may be on any node; that node does the work.
//
// At a message boundary where the actor has no asks of its own in flight,
// the old version's Snapshot captures its state and the new version's
// Restore rebuilds it in an instance of the new module (pulled and compiled
// first if needed; an isolated actor gets a new instance of its own).
// Messages that arrive meanwhile wait and follow in order. If the new
// version refuses (Restore fails, panics or traps) the actor carries on in
// the old version, untouched.
//
// An actor already running the target version is left alone: the result
// says Current.
//
// # Errors
//
// [wasmactor.ErrCannotSnapshot] when the actor's factory has no snapshots
// (per factory, see guest-sdk/actor.Snapshotter), [wasmactor.ErrSnapshotFailed]
// and [wasmactor.ErrRestoreFailed] with the guest's reason,
// [wasmactor.ErrBusy] when the actor's own asks did not settle before ctx
// was done (Config.AskTimeout when ctx has no deadline),
// [wasmactor.ErrNoProc] for a dead actor, [wasmactor.ErrUnknownFactory] for
// a version that does not export the actor's factory, [wasmactor.ErrCrashed]
// when the old instance trapped in Snapshot (its actors died as in any
// crash). In every case but the last the actor runs on as it was.
func (n *Node) Upgrade(ctx context.Context, pid PID, to string) (UpgradeResult, error) {
	if err := n.checkOpen(); err != nil {
		return UpgradeResult{}, err
	}
	a, _, err := n.local(pid)
	if err != nil {
		return UpgradeResult{}, err
	}
	if a == nil {
		// To where it lives now: a migrated actor's old node would follow
		// its alias to here again (or be gone).
		home := n.followPID(pid)
		var rep proto.UpgradeReply
		if err := n.call(ctx, home.Node, proto.KindUpgrade, proto.Upgrade{PID: home, To: to}, &rep); err != nil {
			return UpgradeResult{}, err
		}
		return upgradeResultOf(rep), nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.AskTimeout)
		defer cancel()
	}
	return n.upgradeLocal(ctx, a, to)
}

func (n *Node) upgradeLocal(ctx context.Context, a *actor, to string) (UpgradeResult, error) {
	start := time.Now()
	pid := n.pidOf(a)
	if a.goa != nil {
		return UpgradeResult{PID: pid}, errGoActor(pid)
	}
	ref, err := upgradeRef(a.factory, to)
	if err != nil {
		return UpgradeResult{}, err
	}
	factory, info, err := n.factories.Resolve(ref)
	if err != nil {
		return UpgradeResult{}, err
	}
	from := a.mod.Load()
	res := UpgradeResult{PID: pid, Factory: a.factory, From: from.info.Hash, To: info.Hash}
	if info.Hash == from.info.Hash {
		res.Current = true
		return res, nil
	}
	_, m, err := n.loadFactory(ctx, ref, factory, info, n.holderOf(info.Hash))
	if err != nil {
		return res, err
	}
	res.To = m.info.Hash
	old := a.inst.Load()
	dst, err := m.pick(ctx, n, old.isolated)
	if err != nil {
		return res, err
	}
	abandon := func() {
		if dst.isolated {
			dst.discard()
		}
	}
	state, mv, err := n.quietSnapshot(ctx, a)
	if err != nil {
		abandon()
		return res, fmt.Errorf("upgrade of %s to %s: %w", pid, m.info.Hash.Short(), err)
	}
	if err := dst.restore(a, state); err != nil {
		n.thaw(a, mv)
		abandon()
		return res, fmt.Errorf("upgrade of %s to %s: %w (it runs on in %s)", pid, m.info.Hash.Short(), err, from.info.Hash.Short())
	}
	if !n.commit(a, mv, dst, m) {
		dst.drop(a)
		n.thaw(a, mv)
		abandon()
		return res, fmt.Errorf("upgrade of %s: %w: it stopped during the upgrade", pid, wasmactor.ErrNoProc)
	}
	if mv.from.isolated {
		mv.from.discard()
	} else {
		mv.from.drop(a)
	}
	res.StateBytes, res.Took = len(state), time.Since(start)
	n.log.Info("actor upgraded", "pid", pid.String(), "factory", a.factory, "from", from.info.Hash.Short(), "to", m.info.Hash.Short(),
		"state", len(state), "took", res.Took)
	return res, nil
}

// errGoActor refuses to move a Go actor: its code and state are this
// process's, not a module's.
func errGoActor(pid PID) error {
	return fmt.Errorf("%w: %s is a Go actor (Node.SpawnFunc): its code and state live in this process", wasmactor.ErrCannotSnapshot, pid)
}

// upgradeRef turns Upgrade's to into a factory reference for factory.
func upgradeRef(factory, to string) (string, error) {
	switch f, _, pinned := strings.Cut(to, "@"); {
	case to == "":
		return factory, nil
	case !pinned:
		return factory + "@" + to, nil
	case f != factory:
		return "", fmt.Errorf("%w: an upgrade keeps the factory: %s cannot become %s", wasmactor.ErrBadArgument, factory, f)
	}
	return to, nil
}

func upgradeResultOf(r proto.UpgradeReply) UpgradeResult {
	return UpgradeResult{PID: r.PID, Factory: r.Factory, From: r.From, To: r.To, Current: r.Current, StateBytes: r.StateBytes,
		Took: time.Duration(r.Micros) * time.Microsecond}
}

func upgradeReplyOf(r UpgradeResult) proto.UpgradeReply {
	return proto.UpgradeReply{PID: r.PID, Factory: r.Factory, From: r.From, To: r.To, Current: r.Current, StateBytes: r.StateBytes,
		Micros: r.Took.Microseconds()}
}

// RollingOptions are the options of [Node.UpgradeFactory].
type RollingOptions struct {
	// Parallel is how many actors are upgraded at once; 0 means 1.
	Parallel int
	// KeepGoing upgrades the remaining actors after a failure; by default
	// no new upgrade starts after the first failure.
	KeepGoing bool
	// Progress, if set, is called once per actor as its upgrade ends, one
	// call at a time.
	Progress func(UpgradeResult, error)
}

// RollingReport sums up a rolling upgrade.
type RollingReport struct {
	// To is the version every actor was upgraded to, Factory@<full hash>.
	To       string `json:"to"`
	Upgraded int    `json:"upgraded"`
	Current  int    `json:"current"`
	Failed   int    `json:"failed"`
	// NotTried counts the actors left alone after a failure (without
	// KeepGoing).
	NotTried int `json:"not_tried"`
	// Missing names the nodes that did not say which actors they run.
	Missing []string `json:"missing,omitempty"`
}

// UpgradeFactory upgrades every actor of factory in the cluster to the
// version to (as in [Node.Upgrade], resolved once here), Parallel at a time,
// in order of node name and serial. Actors already at that version are
// counted as current.
//
// # Errors
//
// The first upgrade's error (the report counts them all), or the errors of
// resolving to.
func (n *Node) UpgradeFactory(ctx context.Context, factory, to string, opts RollingOptions) (RollingReport, error) {
	plan, err := n.upgradePlan(ctx, factory, to)
	if err != nil {
		return RollingReport{}, err
	}
	rep := RollingReport{To: plan.To, Missing: plan.Missing}
	var first error
	rep.NotTried = rolling.Run(ctx, plan.Actors, opts.Parallel, opts.KeepGoing,
		func(ctx context.Context, x proto.ActorVersion) (UpgradeResult, error) {
			return n.Upgrade(ctx, x.PID, plan.To)
		},
		func(x proto.ActorVersion, r UpgradeResult, err error) {
			switch {
			case err != nil:
				rep.Failed++
				if first == nil {
					first = err
				}
				r.PID = x.PID
			case r.Current:
				rep.Current++
			default:
				rep.Upgraded++
			}
			if opts.Progress != nil {
				opts.Progress(r, err)
			}
		})
	return rep, first
}

// upgradePlan resolves a rolling upgrade's target and lists the actors of
// factory on every node.
func (n *Node) upgradePlan(ctx context.Context, factory, to string) (proto.UpgradePlanReply, error) {
	if err := registry.ValidateFactory(factory); err != nil {
		return proto.UpgradePlanReply{}, err
	}
	ref, err := upgradeRef(factory, to)
	if err != nil {
		return proto.UpgradePlanReply{}, err
	}
	_, info, err := n.factories.Resolve(ref)
	if err != nil {
		return proto.UpgradePlanReply{}, err
	}
	plan := proto.UpgradePlanReply{To: factory + "@" + info.Hash.String(), Module: info.Hash, Actors: n.actorsOf(factory)}
	for _, m := range n.Members() {
		var refs []proto.ActorVersion
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := n.call(cctx, m.Name, proto.KindActorsOf, proto.ActorsOf{Factory: factory}, &refs)
		cancel()
		if err != nil {
			plan.Missing = append(plan.Missing, m.Name)
			continue
		}
		for _, r := range refs {
			if r.PID.Node == m.Name { // a peer speaks for its own actors
				plan.Actors = append(plan.Actors, r)
			}
		}
	}
	sort.Slice(plan.Actors, func(i, j int) bool {
		x, y := plan.Actors[i].PID, plan.Actors[j].PID
		if x.Node != y.Node {
			return x.Node < y.Node
		}
		return x.Serial < y.Serial
	})
	return plan, nil
}

// actorsOf lists this node's live actors of factory.
func (n *Node) actorsOf(factory string) []proto.ActorVersion {
	var out []proto.ActorVersion
	for _, a := range n.actors.all() {
		if a.factory == factory && a.alive() && a.goa == nil {
			out = append(out, proto.ActorVersion{PID: n.pidOf(a), Module: a.mod.Load().info.Hash})
		}
	}
	return out
}

// serveMobility answers the requests of code mobility; ok is false for
// other kinds.
func (n *Node) serveMobility(ctx context.Context, from transport.PeerInfo, kind uint16, body []byte) (reply []byte, ok bool, err error) {
	switch kind {
	case proto.KindUpgrade, proto.KindUpgradeCLI:
		var u proto.Upgrade
		if err := proto.Unmarshal(body, &u); err != nil {
			return nil, true, err
		}
		pid := u.PID
		if kind == proto.KindUpgradeCLI {
			if pid, err = n.target(ctx, u.Target); err != nil {
				return nil, true, err
			}
		} else if pid.Node != n.cfg.Name {
			return nil, true, fmt.Errorf("%w: %s is not on node %s", wasmactor.ErrBadArgument, pid, n.cfg.Name)
		}
		r, err := n.Upgrade(ctx, pid, u.To)
		if err != nil {
			return nil, true, err
		}
		return proto.Marshal(upgradeReplyOf(r)), true, nil
	case proto.KindActorsOf:
		var q proto.ActorsOf
		if err := proto.Unmarshal(body, &q); err != nil {
			return nil, true, err
		}
		return proto.Marshal(n.actorsOf(q.Factory)), true, nil
	case proto.KindUpgradePlan:
		var q proto.UpgradePlan
		if err := proto.Unmarshal(body, &q); err != nil {
			return nil, true, err
		}
		plan, err := n.upgradePlan(ctx, q.Factory, q.To)
		if err != nil {
			return nil, true, err
		}
		return proto.Marshal(plan), true, nil
	}
	if b, ok, err := n.serveMigration(ctx, from, kind, body); ok {
		return b, ok, err
	}
	if b, ok, err := n.serveDrain(ctx, kind, body); ok {
		return b, ok, err
	}
	return n.serveLifecycle(ctx, kind, body)
}
