package host_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/wasmactor/wasmactor/host"
)

// A Go actor: Go code with a PID of its node, asked like any actor (here
// by the node's own Go API; guests on any node ask it the same way), and
// stopped by its handler's error, which its monitors see as the reason.
func ExampleNode_SpawnFunc() {
	ctx := context.Background()
	node, err := host.Start(ctx, host.Config{Name: "n1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Close()

	pid, err := node.SpawnFunc(ctx, "greeter", func(ctx *host.ActorContext, msg host.Message) error {
		var who string
		if err := msg.Decode(&who); err != nil {
			return err
		}
		if who == "" {
			return errors.New("nobody to greet")
		}
		if msg.IsAsk() {
			return ctx.Reply("hello, " + who)
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	byName, _ := node.Whereis(ctx, "greeter")
	fmt.Println("registered:", byName == pid)

	reply, err := node.Call(ctx, pid, "gopher")
	if err != nil {
		fmt.Println(err)
		return
	}
	var s string
	_ = reply.Decode(&s)
	fmt.Println("reply:", s)

	mon, _ := node.Monitor(ctx, pid)
	_ = node.Send(ctx, pid, "")
	fmt.Println("down:", (<-mon.C).Reason)
	// Output:
	// registered: true
	// reply: hello, gopher
	// down: nobody to greet
}
