// Package engine is the wazero side of the guest ABI (docs/abi.md): it
// compiles guest modules, checks that they speak the ABI, instantiates them,
// delivers batches of records into them, serves their imports through a
// [Host], and turns every way a guest can fail into a [Failure] with a reason.
//
// It knows nothing of actors' lifecycles, mailboxes or the network: the host
// package drives it. One [Engine] is one wazero runtime (one memory limit,
// one compilation cache); a [Module] is a compiled, checked guest; an
// [Instance] runs one module and hosts many of its actors.
//
// # Batching
//
// A call from Go into a guest is cheap only without interruption checks
// (about 15-25 ns). With WithCloseOnContextDone, which the engine always
// enables, wazero starts a goroutine per call to watch the context: about
// 1 µs and 3 allocations per call (BenchmarkWazeroCall). So the engine makes
// one call per scheduler turn: [Instance.Deliver] writes a whole [Batch] of
// records (start, tell, ask, reply, down, exit, stop, for any actors of the
// instance) into the guest's inbox and calls wasmactor_deliver once. With 64
// records a turn the interruption cost is a few ns per message.
//
// The inbox is a guest buffer the engine asks for with wasmactor_inbox and
// caches; it asks again only when a batch outgrows it. A Batch encodes
// straight into its reusable buffer in the abi.md layout, so a steady-state
// turn allocates nothing in this package (wazero's per-call watcher is the
// only allocation).
//
// # Interruption
//
// A guest that spins must be stopped, or it holds a worker for ever and, worse,
// blocks the Go runtime's stop-the-world at the next garbage collection, which
// freezes the whole process. Hence WithCloseOnContextDone(true): wazero
// compiles checks into loops and function entries and aborts the guest once
// the call's context is done.
//
// Every call into a guest (a Deliver turn, Snapshot, _initialize) runs under
// the instance's own context, whose Done channel closes when the instance is
// killed: its deadline (a reusable timer, CallTimeout or the caller's
// deadline if earlier), the caller's context being cancelled during the
// call, [Instance.Close] or [Engine.Close]. Keeping one context per instance,
// rather than a context.WithTimeout per call, is what keeps the turn free of
// allocations. An interrupted instance is discarded, never reused: its
// memory may be mid-update.
//
// # Memory and copying
//
// The guest owns its memory. The engine writes only into the inbox and the
// out-pointers imports are given, and copies everything it reads before an
// import returns (wazero's Memory.Read returns a view, which the guest may
// overwrite or a memory.grow may move). Every pointer and length from the
// guest is bounds-checked: out of range is BAD_ARGUMENT, a payload over
// MaxMessageSize is TOO_LARGE; nothing a guest passes can panic the host.
//
// Linear memory is capped per instance (MemoryLimitPages). The cap is
// enforced by the engine's memory allocator rather than by wazero's limit,
// so a refused memory.grow is seen and the failure is named "oom" rather than
// whatever trap the guest makes of it. On unix the allocator reserves the
// whole cap of address space with mmap and commits pages as the guest grows:
// growth never copies, and an instance costs only the pages it touched (a Go
// guest's instance puts about 1.7 MB on the Go heap instead of 11 MB). That
// memory is outside the Go heap, so GOMEMLIMIT does not see it.
//
// # Failures
//
// A trap, a blown deadline, proc_exit, the fail import or a Go panic in a
// Host callback kills the whole instance: every actor in it dies with the
// [Failure]'s reason, and the host restarts what supervision says. The
// reasons are listed on [Failure].
//
// # Imports outside wasmactor_deliver
//
// The ABI allows imports only inside wasmactor_deliver. Called from
// _initialize, wasmactor_factories or wasmactor_snapshot they do nothing
// and return BAD_ARGUMENT (monitor returns 0); self_node still answers, log
// goes to the engine's logger and fail is recorded. They do not trap, so a
// guest's init code that logs or probes does not make the module undeployable.
//
// # Guest output
//
// WASI gives guests real clocks and random numbers, and no filesystem,
// network, environment, arguments or sleep. Their stdout and stderr go to the
// Logger line by line, tagged with the module's hash prefix and the instance
// id; a line longer than 4 KiB is cut, so a guest printing without newlines
// costs bounded memory.
package engine
