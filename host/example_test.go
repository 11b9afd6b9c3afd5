package host_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/wasmactor/wasmactor/host"
)

// A node running alone: deploy a module, spawn an actor by factory name,
// call it, and watch it stop. The module is the hand-written WAT actor of
// the ABI docs, whose Echo actors answer every call with its payload.
func Example() {
	ctx := context.Background()
	node, err := host.Start(ctx, host.Config{
		Name:   "n1",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Close()

	wasm, err := os.ReadFile("../testdata/minimal_actor.wasm")
	if err != nil {
		fmt.Println(err)
		return
	}
	mod, err := node.Deploy(ctx, wasm)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("factories:", mod.Factories)

	pid, err := node.Spawn(ctx, "Echo", host.SpawnOptions{Name: "echo"})
	if err != nil {
		fmt.Println(err)
		return
	}
	byName, _ := node.Whereis(ctx, "echo")
	fmt.Println("registered:", byName == pid)

	reply, err := node.Call(ctx, pid, "hello")
	if err != nil {
		fmt.Println(err)
		return
	}
	var s string
	_ = reply.Decode(&s)
	fmt.Println("reply:", s)

	mon, _ := node.Monitor(ctx, pid)
	_ = node.Stop(ctx, pid)
	down := <-mon.C
	fmt.Println("down:", down.Reason)
	// Output:
	// factories: [Echo]
	// registered: true
	// reply: hello
	// down: shutdown
}
