// Package host is the wasmactor node: the public Go API that deploys WASM
// modules, spawns actors from their factories, and lets Go code talk to them.
//
// # Quick start
//
//	node, err := host.Start(ctx, host.Config{Name: "n1"})
//	if err != nil { ... }
//	defer node.Close()
//	mod, err := node.Deploy(ctx, wasmBytes)          // validates, stores, lists factories
//	pid, err := node.Spawn(ctx, "Counter", host.SpawnOptions{Args: map[string]int{"start": 1}})
//	err = node.Send(ctx, pid, map[string]any{"op": "inc", "by": 2})
//	reply, err := node.Call(ctx, pid, map[string]any{"op": "get"})
//	var v struct{ Value int }
//	err = reply.Decode(&v)
//
// # Actors, instances and turns
//
// A module instance hosts many actors of its module. Each module keeps a small
// pool of instances (Config.InstancesPerModule, about one per core) and pins
// every actor to one of them, so an actor's turns never run in parallel. An
// isolated spawn gets an instance of its own. Every instance has one mailbox;
// a worker of the scheduler takes up to Config.TurnBatch messages from it and
// hands them to the guest in one call.
//
// # Failure
//
// A trap, a panic reported by the guest SDK, or a guest call that outlives
// Config.CallTimeout discards the whole instance: every actor in it dies with
// that reason. Monitors and links fire when an actor is finally dead. An actor
// spawned with a restart policy (see [wasmactor.Restart]) is restarted in place:
// it keeps its PID and its names, so callers holding the PID keep working, and
// its monitors fire only when the restart intensity is exhausted.
//
// # Delivery
//
// Tell is at most once with per-pair FIFO. Mailboxes are bounded per actor
// (Config.MailboxSize): a full one is [wasmactor.ErrMailboxFull] for the sender.
// System messages (down, exit, stop) go ahead of user messages.
//
// # Locks
//
// Lock order, outermost first: Node.modMu, module.mu, instance.mu. actor.mu is
// a leaf: code holding it takes no other lock, and no code holds two actor
// locks at once. The registry and scheduler lock internally as leaves.
package host
