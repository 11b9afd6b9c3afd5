package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/client"
	"github.com/wasmactor/wasmactor/internal/rolling"
	"github.com/wasmactor/wasmactor/registry"
)

// The commands of code mobility: upgrade (and, later, migrate, drain,
// undeploy).

// upgradeJSON is one actor's line of `upgrade -o json`.
type upgradeJSON struct {
	pidJSON
	Factory    string `json:"factory,omitempty"`
	From       string `json:"from,omitempty"`
	To         string `json:"to,omitempty"`
	Result     string `json:"result"` // upgraded, current or failed
	StateBytes int    `json:"state_bytes,omitempty"`
	TookUs     int64  `json:"took_us,omitempty"`
	Error      string `json:"error,omitempty"`
}

// rollingJSON is `upgrade --factory -o json`.
type rollingJSON struct {
	To       string        `json:"to"`
	Actors   []upgradeJSON `json:"actors"`
	Upgraded int           `json:"upgraded"`
	Current  int           `json:"current"`
	Failed   int           `json:"failed"`
	NotTried int           `json:"not_tried"`
	Missing  []string      `json:"missing"`
}

func upgradeOut(pid wasmactor.PID, r client.UpgradeResult, err error) upgradeJSON {
	out := upgradeJSON{pidJSON: pidOut(pid), Factory: r.Factory}
	switch {
	case err != nil:
		out.Result, out.Error = "failed", oneLine(err.Error())
		return out
	case r.Current:
		out.Result = "current"
	default:
		out.Result, out.StateBytes, out.TookUs = "upgraded", r.StateBytes, r.Took.Microseconds()
	}
	out.From, out.To = r.From.String(), r.To.String()
	return out
}

// upgradeLine is one actor's line of `upgrade`.
func upgradeLine(j upgradeJSON) string {
	switch j.Result {
	case "failed":
		return fmt.Sprintf("%s  failed    %s", j.PID, j.Error)
	case "current":
		return fmt.Sprintf("%s  current   %s", j.PID, shortHash(j.To))
	}
	return fmt.Sprintf("%s  upgraded  %s → %s  (%s of state, %s)", j.PID, shortHash(j.From), shortHash(j.To),
		humanSize(int64(j.StateBytes)), time.Duration(j.TookUs)*time.Microsecond)
}

func (a *app) upgradeCmd() *cobra.Command {
	var (
		out       format
		to        string
		factory   string
		parallel  int
		keepGoing bool
	)
	cmd := &cobra.Command{
		Use:   "upgrade [TARGET | --factory NAME] [--to VERSION]",
		Short: "Move running actors to another version of their module, state intact",
		Long: `Hot-upgrade a running actor: at a message boundary the old version's Snapshot
captures its state and the new version's Restore rebuilds it. Its PID, names,
groups, monitors, links and the messages queued for it stay. If the new
version refuses the snapshot, the actor carries on in the old one, untouched
(exit code 8).

TARGET is a PID as printed or a registered name. --to is Factory@<hash
prefix>, or a bare hash prefix; without it, the newest deployed module
exporting the actor's factory.

With --factory, every actor of the factory in the cluster is upgraded,
--parallel at a time, one line each as it finishes, then a summary. It stops
at the first failure unless --keep-going. Actors already at the version are
listed as current.`,
		Example: `  wasmactor upgrade counter
  wasmactor upgrade '<n3.e91a5651e02e083e.1>' --to Counter@7c1e2d3a
  wasmactor upgrade --factory Counter --to 7c1e2d3a --parallel 4
  wasmactor upgrade --factory Counter --keep-going -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case factory == "" && len(args) != 1:
				return usageErrorf("upgrade takes one TARGET, or --factory NAME (see 'wasmactor upgrade --help')")
			case factory != "" && len(args) != 0:
				return usageErrorf("upgrade takes a TARGET or --factory, not both")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if parallel < 1 {
				return usageErrorf("--parallel must be at least 1, not %d", parallel)
			}
			if factory != "" {
				return a.upgradeFactory(cmd.Context(), factory, to, parallel, keepGoing, out)
			}
			if err := checkTarget(args[0]); err != nil {
				return err
			}
			var r client.UpgradeResult
			if err := a.request(cmd.Context(), func(c *client.Client) (err error) {
				r, err = c.Upgrade(cmd.Context(), args[0], to)
				return err
			}); err != nil {
				return fmt.Errorf("upgrade %s: %w", args[0], err)
			}
			j := upgradeOut(r.PID, r, nil)
			if out == formatJSON {
				return writeJSON(a.stdout, j)
			}
			fmt.Fprintln(a.stdout, upgradeLine(j))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "version: Factory@<hash prefix> or a hash prefix (default: the newest)")
	f.StringVar(&factory, "factory", "", "upgrade every actor of this factory in the cluster")
	f.IntVar(&parallel, "parallel", 1, "with --factory: how many actors to upgrade at once")
	f.BoolVar(&keepGoing, "keep-going", false, "with --factory: go on after a failure")
	addFormatFlag(cmd, &out)
	return cmd
}

// upgradeFactory is `upgrade --factory`: the node resolves the version once
// and lists the actors; each is then upgraded by its own request, so the
// lines come as the upgrades finish.
func (a *app) upgradeFactory(ctx context.Context, factory, to string, parallel int, keepGoing bool, out format) error {
	if err := registry.ValidateFactory(factory); err != nil {
		return fail(exitUsage, err, "%v", oneLineBare(err))
	}
	var plan client.UpgradePlan
	if err := a.request(ctx, func(c *client.Client) (err error) {
		plan, err = c.UpgradePlan(ctx, factory, to)
		return err
	}); err != nil {
		return fmt.Errorf("upgrade --factory %s: %w", factory, err)
	}
	rep := rollingJSON{To: plan.To, Actors: []upgradeJSON{}, Missing: nonNil(plan.Missing)}
	var first error
	rep.NotTried = rolling.Run(ctx, plan.Actors, parallel, keepGoing,
		func(ctx context.Context, x client.PlannedActor) (client.UpgradeResult, error) {
			var r client.UpgradeResult
			err := a.request(ctx, func(c *client.Client) (err error) {
				r, err = c.Upgrade(ctx, x.PID.String(), plan.To)
				return err
			})
			return r, err
		},
		func(x client.PlannedActor, r client.UpgradeResult, err error) {
			j := upgradeOut(x.PID, r, err)
			switch j.Result {
			case "failed":
				rep.Failed++
				if first == nil {
					first = fmt.Errorf("upgrade %s: %w", x.PID, err)
				}
			case "current":
				rep.Current++
			default:
				rep.Upgraded++
			}
			rep.Actors = append(rep.Actors, j)
			if out != formatJSON {
				fmt.Fprintln(a.stdout, upgradeLine(j))
			}
		})
	if out == formatJSON {
		if err := writeJSON(a.stdout, rep); err != nil {
			return err
		}
	} else {
		summary := fmt.Sprintf("%s: upgraded %d, current %d, failed %d", plan.To, rep.Upgraded, rep.Current, rep.Failed)
		if rep.NotTried > 0 {
			summary += fmt.Sprintf(", not tried %d (stopped at the first failure; --keep-going goes on)", rep.NotTried)
		}
		if len(plan.Missing) > 0 {
			summary += fmt.Sprintf("; nodes that did not answer: %s", strings.Join(plan.Missing, ", "))
		}
		fmt.Fprintln(a.stdout, summary)
	}
	switch {
	case first != nil:
		return first
	case len(plan.Missing) > 0:
		return fail(exitUnreachable, errors.New("missing nodes"), "upgrade --factory %s: nodes %s did not answer; their actors were not upgraded",
			factory, strings.Join(plan.Missing, ", "))
	}
	return nil
}

type undeployJSON struct {
	Module  moduleJSON         `json:"module"`
	Stopped int                `json:"stopped"`
	Nodes   []undeployNodeJSON `json:"nodes"`
}

type undeployNodeJSON struct {
	Node    string `json:"node"`
	Stopped int    `json:"stopped"`
	Error   string `json:"error,omitempty"`
}

func (a *app) undeployCmd() *cobra.Command {
	var (
		out   format
		force bool
	)
	cmd := &cobra.Command{
		Use:   "undeploy HASH | FACTORY@HASH",
		Short: "Remove a module version from every node of the cluster",
		Long: `Remove a module from the cluster: every node drops it from its factory index
(the factory then resolves to its previous version, if any), deletes its
stored bytes and frees its compiled code and instances. A node that is down
now deletes its copy when it comes back; deploying the same file again
brings the module back.

A module that actors still run is refused (exit code 8) unless --force,
which stops them first (reason "undeployed"). Upgrade them to another
version first to keep them.`,
		Example: `  wasmactor undeploy 539f5fed
  wasmactor undeploy Counter@539f5fed --force`,
		Args: exactArgs(1, "one HASH or FACTORY@HASH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep client.UndeployReport
			if err := a.request(cmd.Context(), func(c *client.Client) (err error) {
				rep, err = c.Undeploy(cmd.Context(), args[0], force)
				return err
			}); err != nil {
				return fmt.Errorf("undeploy %s: %w", args[0], err)
			}
			j := undeployJSON{Module: moduleOut(rep.Module), Nodes: []undeployNodeJSON{}}
			var freed, away []string
			for _, n := range rep.Nodes {
				j.Stopped += n.Stopped
				j.Nodes = append(j.Nodes, undeployNodeJSON(n))
				if n.Error != "" {
					away = append(away, n.Node)
				} else {
					freed = append(freed, n.Node)
				}
			}
			if out == formatJSON {
				return writeJSON(a.stdout, j)
			}
			fmt.Fprintf(a.stdout, "undeployed %s (%s): stopped %d actors; freed on %s\n", rep.Module.Hash.Short(),
				orDash(strings.Join(rep.Module.Factories, ", ")), j.Stopped, orDash(strings.Join(freed, ", ")))
			if len(away) > 0 {
				fmt.Fprintf(a.stdout, "not answering: %s (they delete it when they come back)\n", strings.Join(away, ", "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "stop the module's actors first")
	addFormatFlag(cmd, &out)
	return cmd
}

type migrateJSON struct {
	Old        pidJSON `json:"old"`
	New        pidJSON `json:"new"`
	StateBytes int     `json:"state_bytes"`
	TookUs     int64   `json:"took_us"`
}

// migrateOut is one migration as -o json prints it, alone (migrate) or in
// a drain's list.
func migrateOut(r client.MigrateResult) migrateJSON {
	return migrateJSON{Old: pidOut(r.Old), New: pidOut(r.New), StateBytes: r.StateBytes, TookUs: r.Took.Microseconds()}
}

func (a *app) migrateCmd() *cobra.Command {
	var (
		out format
		to  string
	)
	cmd := &cobra.Command{
		Use:   "migrate TARGET --to NODE",
		Short: "Move a running actor to another node, state and queued messages intact",
		Long: `Move a running actor to another node: at a message boundary its snapshot and
the messages queued for it go to NODE, which pulls the module if it lacks it,
restores the actor under a PID of its own and takes over. The old PID keeps
working everywhere, also after its node has left; names and groups follow;
monitors and links still fire. If NODE refuses or fails before the actor has
moved, it carries on where it was (exit code 8, or 3 for a node down).

TARGET is a PID as printed or a registered name. Prints the actor's new PID.`,
		Example: `  wasmactor migrate counter --to n2
  wasmactor migrate '<n1.dcdd20ab7b107aa4.4>' --to n3 -o json`,
		Args: exactArgs(1, "one TARGET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return usageErrorf("migrate needs --to NODE")
			}
			if err := checkTarget(args[0]); err != nil {
				return err
			}
			var r client.MigrateResult
			if err := a.request(cmd.Context(), func(c *client.Client) (err error) {
				r, err = c.Migrate(cmd.Context(), args[0], to)
				return err
			}); err != nil {
				return fmt.Errorf("migrate %s to %s: %w", args[0], to, err)
			}
			if out == formatJSON {
				return writeJSON(a.stdout, migrateOut(r))
			}
			fmt.Fprintf(a.stdout, "%s  migrated to %s  (%s of state, %s)\n", r.Old, r.New, humanSize(int64(r.StateBytes)), r.Took)
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "node to move the actor to")
	addFormatFlag(cmd, &out)
	return cmd
}

type drainJSON struct {
	Node  string          `json:"node"`
	Moved []migrateJSON   `json:"moved"`
	Left  []drainLeftJSON `json:"left"`
}

type drainLeftJSON struct {
	pidJSON
	Factory string `json:"factory"`
	Reason  string `json:"reason"`
}

func (a *app) drainCmd() *cobra.Command {
	var (
		out          format
		keepIsolated bool
		cancelDrain  bool
		parallel     int
		timeout      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "drain NODE",
		Short: "Move every movable actor off a node, so that it can be stopped",
		Long: `Migrate every actor of NODE to the other nodes, spread by load (see
'wasmactor migrate'), and list the actors that could not move and why: a
factory without snapshots, asks that never settled, or isolated actors with
--keep-isolated. Then NODE can be stopped (SIGTERM): the moved actors keep
running, and their old PIDs and names keep working. This is the rolling
restart: drain, stop, upgrade the binary, start, and drain the next node.
NODE stays out of placement (spawns that name no node go elsewhere) until
it restarts or 'wasmactor drain --cancel NODE' ('wasmactor undrain NODE').

Exit code 8 if some actors stayed.`,
		Example: `  wasmactor drain n3
  wasmactor drain n3 --keep-isolated -o json`,
		Args: exactArgs(1, "one NODE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cancelDrain {
				return a.undrain(cmd.Context(), args[0], timeout)
			}
			if parallel < 0 {
				return usageErrorf("--parallel must not be negative")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			var rep client.DrainReport
			if err := a.request(ctx, func(c *client.Client) (err error) {
				rep, err = c.Drain(ctx, args[0], keepIsolated, parallel)
				return err
			}); err != nil {
				return fmt.Errorf("drain %s: %w", args[0], err)
			}
			if out == formatJSON {
				j := drainJSON{Node: args[0], Moved: []migrateJSON{}, Left: []drainLeftJSON{}}
				for _, m := range rep.Moved {
					j.Moved = append(j.Moved, migrateOut(m))
				}
				for _, l := range rep.Left {
					j.Left = append(j.Left, drainLeftJSON{pidJSON: pidOut(l.PID), Factory: l.Factory, Reason: bareLine(l.Reason)})
				}
				if err := writeJSON(a.stdout, j); err != nil {
					return err
				}
			} else {
				for _, l := range rep.Left {
					fmt.Fprintf(a.stdout, "%s  %s  stays: %s\n", l.PID, l.Factory, bareLine(l.Reason))
				}
				perNode := map[string]int{}
				for _, m := range rep.Moved {
					perNode[m.New.Node]++
				}
				var where []string
				for node, k := range perNode {
					where = append(where, fmt.Sprintf("%s %d", node, k))
				}
				sort.Strings(where)
				fmt.Fprintf(a.stdout, "drained %s: moved %d actors (%s), %d stay\n", args[0], len(rep.Moved), orDash(strings.Join(where, ", ")), len(rep.Left))
			}
			if len(rep.Left) > 0 {
				return fail(exitRefused, nil, "drain %s: %d actors could not move (listed above)", args[0], len(rep.Left))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&keepIsolated, "keep-isolated", false, "leave isolated actors where they are")
	f.BoolVar(&cancelDrain, "cancel", false, "undo a drain: NODE takes placed spawns again (as 'wasmactor undrain')")
	f.IntVar(&parallel, "parallel", 0, "migrations in flight (default: the node's, 16)")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for the whole drain")
	addFormatFlag(cmd, &out)
	return cmd
}

// bareLine is a reason as one line without our prefix.
func bareLine(s string) string { return strings.TrimPrefix(oneLine(s), "wasmactor: ") }
