package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild"
)

func (a *app) demoMobilityCmd(logLevel *string) *cobra.Command {
	return &cobra.Command{
		Use:   "mobility",
		Short: "Show a counter upgraded and migrated while it counts, nothing lost",
		Long: `Run a three-node cluster in this process and show code mobility, one
numbered step at a time: a Counter (examples/counter) counts on n1; version 2
(examples/counter/v2) is deployed and the running counter is upgraded to it
with its count intact; then it migrates to n2 while n3 keeps incrementing it
through its old PID; finally it is called by its old PID and by its name, and
the count proves that no increment was lost.

It must run inside the wasmactor source tree (it builds both versions with
the go command; the builds are cached).`,
		Example: "  go run ./cmd/wasmactor demo mobility",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			level, err := parseLevel(*logLevel)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), demoTimeout)
			defer cancel()
			return runMobilityDemo(ctx, a.stdout, slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level})))
		},
	}
}

// demoIncrements is how many increments n3 sends while the counter moves.
const demoIncrements = 2000

func runMobilityDemo(ctx context.Context, w io.Writer, logger *slog.Logger) error {
	step := &demoStep{w: w}
	start := time.Now()
	root, err := guestbuild.RepoRoot()
	if err != nil {
		return fmt.Errorf("demo: run the demo inside the wasmactor source tree: %w", err)
	}
	var wasm [2][]byte
	for i, dir := range []string{"examples/counter", "examples/counter/v2"} {
		if wasm[i], err = guestbuild.Build(ctx, filepath.Join(root, dir), guestbuild.WithCache(guestbuild.DefaultCacheDir())); err != nil {
			return fmt.Errorf("demo: building %s: %w", dir, err)
		}
	}
	step.say("built examples/counter and examples/counter/v2 to WebAssembly (%s)", time.Since(start).Round(time.Millisecond))

	nodes, stop, err := startDemoCluster(ctx, logger)
	defer stop()
	if err != nil {
		return err
	}
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	step.say("started a 3-node cluster on loopback: n1 %s, n2 %s, n3 %s", n1.Addr(), n2.Addr(), n3.Addr())

	v1, err := n1.Deploy(ctx, wasm[0])
	if err != nil {
		return fmt.Errorf("demo: deploy version 1: %w", err)
	}
	pid, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n1", Name: "counter", Args: map[string]int{"start": 40}})
	if err != nil {
		return fmt.Errorf("demo: spawn: %w", err)
	}
	if err := n1.Send(ctx, pid, map[string]any{"op": "inc", "by": 2}); err != nil {
		return fmt.Errorf("demo: send: %w", err)
	}
	js, err := demoCall(ctx, n1, pid)
	if err != nil {
		return err
	}
	step.say(`deployed version 1 (%s) and spawned %s on n1 as "counter": after {"op":"inc","by":2} it says %s`, v1.Hash.Short(), pid, js)

	time.Sleep(time.Millisecond) // the newest deploy is the later one
	v2, err := n1.Deploy(ctx, wasm[1])
	if err != nil {
		return fmt.Errorf("demo: deploy version 2: %w", err)
	}
	up, err := n1.Upgrade(ctx, pid, "")
	if err != nil {
		return fmt.Errorf("demo: upgrade: %w", err)
	}
	if js, err = demoCall(ctx, n1, pid); err != nil {
		return err
	}
	step.say("deployed version 2 (%s) and upgraded %s in place: %s → %s in %s, same PID; it says %s",
		v2.Hash.Short(), pid, up.From.Short(), up.To.Short(), up.Took.Round(time.Microsecond), js)

	// n3 increments through the PID it knows while the counter moves.
	sent := make(chan error, 1)
	go func() {
		for i := range demoIncrements {
			if err := n3.Send(ctx, pid, map[string]any{"op": "inc", "by": 1}); err != nil {
				sent <- fmt.Errorf("demo: increment %d from n3: %w", i, err)
				return
			}
			if i == demoIncrements/4 {
				time.Sleep(time.Millisecond) // let the migration start in the middle
			}
		}
		sent <- nil
	}()
	mig, err := n1.Migrate(ctx, pid, "n2")
	if err != nil {
		return fmt.Errorf("demo: migrate: %w", err)
	}
	if err := <-sent; err != nil {
		return err
	}
	step.say("migrated it to n2 while n3 sent it %d increments through its old PID: it is now %s (%s of state, %s)",
		demoIncrements, mig.New, humanSize(int64(mig.StateBytes)), mig.Took.Round(time.Microsecond))

	// A call from n3 comes after n3's increments (one sender, in order).
	byOld, err := demoCall(ctx, n3, pid)
	if err != nil {
		return err
	}
	var byName string
	err = eventually(ctx, `demo: n1 looking up "counter"`, 5*time.Second, func() error {
		found, err := n1.Whereis(ctx, "counter")
		if err != nil {
			return err
		}
		if found != mig.New {
			return fmt.Errorf(`"counter" is %s, not yet %s`, found, mig.New)
		}
		byName, err = demoCall(ctx, n1, found)
		return err
	})
	if err != nil {
		return err
	}
	step.say(`called by its old PID %s from n3: %s; by its name "counter" (now %s) from n1: %s`, pid, byOld, mig.New, byName)

	r, err := n3.Call(ctx, pid, map[string]any{"op": "get"})
	if err != nil {
		return err
	}
	var v struct {
		Value int64 `cbor:"value"`
	}
	if err := r.Decode(&v); err != nil {
		return err
	}
	if want := int64(42 + demoIncrements); v.Value != want {
		return fmt.Errorf("demo: the counter is %d, not %d: %w", v.Value, want, wasmactor.ErrCrashed)
	}
	step.say("%d = 42 + %d: nothing was lost across the upgrade and the migration", v.Value, demoIncrements)
	return nil
}

// demoCall asks a counter for its value and returns the reply as JSON.
func demoCall(ctx context.Context, n *host.Node, pid wasmactor.PID) (string, error) {
	reply, err := n.Call(ctx, pid, map[string]any{"op": "get"})
	if err != nil {
		return "", fmt.Errorf("demo: call %s: %w", pid, err)
	}
	js, err := CBORToJSON(reply)
	if err != nil {
		return "", fmt.Errorf("demo: reply from %s: %w", pid, err)
	}
	return string(js), nil
}
