// Package scheduler runs actor work on a fixed pool of worker goroutines and
// holds the small pieces of arithmetic the host needs around it: mailboxes,
// per-actor mailbox bounds and supervision intensity. It knows nothing of
// WASM or networking; the host plugs an instance in as a [Runner].
//
// # Tasks and turns
//
// A [Scheduler] owns about GOMAXPROCS workers and one run queue. Each unit of
// work (for wasmactor, one WASM instance with its actors) is a [Task] wrapping
// a [Runner]. [Task.Wake] puts the task on the run queue at most once; a worker
// then calls [Runner.Turn], which does a bounded batch of work and reports
// whether more is left. A task with more work goes to the back of the queue,
// so a busy instance never starves the others. A task is never run by two
// workers at once, and a Wake that arrives while the task runs makes it run
// again afterwards: wake-ups are never lost.
//
// Turns are not pre-empted. Deadlines are the caller's job (the engine bounds
// every guest call with a context); the scheduler only guarantees that every
// queued task gets its turn in FIFO order.
//
// # Mailboxes and quotas
//
// A [Mailbox] is an unbounded multi-producer, single-consumer queue with a
// system lane (exit, down, stop) that is always drained before user messages.
// Many actors share the mailbox of their instance, so bounds are per actor: a
// [Quota] counts the user messages queued for one actor and refuses more than
// its maximum with [wasmactor.ErrMailboxFull]. System messages are never
// refused; they are few per actor and dropping one would break monitors.
//
// # Supervision
//
// [Intensity] implements Erlang/OTP's restart types and restart intensity: it
// decides whether an actor that stopped with a reason is restarted, and gives
// up for good once more than MaxRestarts restarts fall within Period. Time is
// passed in, so tests use any clock.
//
// # Concurrency
//
// Every exported type is safe for concurrent use, except that
// [Mailbox.Drain] is meant for one consumer at a time (the worker running the
// owning task). Lock order: a Task's state is an atomic and takes no lock; the
// scheduler's queue mutex is a leaf lock, never held while running a Turn.
package scheduler
