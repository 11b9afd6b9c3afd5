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
// With a protocol declared as Go types (//wasmactor:message, codecs by
// `wasmactor gen`; see package guest-sdk/typed), [Call] and [Send] are
// typed, and the answer's type is inferred from the request:
//
//	bal, err := host.Call(ctx, node, pid, bankproto.Deposit{Amount: 5}) // a bankproto.Balance
//
// [InspectModule] gives Deploy's verdict on a module without a node, for
// tools that check a module before it is uploaded.
//
// # Actors, instances and turns
//
// A module instance hosts many actors of its module. Each module keeps a small
// pool of instances (Config.InstancesPerModule, about one per core) and pins
// every actor to one of them, so an actor's turns never run in parallel. An
// isolated spawn gets an instance of its own, closed once the actor is dead
// for good (a restart keeps it). Every instance has one mailbox;
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
// its monitors fire only when the restart intensity is exhausted. While it is
// being restarted, monitors and links attach to it and messages are refused
// ([wasmactor.ErrNoProc]).
//
// A monitor of an actor on another node that cannot be sent there fires at
// once with reason "noconnection"; a link that cannot be sent is an error.
// An accepted monitor fires exactly once.
//
// # Delivery
//
// Tell is at most once with per-pair FIFO. Mailboxes are bounded per actor,
// in messages (Config.MailboxSize) and in bytes (Limits.MailboxBytes): a
// full one is [wasmactor.ErrMailboxFull] for the sender.
// A tell to another node returns once it is queued for that node; if the
// node refuses it (full mailbox, no such actor, stale incarnation), the
// refusal comes back and is counted against the sending actor
// (ActorInfo.Refused) and in Stats.RemoteRefused. System messages (down,
// exit, stop) go ahead of user messages.
//
// # Go actors
//
// [Node.SpawnFunc] gives Go code of the embedding program a PID of this
// node: a Go actor. It has no instance; its home is a goroutine that runs
// its [Handler] one message at a time, with a bounded mailbox of its own
// (system messages first). Everything else is the actor record every
// actor has, so tells, asks, replies, monitors, links, names and their
// remote forms reach it with no special case: guests, peers and the Go API
// cannot tell it from a guest's actor.
//
// # Limits
//
// Everything an actor can make the node hold is bounded per actor and per
// node ([Limits]); a request over a limit is [wasmactor.ErrLimit] (LIMIT for
// a guest) and changes nothing. Counts that no table keeps are atomics in
// Node.use (live actors, isolated instances, reserved guest memory) and
// actor.children; the rest are read where they are kept (timerSets, an
// actor's maps, the name registry).
//
// # Files
//
// The package is one type, [Node], seen from three sides; each file has one job:
//
//   - node.go: Start, Close and the node's lifetime; config.go: Config.
//   - api.go: the public Go API for actors (Spawn, Send, Call, Stop, Kill,
//     Monitor, Link, Unlink, IsLocal); names.go: names; groups.go: process
//     groups and sends to them; groupmonitor.go: group monitors, for Go
//     and guests; events.go: node events
//     (Events) and guests' node monitors; stats.go: Stats, Actors.
//   - actor.go: an actor's life (spawn, exit, restart, finalize);
//     links.go: monitors and links, local and remote; goactor.go: Go
//     actors (SpawnFunc), whose home is a goroutine instead of an instance;
//     goactor_context.go: what a Go actor's handler may do (ActorContext).
//   - instance.go: an instance, its mailbox and its turns; pool.go: a
//     module's instances (which one an actor is pinned to, the gates that
//     serialise growth); modules.go: deploy and InspectModule (its check
//     without a node), loading a module, pulls from peers; transfer.go:
//     modules in chunks (deploys from clients as uploads, pulls chunk by
//     chunk), so no message is the size of a module.
//   - imports.go: the engine.Host side, what a guest's imports do;
//     messaging.go: tell, ask and reply routing, pending asks and calls;
//     timers.go: the timers actors own (ask timeouts, SendAfter);
//     spawnreq.go: guests' spawn requests, here and on other nodes.
//   - remote.go: peers and the way out to them; outbox.go: control
//     messages to a peer, refused to the caller or kept in order; handler.go: the
//     transport.Handler side, what peers send in; requests.go: requests from
//     peers and clients (the CLI); access.go: what a client's cookie or
//     token lets it request; listings.go: paged, cluster-wide ps and nodes;
//     placement.go: which node a spawn goes to (and which members drain);
//     join.go: joining the cluster, in the background until a seed answers.
//   - http.go: the optional HTTP listener; metrics.go: Prometheus metrics;
//     observer.go: the observer page's data; tracing.go: OpenTelemetry
//     spans and the trace context messages and turns carry; peerlimits.go:
//     the bounds on what a peer makes this node hold; limits.go: Limits,
//     the bounds on what actors make it hold, and their refusals; table.go:
//     the actor table.
//   - mobility.go: moving an actor out of its instance at a message
//     boundary (freeze, snapshot, restore, commit or thaw) without losing
//     or reordering its records; upgrade.go: hot upgrade (Upgrade,
//     UpgradeFactory) and the mobility requests; migrate.go: live
//     migration (Migrate) at the actor's old node, and the Moved that tells
//     the cluster; forwarding.go: stubs, forward lanes and fences;
//     aliases.go: the alias table and routing by it; arrival.go: the
//     arriving side (restore frozen, commit, hold until fences pass);
//     relay.go: casts that reach an actor's old node follow it;
//     drain.go: Drain and Undrain; undeploy.go: Undeploy, tombstones and the modules listing.
//
// # Resources
//
// Everything an actor holds goes when it dies for good (finalize): its
// entry in the actor table and its place among the node's live actors and
// its parent's children, its pin on its instance (an isolated instance
// then closes, and a retired instance gives back its reserved guest memory),
// its names and groups, the monitors and links it holds and
// those held on it, here and on other nodes; what it holds on others goes
// before its watchers hear of the death. Its pending asks and SendAfter
// timers go at every exit, restarts included: the restarted actor is a new
// guest object that never made them. Code that adds a record about an actor
// that another goroutine may be killing (a monitor, a name, an ask, a
// timer...) checks afterwards (actor.dead, which finalize sets before it
// releases anything; alive for asks and timers) and takes the record back,
// so a record is never left behind by a finalize that ran before it existed.
//
// # Goroutines
//
// The node's own goroutines are the scheduler's workers
// (scheduler.Scheduler), the background join (joinInBackground, until a
// seed answers), one drain per peer whose control backlog is not empty
// (outbox.go, tracked by Node.bg), one per spawn request in flight (a
// guest's local spawn_request, or one a peer asked for: goBackground,
// tracked by Node.jobs, at most Config.MaxSpawnRequests), the HTTP server
// when Config.HTTPListen is set, and one goroutine per Go actor
// (goactor.go), which runs its handler and returns once the actor is dead
// (finalize halts it). Close stops each and waits for it; the Go actors'
// once it has stopped every actor (Node.gos). Timers are time.AfterFunc callbacks for ask timeouts, SendAfter and spawn
// request deadlines; the first two are owned by their actor in a timerSet:
// stopped when it exits and all of them by Close. A deploy upload's stall
// timer (transfer.go) is its upload's: stopped when the upload ends, and
// Close ends them all. A migrating actor's commit timer
// (arrival.go) is its arrival's: stopped when the arrival settles, and
// Close stops those left. Everything else runs on a
// caller's goroutine: the Go API's, a worker running a turn (imports), or the
// transport's (handler); placement and the cluster-wide listings ask peers
// from short-lived goroutines they wait for. Node.life is cancelled by Close
// and bounds work the node does on its own behalf. Tracing starts no
// goroutine: spans end on the goroutine that ends them, and the exporting
// belongs to Config.TracerProvider (its batching processor's goroutine is
// stopped by whoever shuts the provider down; the CLI does after Close).
// A move (Upgrade, Migrate, Drain) runs on its caller's goroutine and
// waits for the actor's instance between two turns. Four kinds of
// goroutine are started for migrations, by mobility.goBG, and tracked by
// mobility.bg, which Close waits for (they stop with Node.life; none
// starts once it has waited): the move a guest asks for with the migrate
// import (one per actor at a time), the Moved told to a member until it
// answers (one per member and move), the retry of a fence that met a full
// send queue, and the abort sent to a target whose answer was lost. A forward
// to a migrated actor's new node waits (up to 10 s) on the goroutine that
// sends it when the send queue is full.
//
// # Locks
//
// Lock order, outermost first; a function that holds one lock takes only
// locks below it:
//
//  0. Code mobility's locks, outermost: instance.turnMu (held by an
//     instance's Turn for the whole turn, so the guest's imports run under
//     it, and by a move while it freezes, snapshots or restores one of the
//     instance's actors; no code holds two of them), then mobility.route
//     (read-held by a send while it looks its target up and queues the
//     message, write-held while the node learns of a migration and queues
//     its fence), then stub.mu (held while a migrated actor's old node
//     forwards to it, which may hand the record to a local actor or to the
//     next stub of a chain of moves: always onwards, never back).
//  1. Node.modMu: the map of modules.
//  2. module.load: a gate held while a module is pulled and compiled;
//     waiters give up when their context ends.
//  3. module.grow: a gate held while a shared instance is instantiated for
//     the pool; waiters give up likewise. Isolated instances are
//     instantiated with no lock held.
//  4. module.mu: a module's instance pool.
//  5. instance.mu: an instance's actor set and its dead flag.
//  6. nodeEvents.mu (node events, their subscribers and node monitors) and
//     groupWatch.mu (held across a membership change and the notices to
//     its monitors); never both at once. Either may take the locks below,
//     and queue records (the scheduler's locks).
//  7. cluster.mu: held while the registry is called (learnModule and
//     forgetHolder keep the holder table and the factory index in step);
//     then mobility.mu (the alias table, the stubs, the
//     fences counted at them, the arrivals and the guests' own moves).
//  8. goActors.mu (held while a Go actor enters the table) and goActor.mu
//     (held while a record is queued in a Go actor's mailbox); never both.
//  9. Leaves, which are held while taking no other lock: actor.mu (and no
//     code holds two actor locks at once; a move ending or a fence passing
//     hands the actor's records to a mailbox under it, taking the
//     scheduler's mailbox lock, a leaf), cluster.pullMu, cluster.loadMu
//     (the loads and the draining members placement reads), uploads.mu
//     and upload.mu (deploys in chunks: a chunk is written to its file
//     under its upload's lock alone; an upload that ends takes uploads.mu
//     under its own lock to leave the table, never the other way round),
//     the timerSets' locks (pending asks, SendAfter timers), outbox.mu,
//     mobility.bgMu (a migration goroutine starting, or Close's wait),
//     spawnRequests.mu, the table's shard locks, and the registry's and
//     scheduler's internal locks. A refusal counted under one of them
//     (n.overLimit in link) takes none: its counters are atomics. The
//     tracer provider's own locks are leaves too: spans start inside guest
//     calls (asks) and end with no host lock held (the timerSets call back
//     after unlocking). A provider that exports synchronously (a simple
//     span processor) would make those calls wait for its exporter: give
//     the node a batching one.
//
// A turn's trace contexts (instance.trace) need no lock: the goroutine
// running the turn owns them, and the instance's imports read them during
// the turn's guest call, on that goroutine.
//
// A Go actor's handler runs holding no lock, like a guest's turn.
//
// An instance's log rate limit (instance.logb) is owned, like its batch,
// by the goroutine running its turn; an actor's is in actorExt, under
// actor.mu.
//
// The engine's per-instance lock is held for the whole of a guest call, and
// the guest's imports take host locks from inside it. So no host code may
// wait for an instance's call (Instance.Deliver, Close) while it holds any
// lock above: Stats reads memory sizes without the engine's lock, Close
// closes instances after releasing Node.modMu, a failed instance is closed
// after its turn's call returned, and an isolated instance left without
// actors is closed by its own turn, after the call. Instantiating runs the
// guest's initialisation under module.grow at most; imports do nothing
// there, so it waits for no host lock. Network and compile waits hold only
// module.load; placement's status requests hold no lock.
package host
