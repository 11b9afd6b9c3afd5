package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/transport"
)

var (
	hashV1 = registry.HashOf([]byte("v1"))
	hashV2 = registry.HashOf([]byte("v2"))
)

func TestUpgradeOne(t *testing.T) {
	f := newFake(t)
	var got proto.Upgrade
	f.handle = func(_ context.Context, req transport.Control) ([]byte, error) {
		require.Equal(t, proto.KindUpgradeCLI, req.Kind)
		got = proto.Upgrade{}
		require.NoError(t, proto.Unmarshal(req.Body, &got))
		return proto.Marshal(proto.UpgradeReply{PID: pidB, Factory: "Counter", From: hashV1, To: hashV2, StateBytes: 12, Micros: 143}), nil
	}
	r := f.run(t, "upgrade", "counter", "--to", "Counter@"+hashV2.String()[:8])
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, proto.Upgrade{Target: "counter", To: "Counter@" + hashV2.String()[:8]}, got)
	require.Equal(t, fmt.Sprintf("%s  upgraded  %s → %s  (12 B of state, 143µs)\n", pidB, hashV1.Short(), hashV2.Short()), r.stdout)

	r = f.run(t, "upgrade", pidB.String(), "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var j upgradeJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j))
	require.Equal(t, upgradeJSON{pidJSON: pidOut(pidB), Factory: "Counter", From: hashV1.String(), To: hashV2.String(), Result: "upgraded",
		StateBytes: 12, TookUs: 143}, j)
	require.Empty(t, got.To, "no --to: the node picks the newest")

	// Refusals exit 8, with the node's reason on one line.
	for _, code := range []abi.Errno{abi.CannotSnapshot, abi.SnapshotFailed, abi.RestoreFailed, abi.Busy, abi.InUse} {
		f.handle = func(context.Context, transport.Control) ([]byte, error) {
			return nil, &transport.RemoteError{Code: uint16(code), Message: code.Err().Error() + ": because"}
		}
		r = f.run(t, "upgrade", "counter")
		require.Equal(t, exitRefused, r.code, "%s: %s", code, r.stderr)
		require.Equal(t, oneLine("upgrade counter: "+code.Err().Error()+": because")+"\n", r.stderr)
	}

	for _, args := range [][]string{{"upgrade"}, {"upgrade", "a", "b"}, {"upgrade", "a", "--factory", "Counter"}, {"upgrade", "--factory", "Counter", "--parallel", "0"}} {
		r = f.run(t, args...)
		require.Equal(t, exitUsage, r.code, "%v: %s", args, r.stderr)
	}
}

func TestUpgradeFactoryRolls(t *testing.T) {
	f := newFake(t)
	pids := []wasmactor.PID{{Node: "n1", Incarnation: 1, Serial: 1}, {Node: "n1", Incarnation: 1, Serial: 2}, {Node: "n2", Incarnation: 2, Serial: 1}}
	to := "Counter@" + hashV2.String()
	failOn := map[string]bool{}
	f.handle = func(_ context.Context, req transport.Control) ([]byte, error) {
		switch req.Kind {
		case proto.KindUpgradePlan:
			var p proto.UpgradePlan
			require.NoError(t, proto.Unmarshal(req.Body, &p))
			require.Equal(t, proto.UpgradePlan{Factory: "Counter", To: "7c1e"}, p)
			var refs []proto.ActorVersion
			for i, pid := range pids {
				refs = append(refs, proto.ActorVersion{PID: pid, Module: []registry.Hash{hashV1, hashV2, hashV1}[i]})
			}
			return proto.Marshal(proto.UpgradePlanReply{To: to, Module: hashV2, Actors: refs}), nil
		case proto.KindUpgradeCLI:
			var u proto.Upgrade
			require.NoError(t, proto.Unmarshal(req.Body, &u))
			require.Equal(t, to, u.To, "every actor gets the version resolved once")
			if failOn[u.Target] {
				return nil, &transport.RemoteError{Code: uint16(abi.RestoreFailed), Message: "wasmactor: restore failed: nope"}
			}
			pid, err := wasmactor.ParsePID(u.Target)
			require.NoError(t, err)
			rep := proto.UpgradeReply{PID: pid, Factory: "Counter", From: hashV1, To: hashV2, StateBytes: 3, Micros: 10}
			if pid == pids[1] {
				rep.Current, rep.From = true, hashV2
			}
			return proto.Marshal(rep), nil
		}
		return nil, fmt.Errorf("unexpected kind %d", req.Kind)
	}
	r := f.run(t, "upgrade", "--factory", "Counter", "--to", "7c1e")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 4)
	require.Equal(t, fmt.Sprintf("%s  upgraded  %s → %s  (3 B of state, 10µs)", pids[0], hashV1.Short(), hashV2.Short()), lines[0])
	require.Equal(t, fmt.Sprintf("%s  current   %s", pids[1], hashV2.Short()), lines[1])
	require.Equal(t, to+": upgraded 2, current 1, failed 0", lines[3])

	// The first failure stops the roll; --keep-going goes on. Either way
	// the exit code is the failure's.
	failOn[pids[0].String()] = true
	r = f.run(t, "upgrade", "--factory", "Counter", "--to", "7c1e")
	require.Equal(t, exitRefused, r.code)
	require.Contains(t, r.stderr, "restore failed: nope")
	require.Equal(t, []string{
		fmt.Sprintf("%s  failed    wasmactor: restore failed: nope", pids[0]),
		to + ": upgraded 0, current 0, failed 1, not tried 2 (stopped at the first failure; --keep-going goes on)",
	}, strings.Split(strings.TrimSpace(r.stdout), "\n"))

	r = f.run(t, "upgrade", "--factory", "Counter", "--to", "7c1e", "--keep-going", "--parallel", "2", "-o", "json")
	require.Equal(t, exitRefused, r.code)
	var j rollingJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j))
	require.Equal(t, 1, j.Upgraded)
	require.Equal(t, 1, j.Current)
	require.Equal(t, 1, j.Failed)
	require.Len(t, j.Actors, 3)
}

func TestUndeploy(t *testing.T) {
	f := newFake(t)
	var got proto.UndeployRequest
	info := registry.ModuleInfo{Hash: hashV1, Size: 10, Factories: []string{"Counter"}}
	f.handle = func(_ context.Context, req transport.Control) ([]byte, error) {
		require.Equal(t, proto.KindUndeployCLI, req.Kind)
		got = proto.UndeployRequest{}
		require.NoError(t, proto.Unmarshal(req.Body, &got))
		if !got.Force {
			return nil, &transport.RemoteError{Code: uint16(abi.InUse), Message: "wasmactor: module in use: 3 actors run module " + hashV1.Short()}
		}
		return proto.Marshal(proto.UndeployReply{Module: info, Nodes: []proto.UndeployNode{{Node: "n1", Stopped: 2}, {Node: "n2", Error: "node down"}, {Node: "n3", Stopped: 1}}}), nil
	}
	r := f.run(t, "undeploy", "Counter@"+hashV1.String()[:8])
	require.Equal(t, exitRefused, r.code)
	require.Contains(t, r.stderr, "module in use: 3 actors")

	r = f.run(t, "undeploy", hashV1.String()[:8], "--force")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, proto.UndeployRequest{Ref: hashV1.String()[:8], Force: true}, got)
	require.Equal(t, "undeployed "+hashV1.Short()+" (Counter): stopped 3 actors; freed on n1, n3\n"+
		"not answering: n2 (they delete it when they come back)\n", r.stdout)

	r = f.run(t, "undeploy", hashV1.String()[:8], "--force", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var j undeployJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j))
	require.Equal(t, 3, j.Stopped)
	require.Len(t, j.Nodes, 3)
}

func TestMigrate(t *testing.T) {
	f := newFake(t)
	moved := wasmactor.PID{Node: "n2", Incarnation: 0x22, Serial: 9}
	var got proto.Migrate
	f.handle = func(_ context.Context, req transport.Control) ([]byte, error) {
		require.Equal(t, proto.KindMigrateCLI, req.Kind)
		got = proto.Migrate{}
		require.NoError(t, proto.Unmarshal(req.Body, &got))
		return proto.Marshal(proto.MigrateReply{Old: pidA, New: moved, StateBytes: 2048, Micros: 1500}), nil
	}
	r := f.run(t, "migrate", "counter", "--to", "n2")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, proto.Migrate{Target: "counter", To: "n2"}, got)
	require.Equal(t, fmt.Sprintf("%s  migrated to %s  (2.0 KiB of state, 1.5ms)\n", pidA, moved), r.stdout)
	r = f.run(t, "migrate", "counter", "--to", "n2", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var j migrateJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j))
	require.Equal(t, pidOut(moved), j.New)
	r = f.run(t, "migrate", "counter")
	require.Equal(t, exitUsage, r.code)
}

func TestDrain(t *testing.T) {
	f := newFake(t)
	moved := wasmactor.PID{Node: "n2", Incarnation: 0x22, Serial: 9}
	f.handle = func(_ context.Context, req transport.Control) ([]byte, error) {
		require.Equal(t, proto.KindDrainCLI, req.Kind)
		var d proto.Drain
		require.NoError(t, proto.Unmarshal(req.Body, &d))
		require.Equal(t, "n3", d.Node)
		rep := proto.DrainReply{Moved: []proto.MigrateReply{{Old: pidB, New: moved}}}
		if d.KeepIsolated {
			rep.Left = []proto.DrainLeft{{PID: pidA, Factory: "Plain", Reason: "wasmactor: actor cannot snapshot: <n1.0000000000000abc.7>", Code: uint16(abi.CannotSnapshot)}}
		}
		return proto.Marshal(rep), nil
	}
	r := f.run(t, "drain", "n3")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "drained n3: moved 1 actors (n2 1), 0 stay\n", r.stdout)
	r = f.run(t, "drain", "n3", "--keep-isolated")
	require.Equal(t, exitRefused, r.code)
	require.Equal(t, pidA.String()+"  Plain  stays: actor cannot snapshot: <n1.0000000000000abc.7>\ndrained n3: moved 1 actors (n2 1), 1 stay\n", r.stdout)
	r = f.run(t, "drain", "n3", "--keep-isolated", "-o", "json")
	require.Equal(t, exitRefused, r.code)
	var j drainJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j))
	require.Len(t, j.Moved, 1)
	require.Len(t, j.Left, 1)
}

func TestDemoMobility(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two guests and runs a cluster")
	}
	needGo(t)
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), demoTimeout)
	defer cancel()
	require.NoError(t, runMobilityDemo(ctx, &out, slog.New(slog.NewTextHandler(io.Discard, nil))))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 7, out.String())
	require.Contains(t, lines[3], "same PID")
	require.Contains(t, lines[3], `"value":42`)
	require.Equal(t, "7. 2042 = 42 + 2000: nothing was lost across the upgrade and the migration", lines[6])
}

// TestUndrain: undrain NODE and drain --cancel NODE both ask the node to
// take placed spawns again, and nothing else.
func TestUndrain(t *testing.T) {
	f := newFake(t)
	var got []proto.Drain
	f.handle = func(_ context.Context, req transport.Control) ([]byte, error) {
		require.Equal(t, proto.KindUndrainCLI, req.Kind)
		var d proto.Drain
		require.NoError(t, proto.Unmarshal(req.Body, &d))
		got = append(got, d)
		return proto.Marshal(proto.Empty{}), nil
	}
	r := f.run(t, "undrain", "n3")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "undrained n3: it takes placed spawns again\n", r.stdout)
	r = f.run(t, "drain", "--cancel", "n3")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, []proto.Drain{{Node: "n3"}, {Node: "n3"}}, got)
}
