package client_test

import (
	"context"
	"fmt"
	"time"

	"github.com/wasmactor/wasmactor/client"
)

// A program that is not part of the cluster deploys a module, spawns an
// actor of it on a node and talks to it. exampleNode starts a one-node
// cluster in this process for the example and gives its address and cookie
// file.
func Example() {
	addr, cookieFile, wasm, stop := exampleNode()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c, err := client.Dial(ctx, addr, client.Options{CookieFile: cookieFile})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	mod, err := c.Deploy(ctx, wasm)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("factories:", mod.Factories)

	pid, err := c.Spawn(ctx, "Echo", client.SpawnOptions{Name: "echo"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("spawned on", pid.Node)

	reply, err := c.Call(ctx, "echo", "hello")
	if err != nil {
		fmt.Println(err)
		return
	}
	var s string
	_ = reply.Decode(&s)
	fmt.Println("reply:", s)

	ps, _ := c.Ps(ctx)
	fmt.Println("actors:", len(ps), ps[0].Factory, ps[0].Names)
	// Output:
	// factories: [Echo]
	// spawned on n1
	// reply: hello
	// actors: 1 Echo [echo]
}
