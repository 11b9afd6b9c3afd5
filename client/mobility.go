package client

import (
	"context"
	"fmt"
	"time"

	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
)

// UpgradeResult is what one actor's hot upgrade did (see host.Node.Upgrade).
type UpgradeResult struct {
	PID     PID
	Factory string
	// From and To are the modules the actor ran before and runs now.
	From, To registry.Hash
	// Current: the actor already ran To, and nothing was done.
	Current bool
	// StateBytes is the size of the snapshot that crossed; Took the time
	// the upgrade took on the actor's node.
	StateBytes int
	Took       time.Duration
}

// Upgrade moves the running actor target (a PID as printed, or a name) to
// another version of its module, keeping its PID, names, monitors, links and
// queued messages (host.Node.Upgrade says how). to is "Factory@<hash
// prefix>", a bare hash prefix, or "" for the newest module exporting the
// actor's factory.
//
// # Errors
//
// Those of host.Node.Upgrade: [wasmactor.ErrCannotSnapshot],
// [wasmactor.ErrSnapshotFailed], [wasmactor.ErrRestoreFailed],
// [wasmactor.ErrBusy], [wasmactor.ErrNoProc]... In all of them the actor
// runs on as it was.
func (c *Client) Upgrade(ctx context.Context, target, to string) (UpgradeResult, error) {
	if err := checkTarget(target); err != nil {
		return UpgradeResult{}, err
	}
	var r proto.UpgradeReply
	if err := c.request(ctx, proto.KindUpgradeCLI, proto.Marshal(proto.Upgrade{Target: target, To: to}), &r); err != nil {
		return UpgradeResult{}, err
	}
	return UpgradeResult{PID: r.PID, Factory: r.Factory, From: r.From, To: r.To, Current: r.Current, StateBytes: r.StateBytes,
		Took: time.Duration(r.Micros) * time.Microsecond}, nil
}

// UpgradePlan is what a rolling upgrade of a factory would visit.
type UpgradePlan struct {
	// To is the resolved target, Factory@<full hash>: pass it to Upgrade
	// so every actor gets the same version.
	To     string
	Module registry.Hash
	// Actors are every actor of the factory, in node then serial order,
	// with the module each runs.
	Actors []PlannedActor
	// Missing names the nodes that did not answer.
	Missing []string
}

// PlannedActor is one actor of an [UpgradePlan].
type PlannedActor struct {
	PID    PID
	Module registry.Hash
}

// UpgradePlan resolves the version to (as in [Client.Upgrade]) of factory
// once and lists the factory's actors across the cluster, for a rolling
// upgrade that calls [Client.Upgrade] for each.
func (c *Client) UpgradePlan(ctx context.Context, factory, to string) (UpgradePlan, error) {
	var r proto.UpgradePlanReply
	if err := c.request(ctx, proto.KindUpgradePlan, proto.Marshal(proto.UpgradePlan{Factory: factory, To: to}), &r); err != nil {
		return UpgradePlan{}, err
	}
	plan := UpgradePlan{To: r.To, Module: r.Module, Missing: r.Missing}
	for _, a := range r.Actors {
		plan.Actors = append(plan.Actors, PlannedActor{PID: a.PID, Module: a.Module})
	}
	return plan, nil
}

// UndeployReport is what an undeploy did (see host.Node.Undeploy).
type UndeployReport struct {
	Module ModuleInfo
	// Nodes are every node of the cluster, in name order: the actors each
	// stopped, or why it did not answer (it deletes the module when it
	// comes back).
	Nodes []UndeployNode
}

// UndeployNode is one node's part of an undeploy.
type UndeployNode struct {
	Node    string
	Stopped int
	Error   string
}

// Undeploy removes a module from every node of the cluster: ref is a hash
// prefix or Factory@<hash prefix>. A factory then resolves to its previous
// version, if any. With force, the module's actors are stopped first;
// without, a module with actors anywhere is refused.
//
// # Errors
//
// [wasmactor.ErrInUse] (nothing changed), [wasmactor.ErrNotFound],
// [wasmactor.ErrAmbiguousFactory], [wasmactor.ErrNodeDown] when a member
// did not say whether it runs actors of the module.
func (c *Client) Undeploy(ctx context.Context, ref string, force bool) (UndeployReport, error) {
	var r proto.UndeployReply
	if err := c.request(ctx, proto.KindUndeployCLI, proto.Marshal(proto.UndeployRequest{Ref: ref, Force: force}), &r); err != nil {
		return UndeployReport{}, err
	}
	rep := UndeployReport{Module: r.Module}
	for _, x := range r.Nodes {
		rep.Nodes = append(rep.Nodes, UndeployNode(x))
	}
	return rep, nil
}

// MigrateResult is what a migration did (see host.Node.Migrate).
type MigrateResult struct {
	// Old is the PID the actor had (it keeps working), New its PID at its
	// new node.
	Old, New   PID
	StateBytes int
	Took       time.Duration
}

// Migrate moves the running actor target (a PID as printed, or a name) to
// node to, with its state and queued messages; its old PID keeps working.
//
// # Errors
//
// Those of host.Node.Migrate; in all of them the actor runs on where it
// was.
func (c *Client) Migrate(ctx context.Context, target, to string) (MigrateResult, error) {
	if err := checkTarget(target); err != nil {
		return MigrateResult{}, err
	}
	var r proto.MigrateReply
	if err := c.request(ctx, proto.KindMigrateCLI, proto.Marshal(proto.Migrate{Target: target, To: to}), &r); err != nil {
		return MigrateResult{}, err
	}
	return MigrateResult{Old: r.Old, New: r.New, StateBytes: r.StateBytes, Took: time.Duration(r.Micros) * time.Microsecond}, nil
}

// DrainReport is what a drain did (see host.Node.Drain).
type DrainReport struct {
	Node  string
	Moved []MigrateResult
	// Left are the actors still on the node, with why.
	Left []DrainLeft
}

// DrainLeft is an actor a drain did not move. Err matches the sentinel of
// its migration's failure (wasmactor.ErrCannotSnapshot...) when one was
// tried.
type DrainLeft struct {
	PID     PID
	Factory string
	Reason  string
	Err     error
}

// Drain migrates every movable actor of node to the other members, spread
// by load, so that the node can be stopped without losing them; keepIsolated
// leaves isolated actors where they are. The report lists what could not
// move. parallel bounds the migrations in flight (0: the node's default).
// A drain of many actors takes a while: give ctx room.
func (c *Client) Drain(ctx context.Context, node string, keepIsolated bool, parallel int) (DrainReport, error) {
	var r proto.DrainReply
	if err := c.request(ctx, proto.KindDrainCLI, proto.Marshal(proto.Drain{Node: node, KeepIsolated: keepIsolated, Parallel: parallel}), &r); err != nil {
		return DrainReport{}, err
	}
	rep := DrainReport{Node: node}
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
	return rep, nil
}

// Undrain puts node back into placement after a drain: spawns that name no
// node may land there again (see host.Node.Undrain). It moves no actor
// back; undraining a node that does not drain does nothing. Admin, as a
// drain.
func (c *Client) Undrain(ctx context.Context, node string) error {
	return c.request(ctx, proto.KindUndrainCLI, proto.Marshal(proto.Drain{Node: node}), nil)
}
