package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild"
)

// demoTimeout bounds the whole demo, a cold build of the example included.
const demoTimeout = 3 * time.Minute

func (a *app) demoCmd() *cobra.Command {
	var (
		logLevel string
		hold     bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a 3-node cluster in this process and show remote spawn, call and monitor",
		Long: `Run a three-node cluster in this process, on free loopback ports with a fresh
random cookie, and walk through the main features one numbered step at a
time: build examples/counter from source, deploy it on n1, spawn a Counter on
n3 from n1 by factory name, call it from n2 by its registered name, monitor
it from n1, stop n3 and watch the monitor fire with reason noconnection.
n1 serves the observer, a live web page of the cluster, on a loopback port
that the demo prints; --hold keeps n1 and n2 running after the last step
(until Ctrl-C) so there is time to look.

It must run inside the wasmactor source tree (it builds the example with the
go command; the build is cached, as the tests' guest builds are).`,
		Example: `  go run ./cmd/wasmactor demo
  wasmactor demo --log-level info     # also show the nodes' logs
  wasmactor demo --hold               # keep the cluster up for the observer`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			level, err := parseLevel(logLevel)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), demoTimeout)
			defer cancel()
			logger := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			var holdCtx context.Context // nil: do not hold
			if hold {
				holdCtx = cmd.Context()
			}
			return runDemo(ctx, holdCtx, a.stdout, logger)
		},
	}
	cmd.Flags().StringVar(&logLevel, "log-level", "error", "log level of the nodes: debug, info, warn or error")
	cmd.Flags().BoolVar(&hold, "hold", false, "after the last step, keep n1 and n2 (and the observer) running until interrupted")
	cmd.AddCommand(a.demoMobilityCmd(&logLevel))
	return cmd
}

// demoStep prints numbered steps.
type demoStep struct {
	w io.Writer
	n int
}

func (s *demoStep) say(format string, args ...any) {
	s.n++
	fmt.Fprintf(s.w, "%d. %s\n", s.n, fmt.Sprintf(format, args...))
}

// eventually retries f until it succeeds or ctx ends: the cluster replicates
// membership and names asynchronously.
func eventually(ctx context.Context, what string, limit time.Duration, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (gave up after %s)", what, err, limit)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// knows reports whether n has heard of the module with hash h.
func knows(n *host.Node, h string) bool {
	for _, m := range n.Modules() {
		if m.Hash.String() == h {
			return true
		}
	}
	return false
}

// startDemoCluster starts n1, n2 and n3 on free loopback ports with a
// fresh cookie, n1 with the observer, and waits for the full mesh. stop
// closes the nodes it started, even after an error.
func startDemoCluster(ctx context.Context, logger *slog.Logger) (nodes []*host.Node, stop func(), err error) {
	stop = func() {
		for _, n := range nodes {
			_ = n.Close()
		}
	}
	nodes, err = startDemoNodes(ctx, logger)
	return nodes, stop, err
}

func startDemoNodes(ctx context.Context, logger *slog.Logger) ([]*host.Node, error) {
	cookie := make([]byte, 32)
	if _, err := rand.Read(cookie); err != nil {
		return nil, err
	}
	var nodes []*host.Node
	for i := 1; i <= 3; i++ {
		// A demo's first run compiles its guests cold; on a slow or busy
		// machine that takes longer than a node's default minute, and the
		// demo's own deadline bounds it anyway.
		cfg := host.Config{Name: fmt.Sprintf("n%d", i), Listen: "127.0.0.1:0", Cookie: cookie, Logger: logger, CompileTimeout: 10 * time.Minute}
		if i == 1 {
			cfg.HTTPListen = "127.0.0.1:0" // the observer
		}
		if i > 1 {
			cfg.Join = []string{nodes[0].Addr()}
		}
		n, err := host.Start(ctx, cfg)
		if err != nil {
			return nodes, fmt.Errorf("demo: starting %s: %w", cfg.Name, err)
		}
		nodes = append(nodes, n)
		if n.Addr() == "" {
			return nodes, fmt.Errorf("demo: %s started without a network: host.Start did not listen on %s", cfg.Name, cfg.Listen)
		}
	}
	err := eventually(ctx, "demo: forming the cluster", 10*time.Second, func() error {
		for _, n := range nodes {
			if m := len(n.Members()); m != 2 {
				return fmt.Errorf("%s sees %d peers, not 2", n.Name(), m)
			}
		}
		return nil
	})
	return nodes, err
}

// runDemo runs the steps under ctx; with a non-nil hold it then keeps the
// surviving nodes up until hold is done.
func runDemo(ctx, hold context.Context, w io.Writer, logger *slog.Logger) error {
	step := &demoStep{w: w}

	start := time.Now()
	root, err := guestbuild.RepoRoot()
	if err != nil {
		return fmt.Errorf("demo: run the demo inside the wasmactor source tree: %w", err)
	}
	// The cache the tests share: a demo after a test run starts at once.
	wasm, err := guestbuild.Build(ctx, filepath.Join(root, "examples", "counter"), guestbuild.WithCache(guestbuild.DefaultCacheDir()))
	if err != nil {
		return fmt.Errorf("demo: building examples/counter: %w", err)
	}
	step.say("built examples/counter to WebAssembly: %s (%s)", humanSize(int64(len(wasm))), time.Since(start).Round(time.Millisecond))

	nodes, stop, err := startDemoCluster(ctx, logger)
	defer stop()
	if err != nil {
		return err
	}
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	step.say("started a 3-node cluster on loopback: n1 %s, n2 %s, n3 %s (full mesh); the observer: http://%s/", n1.Addr(), n2.Addr(), n3.Addr(), n1.HTTPAddr())

	info, err := n1.Deploy(ctx, wasm)
	if err != nil {
		return fmt.Errorf("demo: deploy on n1: %w", err)
	}
	// Deploy announces the module to the cluster asynchronously; show it
	// arriving rather than racing it.
	err = eventually(ctx, "demo: announcing the module", 10*time.Second, func() error {
		for _, n := range nodes {
			if !knows(n, info.Hash.String()) {
				return fmt.Errorf("%s has not heard of module %s", n.Name(), shortHash(info.Hash.String()))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	step.say("deployed module %s on n1 (factories: %s); n2 and n3 heard of it", shortHash(info.Hash.String()), strings.Join(info.Factories, ", "))

	pid, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n3", Name: "counter", Args: map[string]int{"start": 40}})
	if err != nil {
		return fmt.Errorf("demo: spawn Counter on n3 from n1: %w", err)
	}
	step.say(`n1 spawned a Counter on n3 by factory name: %s, registered as "counter" (n3 pulled the module from n1)`, pid)

	var found wasmactor.PID
	err = eventually(ctx, `demo: n2 looking up "counter"`, 5*time.Second, func() error {
		found, err = n2.Whereis(ctx, "counter")
		return err
	})
	if err != nil {
		return err
	}
	if err := n2.Send(ctx, found, map[string]any{"op": "inc", "by": 2}); err != nil {
		return fmt.Errorf("demo: n2 send to %s: %w", found, err)
	}
	reply, err := n2.Call(ctx, found, map[string]any{"op": "get"})
	if err != nil {
		return fmt.Errorf("demo: n2 call %s: %w", found, err)
	}
	js, err := CBORToJSON(reply)
	if err != nil {
		return fmt.Errorf("demo: reply from %s: %w", found, err)
	}
	step.say(`n2 found "counter" at %s, sent {"op":"inc","by":2} and called {"op":"get"}: reply %s`, found, js)

	mon, err := n1.Monitor(ctx, pid)
	if err != nil {
		return fmt.Errorf("demo: n1 monitor %s: %w", pid, err)
	}
	defer mon.Cancel()
	step.say("n1 monitors %s", pid)

	if err := n3.Close(); err != nil {
		return fmt.Errorf("demo: stopping n3: %w", err)
	}
	stopped := time.Now()
	step.say("stopped n3")

	select {
	case d := <-mon.C:
		step.say("n1's monitor fired after %s: %s is down, reason %q", time.Since(stopped).Round(time.Microsecond), d.PID, d.Reason)
		// A node that goes away takes its actors with reason noconnection.
		// n3 leaves gracefully, so its own "shutdown" Down may win the race
		// with the leave; both are true. Anything else is a bug.
		if d.Reason != wasmactor.ReasonNoConnection && d.Reason != wasmactor.ReasonShutdown {
			return fmt.Errorf("demo: expected reason %q for an actor of a stopped node, got %q", wasmactor.ReasonNoConnection, d.Reason)
		}
	case <-ctx.Done():
		return fmt.Errorf("demo: n1's monitor of %s did not fire after n3 stopped: %w", pid, ctx.Err())
	}
	if hold == nil {
		step.say("done; n1 and n2 keep running until this process exits")
		return nil
	}
	step.say("done; holding n1 and n2 with the observer at http://%s/ until interrupted (Ctrl-C)", n1.HTTPAddr())
	<-hold.Done()
	return nil
}
