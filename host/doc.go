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
// [InspectModule] gives Deploy's verdict on a module without a node, for
// tools that check a module before it is uploaded.
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
// Config.GuestTimeout discards the whole instance: every actor in it dies with
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
// # Files
//
// The package is one type, [Node], seen from three sides; each file has one job:
//
//   - node.go: Start, Close and the node's lifetime; config.go: Config.
//   - api.go: the public Go API for actors (Spawn, Send, Call, Stop, Kill,
//     Monitor, Link, Unlink, IsLocal); names.go: names; groups.go: process
//     groups, their monitors and sends to them; events.go: node events
//     (Events) and guests' node monitors; stats.go: Stats, Actors.
//   - actor.go: an actor's life (spawn, exit, restart, finalize);
//     links.go: monitors and links, local and remote.
//   - instance.go: an instance, its mailbox and its turns; modules.go:
//     deploy and InspectModule (its check without a node), the per-module
//     instance pools, pulls from peers.
//   - imports.go: the engine.Host side, what a guest's imports do;
//     messaging.go: tell, ask and reply routing, pending asks and calls;
//     spawnreq.go: guests' spawn requests, here and on other nodes.
//   - remote.go: peers and the way out to them; handler.go: the
//     transport.Handler side, what peers send in; requests.go: requests from
//     peers and clients (the CLI); placement.go: which node a spawn goes to.
//
// # Goroutines
//
// The node starts no goroutine of its own besides the scheduler's workers
// (scheduler.Scheduler, stopped and waited for by Close), timers
// (time.AfterFunc for ask timeouts, SendAfter and spawn request deadlines),
// and one goroutine per spawn request in flight (goBackground: a guest's
// local spawn_request, or one a peer asked for), bounded by
// Config.MaxSpawnRequests and waited for by Close. Everything else runs on a
// caller's goroutine: the Go API's, a worker running a turn (imports), or the
// transport's (handler). Node.life is cancelled by Close and bounds work the
// node does on its own behalf.
//
// # Locks
//
// Lock order, outermost first; a function that holds one lock takes only
// locks below it:
//
//  1. Node.modMu: the map of modules.
//  2. module.load: held while a module is pulled and compiled (never while
//     a guest runs).
//  3. module.mu: a module's instance pool.
//  4. instance.mu: an instance's actor set and its dead flag.
//  5. nodeEvents.mu (node events, their subscribers and node monitors) and
//     groupWatch.mu (held across a membership change and the notices to
//     its monitors); never both at once. Either may take cluster.mu and
//     the leaves below, and queue records (the scheduler's locks).
//  6. cluster.loadMu: held across placement's status requests to peers.
//  7. Leaves, which are held while taking no other lock: actor.mu (and no
//     code holds two actor locks at once), cluster.mu, cluster.pullMu,
//     pendingAsks.mu, spawnRequests.mu, the table's shard locks, and the
//     registry's and scheduler's internal locks.
//
// The engine's per-instance lock is held for the whole of a guest call, and
// the guest's imports take host locks from inside it. So no host code may
// wait for an instance's call (Instance.Deliver, Close) while it holds any
// lock above: Stats reads memory sizes without the engine's lock, and Close
// closes instances after releasing Node.modMu. Network and compile waits
// hold only module.load and cluster.pullMu.
package host
