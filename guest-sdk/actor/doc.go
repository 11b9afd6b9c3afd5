// Package actor is the Go SDK for wasmactor guests: actor code compiled to a
// WebAssembly module (GOOS=wasip1 GOARCH=wasm) that wasmactor nodes deploy,
// spawn by factory name, and connect with location-transparent messages.
//
// The package implements the guest side of docs/abi.md, version 1. It
// imports only the standard library and github.com/fxamacker/cbor/v2.
//
// # Actors
//
// An actor is a value implementing [Actor]. Each gets its own [Context] and
// handles one message at a time; the actors of a module share a WASM
// instance but never run concurrently, so actor code needs no locks.
//
//	type Counter struct{ n int64 }
//
//	type Op struct {
//		Op string `cbor:"op"`
//		By int64  `cbor:"by"`
//	}
//
//	func (c *Counter) Receive(ctx *actor.Context, msg actor.Message) {
//		op, err := actor.Decode[Op](msg)
//		if err != nil {
//			ctx.Log(actor.LevelWarn, "bad message", "err", err)
//			return
//		}
//		switch op.Op {
//		case "inc":
//			c.n += op.By
//		case "get":
//			ctx.Reply(map[string]int64{"value": c.n})
//		}
//	}
//
// Optional interfaces add behaviour: [Starter] (Init with spawn arguments),
// [Stopper] (Terminate), [Snapshotter] (state for migration and hot
// upgrade), [DownHandler] (monitors), [ExitHandler] (trapped exits),
// [NodeDownHandler] (node monitors) and [GroupHandler] (group monitors).
//
// # Factories and the guest program
//
// A guest is a main package that registers factories from init. The host
// loads the module as a WASI reactor: it runs the package initialisers and
// then calls the SDK's exports; main never runs, but the Go toolchain wants
// one:
//
//	package main
//
//	import "github.com/wasmactor/wasmactor/guest-sdk/actor"
//
//	func init() {
//		actor.Register("Counter", func() actor.Actor { return &Counter{} })
//	}
//
//	func main() {}
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o counter.wasm ./examples/counter
//
// (or `wasmactor build examples/counter`), then deploy counter.wasm.
//
// # Messages
//
// Payloads are CBOR. A [Message] is a zero-copy view into the SDK's inbox,
// valid only while the handler runs: [Message.Decode] and [Decode] copy into
// Go values, [Message.Bytes] does not. [Context.Send], [Context.Ask] and
// [Context.Reply] encode with fxamacker/cbor into a reused buffer; the Raw
// variants ([Context.SendRaw], [Context.ReplyRaw]...) send bytes as they are,
// and [AppendUint], [AppendPID], [ReadUint], [ReadPID] build and parse small
// messages by hand without allocating. A [PID] is the CBOR array
// [incarnation, serial], so PIDs travel inside messages.
//
// [Context.Send] returns once the host has queued or refused the message,
// at the price of one call into the host per message. An actor that sends
// many messages in one callback can [Context.Post] them instead: they wait
// in the SDK's outbox and reach the host together, in order, before the
// instance's next other request and at the latest when the callback
// returns. A posted message the host refuses is counted in
// [Context.Refused], and [Context.Flush] sends the outbox at once and
// reports the refusals among it.
//
// Messages arriving from the command line started as JSON: maps with string
// keys. Struct fields tagged `cbor:"name"` read them.
//
// # Typed messages
//
// A protocol can be declared as Go types instead: struct types marked
// //wasmactor:message in a package the guest and Go programs share, with
// codecs written by `wasmactor gen` (package
// github.com/wasmactor/wasmactor/guest-sdk/typed). A [Router] dispatches
// them by type to methods, without reflection or a string switch:
//
//	//wasmactor:message reply=Balance
//	type Deposit struct{ Amount int64 `cbor:"amount"` }
//
//	var routes = actor.NewRouter(
//		actor.Handle((*Account).Deposit),  // (ctx, Deposit) (Balance, error)
//		actor.HandleTell((*Account).Close), // (ctx, Close)
//	)
//
//	func (a *Account) Receive(ctx *actor.Context, msg actor.Message) { routes.Receive(a, ctx, msg) }
//
// A handler's answer is the reply; its error reaches the asker as a
// typed.Error, and so does a message of a type the actor has no handler
// for (typed.ErrUnknownType). [Ask] continues with the declared answer
// type, [Send] and [Reply] encode with the generated codec, and [Defer]
// hands out a [Pending] to answer in a later turn. The untyped API stays:
// [Router.Untyped] takes untyped messages too, and generated types also
// marshal through fxamacker/cbor ([Decode], [Context.Send]) in the same
// tagged form.
//
// # Asking
//
// Nothing blocks inside a guest. [Context.Ask] sends a request and returns;
// the answer, or a failure such as [ErrTimeout] or [ErrNoProc], runs the
// given continuation later as a turn of the asking actor:
//
//	err := ctx.Ask(pong, Ping{N: 1}, time.Second, func(ctx *actor.Context, reply actor.Message, err error) {
//		if err != nil {
//			ctx.Log(actor.LevelWarn, "ping failed", "err", err)
//			return
//		}
//		var p Pong
//		_ = reply.Decode(&p)
//	})
//
// To answer an ask later, keep its [Request] ([Context.Request]) and answer
// with [Context.ReplyTo].
//
// # Monitors, links and names
//
// [Context.Monitor] returns a [Ref]; when the watched actor stops, the
// watcher's HandleDown runs with a [Down] ([DownHandler]; actors without it
// never see Downs). [Context.Link] ties two actors: an abnormal stop of one
// stops the other with the same reason, unless it called
// [Context.TrapExit](true), in which case its HandleExit runs with an [Exit]
// instead ([ExitHandler]; an actor that traps exits without it ignores them).
// [Context.Register] gives an actor a cluster-wide name, [Context.Whereis]
// looks one up.
//
// # Nodes and groups
//
// [Context.MonitorNode] watches a node by name, as Erlang's monitor_node:
// HandleNodeDown runs once when it goes ([NodeDownHandler], [NodeDown]).
// Process groups, as Erlang's pg, are cluster-wide: [Context.JoinGroup],
// [Context.LeaveGroup], [Context.GroupMembers], [Context.SendGroup] (a send
// to every member, with how many it reached and how many refused), and
// [Context.MonitorGroup], after which HandleGroup runs for every join and
// leave ([GroupHandler], [GroupEvent]). [Context.Demonitor] cancels a node or
// group monitor as it cancels an actor's.
//
// # Spawning
//
// [Context.Spawn] starts an actor on this node and returns its PID at once;
// [SpawnLink] and [SpawnIsolated] modify it, and [Context.SpawnLink] and
// [Context.SpawnMonitor] link or monitor the child before it runs, as
// Erlang's spawn_link and spawn_monitor. [Context.SpawnRequest] does the
// same on any node ([On]) and with a restart policy ([Restart]), and returns
// at once: the child's PID, or the failure, runs a [SpawnFunc] later, as
// Erlang's spawn_request. Nothing waits for the other node:
//
//	err := ctx.SpawnRequest("Worker", args, func(ctx *actor.Context, child actor.PID, mon actor.Ref, err error) {
//		if err != nil {
//			ctx.Log(actor.LevelWarn, "no worker", "err", err)
//			return
//		}
//		w.child = child // linked, and restarted on n2 if it fails
//	}, actor.On("n2"), actor.SpawnLink, actor.Restart(actor.Permanent, 5, time.Minute))
//
// # Supervisors
//
// [Supervisor] makes a factory of supervisor actors, as OTP's supervisor
// behaviour: a supervisor starts its children in order, restarts them when
// they stop as their [RestartPolicy] and its [Strategy] say, and gives up
// when they need more than MaxRestarts restarts within Period. Supervisors
// are actors, so they nest into trees:
//
//	func tree(ctx *actor.Context, args actor.Message) (actor.SupervisorSpec, error) {
//		return actor.SupervisorSpec{
//			Strategy:    actor.OneForAll,
//			MaxRestarts: 5, Period: 10 * time.Second,
//			Children: []actor.ChildSpec{
//				{Name: "db", Factory: "DB", Restart: actor.Permanent, Args: dbConfig},
//				{Name: "workers", Factory: "Workers", Restart: actor.Permanent},
//			},
//		}, nil
//	}
//
//	func init() {
//		actor.Register("App", actor.Supervisor(tree))
//		actor.Register("Workers", actor.Supervisor(workers)) // a subtree
//	}
//
// How it works, in terms of the rest of this package:
//
//   - A supervisor traps exits and spawns every child linked and monitored
//     ([Context.SpawnMonitor] with [SpawnLink], plus the child's Options),
//     both in place before the child runs. The Down of a child is what it
//     acts on; exits of children are ignored.
//   - A child whose Options hold [On] lives on that node: it is started
//     with [Context.SpawnRequest], and restarted there. Its start completes
//     later; one that fails (the node is down, the factory unknown there)
//     counts as a restart, so a child whose node is gone ends in the
//     supervisor giving up. [Restart] in a child's Options also goes
//     through a spawn request: its node then restarts it in place, and the
//     supervisor hears of it only once that policy gives up.
//   - Restarts give the child a new PID (as in Erlang; the host's own
//     restart policies restart in place). [ChildInfo] lists the current
//     ones: ask the supervisor {"op": "which_children"}
//     ([SupervisorRequest]); a child that wants a stable address registers
//     a name from its Init.
//   - A supervisor stops a child with [Context.Kill] and reason "killed",
//     after unlinking and demonitoring it. The reason is abnormal on
//     purpose: a child that is itself a supervisor is linked to its own
//     children, which go down with it.
//   - Giving up: the supervisor stops its children, the last started
//     first, and stops itself with [ReasonRestartIntensity], which is
//     abnormal: its own supervisor sees a failure and applies its own
//     policy, so giving up travels up the tree.
//   - An abnormal exit of its parent (the actor that spawned it) stops a
//     supervisor and its children with the same reason: killing the root
//     of a tree with an abnormal reason takes the tree down. Node.Stop and
//     a "shutdown" kill stop only the supervisor: "shutdown" does not travel
//     over links in wasmactor.
//   - A child's Args are encoded once, when the supervisor starts.
//   - Give a supervisor no host restart policy (the root one is spawned
//     temporary): the host restarts in place without firing links, so the
//     old children would live on beside the new ones. A supervisor's own
//     supervisor is what restarts it.
//   - A panic fails its whole instance: spawn supervisors isolated
//     (SpawnIsolated in the parent's ChildSpec, host.SpawnOptions.Isolated
//     for a root), or isolate crash-prone children, so that a child's
//     crash does not take its supervisor down with it.
//
// # Snapshots
//
// An actor implementing [Snapshotter] can be captured (Snapshot) and rebuilt
// elsewhere or by a newer module version (Restore, which runs instead of
// Init): that is what makes it movable by a hot upgrade or a migration.
// Snapshot runs outside any delivery: it must not use the Context. Support
// is per factory: the node refuses to move an actor whose factory lacks
// Snapshotter ("cannot snapshot"), and reports a Snapshot or Restore that
// fails (an error or a panic) with its text, leaving the actor where it
// was. A new version reads an old version's snapshots with
// [SnapshotVersioner] and [VersionedRestorer].
//
// Pending asks are not part of a snapshot (their continuations are
// closures): the node moves an actor only when none of its own asks is in
// flight. A [Request] kept for a deferred reply is plain data; keep it in
// the snapshot if the next version is to answer it. An actor can ask to
// move itself to another node with [Context.MigrateTo]; a migrated actor
// has a new PID ([Context.Self] says it after the move) and its old one
// keeps reaching it.
//
// # Failure
//
// [Context.Stop] stops the actor after the current callback (Terminate runs
// first). An error from Init stops it with the error's text as reason. A
// panic anywhere in actor code fails the whole instance: the SDK recovers it,
// reports "panic: <value>" to the host, and the host discards the instance;
// every actor in it dies with that reason, monitors and links fire, and
// supervision restarts what its policy says. Spawn crash-prone actors with
// [SpawnIsolated] to keep them away from others.
//
// Request errors are sentinels mirroring the ABI's error codes:
// [ErrNoProc], [ErrMailboxFull], [ErrUnknownFactory], [ErrBadArgument],
// [ErrNameTaken], [ErrNotFound], [ErrNodeDown], [ErrTimeout], [ErrTooLarge],
// [ErrInternal], [ErrStaleIncarnation] (the PID belongs to an earlier run of
// its node; it never reaches an actor of the new run), [ErrLimit] (a per-actor
// or per-node limit of monitors, groups or spawn requests). A full mailbox is
// never retried by the SDK.
//
// # Stopping
//
// Terminate runs in two situations. After [Context.Stop], it runs before the
// host learns of the stop, so it may still send, reply or log. When the host
// stops the actor (a kill, a shutdown, an exit from a link), the host already
// counts the actor dead: Terminate runs for local cleanup, and requests it
// makes fail (the host answers [ErrBadArgument]). Either way, records still
// queued for the actor are dropped and pending ask continuations never run.
//
// # Notes
//
//   - The receive path allocates nothing per message: one reused inbox
//     buffer, a hand-written reader for the binary record header, and
//     zero-copy views. Decoding with fxamacker/cbor allocates; a Router
//     with generated codecs allocates only for a message's strings,
//     slices and maps (one copy for all the strings of a message).
//   - Built for anything but wasip1, the package compiles (for go vet and
//     unit tests of message types) but has no host: every request returns
//     [ErrNotInGuest].
//   - A Context must not be used outside its actor's callbacks, nor from
//     another goroutine: the host accepts requests only while it delivers.
//     Goroutines and blocking (channels, time.Sleep) do not fit the model:
//     the instance runs only while the host calls it.
//   - Guests get no environment variables, so GOGC cannot be set from
//     outside; a guest that prefers fewer collections over memory can call
//     runtime/debug.SetGCPercent from init.
//   - The inbox grows on the host's request up to 32 MiB; a larger batch is
//     refused (wasmactor_inbox returns 0) and the instance fails.
package actor
