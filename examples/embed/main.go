// Command embed runs a wasmactor node inside an ordinary Go program: it
// deploys the counter guest, spawns a Counter, talks to it, and watches it
// stop. It is the starting point for programs that host actors themselves
// rather than joining a cluster of `wasmactor node` processes.
//
// # Run
//
// Build the guest, then run this program with it:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o /tmp/counter.wasm ./examples/counter
//	go run ./examples/embed -wasm /tmp/counter.wasm
//
// This is a Go program for the machine you run it on, not a guest: it is
// never built for wasip1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/wasmactor/wasmactor/host"
)

func main() {
	wasmPath := flag.String("wasm", "", "the counter guest module (see the package doc for how to build it)")
	flag.Parse()
	if *wasmPath == "" {
		fmt.Fprintln(os.Stderr, "embed: -wasm is required; build it with:\n  GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o /tmp/counter.wasm ./examples/counter")
		os.Exit(2)
	}
	// Compiling a Go guest takes a few seconds; the rest is milliseconds.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *wasmPath); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		cancel()
		os.Exit(1)
	}
}

func run(ctx context.Context, wasmPath string) error {
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		return err
	}

	// No Listen address: the node runs alone, with no network at all.
	// A cold compile of a Go guest takes seconds, much longer on a busy
	// machine: allow more than the default minute.
	node, err := host.Start(ctx, host.Config{Name: "embed", CompileTimeout: 5 * time.Minute})
	if err != nil {
		return err
	}
	defer node.Close()

	mod, err := node.Deploy(ctx, wasm)
	if err != nil {
		return err
	}
	fmt.Printf("deployed %v: factories %v\n", mod.Hash, mod.Factories)

	pid, err := node.Spawn(ctx, "Counter", host.SpawnOptions{
		Name: "counter",
		Args: map[string]int64{"start": 10},
	})
	if err != nil {
		return err
	}
	fmt.Println("spawned", pid)

	// Messages are any CBOR-encodable Go value; maps with string keys are
	// what the counter (and JSON-minded callers) expect.
	for _, by := range []int64{1, 2, 3} {
		if err := node.Send(ctx, pid, map[string]any{"op": "inc", "by": by}); err != nil {
			return err
		}
	}
	reply, err := node.Call(ctx, pid, map[string]any{"op": "get"})
	if err != nil {
		return err
	}
	var v struct {
		Value int64 `cbor:"value"`
	}
	if err := reply.Decode(&v); err != nil {
		return err
	}
	fmt.Println("value:", v.Value) // 16: tells from one sender arrive in order, before the call

	// Watch the actor, then stop it.
	mon, err := node.Monitor(ctx, pid)
	if err != nil {
		return err
	}
	if err := node.Stop(ctx, pid); err != nil {
		return err
	}
	select {
	case d := <-mon.C:
		fmt.Println("down:", d.PID, d.Reason)
	case <-ctx.Done():
		return errors.New("no down notification")
	}
	return nil
}
