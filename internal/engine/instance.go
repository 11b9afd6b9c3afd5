package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
)

// Host implements the wasmactor imports for one instance. Its methods are
// called on the goroutine running [Instance.Deliver], never concurrently for
// one instance, and only during wasmactor_deliver. Every []byte and string
// handed to it is a copy it owns.
//
// The engine checks pointers, lengths, sizes, UTF-8, factory references and
// flags; the Host checks the rest, in particular that actor belongs to the
// instance and is alive (BAD_ARGUMENT otherwise, docs/abi.md).
//
// A panic in a method fails the instance with reason "host panic: <value>";
// the node goes on.
type Host interface {
	SelfNode() uint64
	Send(actor uint64, to abi.PID, msg []byte) abi.Errno
	// SendBatch performs sends from actor in order, each as Send would,
	// and sets each one's Code (an entry that arrives with a Code set,
	// TOO_LARGE, is not sent). It returns BAD_ARGUMENT, having sent
	// nothing, when actor may not send (as Send would answer).
	SendBatch(actor uint64, sends []Outgoing) abi.Errno
	// Ask: timeout 0 means the guest wants the node's default
	// (abi.DefaultAskTimeout unless the node is configured otherwise).
	Ask(actor uint64, to abi.PID, ref uint64, timeout time.Duration, msg []byte) abi.Errno
	Reply(actor uint64, to abi.PID, ref uint64, msg []byte) abi.Errno
	// Spawn: factory is Name or Name@hexprefix, already syntax-checked; args
	// may be nil. monRef is the monitor's ref when flags has SpawnMonitor.
	Spawn(actor uint64, factory string, args []byte, flags abi.SpawnFlags) (pid abi.PID, monRef uint64, e abi.Errno)
	// SpawnRequest starts an asynchronous spawn whose outcome comes back as
	// a SPAWNED record with r.Ref; the request is checked as Spawn's
	// arguments are, and r.Node is empty or a syntactically valid node name.
	SpawnRequest(actor uint64, r SpawnRequest) abi.Errno
	// Stop: reason is never empty ("normal" by default).
	Stop(actor uint64, reason string)
	// Kill: reason is never empty ("killed" by default).
	Kill(actor uint64, target abi.PID, reason string) abi.Errno
	// Monitor: 0 (never a ref) is a refusal, which the guest sees as
	// LIMIT.
	Monitor(actor uint64, target abi.PID) uint64
	Demonitor(actor uint64, ref uint64)
	Link(actor uint64, target abi.PID) abi.Errno
	Unlink(actor uint64, target abi.PID)
	TrapExit(actor uint64, on bool)
	// Register, Unregister, Whereis: name is 1..255 bytes of UTF-8.
	Register(actor uint64, name string) abi.Errno
	Unregister(actor uint64, name string)
	Whereis(name string) (abi.PID, abi.Errno)
	// SendAfter arms a timer that sends msg after delay, and returns its
	// id for CancelTimer.
	SendAfter(actor uint64, to abi.PID, delay time.Duration, msg []byte) (timer uint64, code abi.Errno)
	// CancelTimer disarms a timer of actor: OK, or NOT_FOUND if it fired,
	// was cancelled or is not actor's.
	CancelTimer(actor, timer uint64) abi.Errno
	// MonitorNode: node is a syntactically valid node name.
	MonitorNode(actor uint64, node string) (uint64, abi.Errno)
	// JoinGroup, LeaveGroup, GroupMembers, SendGroup, MonitorGroup: group is
	// 1..255 bytes of UTF-8; the host checks it is a valid name.
	JoinGroup(actor uint64, group string) abi.Errno
	LeaveGroup(actor uint64, group string) abi.Errno
	GroupMembers(group string) ([]abi.PID, abi.Errno)
	SendGroup(actor uint64, group string, msg []byte) (sent, refused uint32, e abi.Errno)
	MonitorGroup(actor uint64, group string) (uint64, abi.Errno)
	// Log: msg is at most 4 KiB, not necessarily valid UTF-8.
	Log(actor uint64, level slog.Level, msg string)
	// Migrate: the actor asks to move to the node named node (1..255
	// bytes of UTF-8) once the current turn is over.
	Migrate(actor uint64, node string) abi.Errno
}

// Outgoing is one send of a send_batch call: the target, the message (a
// copy the host may keep) and, once the host has tried it, its code.
type Outgoing struct {
	To   abi.PID
	Msg  []byte
	Code abi.Errno

	at uint32 // the entry's offset in the guest's batch
}

// SpawnRequest is what a guest's spawn_request asks for.
type SpawnRequest struct {
	Ref     uint64 // the guest's, echoed in the SPAWNED record
	Factory string // Name or Name@hexprefix, syntax-checked
	Args    []byte // may be nil
	Node    string // "" for the caller's node
	Flags   abi.SpawnFlags
	Restart wasmactor.Restart
}

// Instance is one instantiation of a [Module], hosting any number of its
// actors. Deliver and Snapshot must not be called concurrently with each
// other (they serialise on a lock); Close may be called from anywhere and
// interrupts a running call.
type Instance struct {
	e    *Engine
	m    *Module
	id   uint64
	host Host

	mod       api.Module
	mem       api.Memory
	deliverFn api.Function
	inboxFn   api.Function
	snapFn    api.Function
	alloc     *limitAllocator
	stdout    *lineWriter
	stderr    *lineWriter

	// ctx is the context of every guest call: Done closes when the instance
	// is killed (deadline, the caller's cancellation, Close), and Value finds
	// the instance for the imports. One per instance, so a call allocates no
	// context of its own.
	ctx   context.Context
	done  chan struct{}
	state atomic.Uint64 // gen<<8 | cause<<2 | status, see kill
	timer *time.Timer   // the call deadline; fires onDeadline

	mu          sync.Mutex // held by calls and Close; guards the rest
	stack       []uint64
	inbox       uint32
	inboxCap    uint32
	watchedDone <-chan struct{} // Done of the caller's context being watched
	unwatch     func() bool
	gen         uint64 // bumped whenever watchedDone changes
	inDeliver   bool
	sends       []Outgoing // send_batch's entries, reused
	failCalled  bool
	failMsg     string
	hostPanic   string
	failure     *Failure // set once the instance is dead
	closed      bool
}

// Instance states and kill causes, packed in Instance.state.
const (
	stIdle    = 0
	stRunning = 1
	stDead    = 2

	causeNone     = 0
	causeDeadline = 1
	causeCanceled = 2
	causeShutdown = 3
	causeFailed   = 4 // the call itself failed; the Failure says why

	anyGen = -1
)

// ID is unique among the engine's instances.
func (i *Instance) ID() uint64 { return i.id }

// Module is the module the instance runs.
func (i *Instance) Module() *Module { return i.m }

// MemoryPages is the size of the instance's linear memory, in 64 KiB pages;
// 0 once closed. It never waits for a running call, so it is safe to call
// while holding locks that the instance's imports may take.
func (i *Instance) MemoryPages() uint32 {
	return uint32(i.alloc.size.Load() >> 16)
}

// Instantiate starts a new instance of m whose imports are served by h: it
// runs the guest's _initialize (under CallTimeout) and checks that its
// factory list is the module's.
//
// # Errors
//
// wasmactor.ErrClosed once the engine is closed; otherwise errors wrap
// wasmactor.ErrBadModule (and the *Failure if the guest failed while
// initialising) or wasmactor.ErrTooLarge.
func (e *Engine) Instantiate(ctx context.Context, m *Module, h Host) (*Instance, error) {
	if h == nil {
		return nil, fmt.Errorf("engine: instantiate: %w: nil Host", wasmactor.ErrBadArgument)
	}
	if m.closed.Load() {
		return nil, fmt.Errorf("engine: instantiate: module %s: %w", m.prefix, wasmactor.ErrClosed)
	}
	return e.instantiate(ctx, m, h)
}

func (e *Engine) instantiate(ctx context.Context, m *Module, h Host) (*Instance, error) {
	if e.closing.Load() {
		return nil, e.errClosed()
	}
	i := &Instance{
		e: e, m: m, id: e.nextID.Add(1), host: h,
		alloc: &limitAllocator{limit: uint64(e.cfg.MemoryLimitPages) << 16},
		done:  make(chan struct{}),
		stack: make([]uint64, 1),
	}
	i.ctx = &callCtx{i}
	log := e.cfg.Logger.With("module", m.prefix, "instance", i.id)
	i.stdout = newLineWriter(log.With("stream", "stdout"), slog.LevelInfo)
	i.stderr = newLineWriter(log.With("stream", "stderr"), slog.LevelWarn)
	i.timer = time.AfterFunc(time.Hour, i.onDeadline)
	i.timer.Stop()

	cfg := e.modCfg.WithStdout(i.stdout).WithStderr(i.stderr)
	mod, err := e.rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, i.alloc), m.compiled, cfg)
	if err != nil {
		if e.closing.Load() {
			return nil, e.errClosed()
		}
		return nil, fmt.Errorf("%w: instantiate: %v", wasmactor.ErrBadModule, err)
	}
	i.mod, i.mem = mod, mod.Memory()
	i.deliverFn = mod.ExportedFunction(exportDeliver)
	i.inboxFn = mod.ExportedFunction(exportInbox)
	i.snapFn = mod.ExportedFunction(exportSnapshot)
	e.mu.Lock()
	if e.closing.Load() {
		e.mu.Unlock()
		_ = mod.Close(ctx)
		return nil, e.errClosed()
	}
	e.instances[i] = struct{}{}
	e.mu.Unlock()

	i.mu.Lock()
	defer i.mu.Unlock()
	switch {
	case i.mem == nil:
		i.die(&Failure{Reason: "protocol: no memory"})
		return nil, fmt.Errorf("%w: module has no memory", wasmactor.ErrBadModule)
	case i.alloc.over:
		i.die(&Failure{Reason: "oom: minimum memory over the limit"})
		return nil, fmt.Errorf("%w: module needs %d bytes of memory, the limit is %d pages",
			wasmactor.ErrTooLarge, i.mem.Size(), e.cfg.MemoryLimitPages)
	}
	if m.hasInit {
		if f := i.begin(ctx); f != nil {
			return nil, i.die(f)
		}
		_, err := i.call(mod.ExportedFunction(exportInitialize), 0)
		if f := i.end(err); f != nil {
			return nil, fmt.Errorf("%w: %s: %w", wasmactor.ErrBadModule, exportInitialize, i.die(f))
		}
	}
	if h != nil {
		names, err := i.readFactories(ctx)
		if err != nil {
			return nil, err
		}
		if !slices.Equal(names, m.factories) {
			i.die(&Failure{Reason: "protocol: factory list changed"})
			return nil, fmt.Errorf("%w: instance lists factories %q, the module listed %q", wasmactor.ErrBadModule, names, m.factories)
		}
	}
	return i, nil
}

// readFactories calls wasmactor_factories and parses its answer. On error the
// instance is dead. The caller holds i.mu.
func (i *Instance) readFactories(ctx context.Context) ([]string, error) {
	return i.readNames(ctx, exportFactories)
}

// readNames calls an export that returns a list of factory names in the
// layout of wasmactor_factories, and parses it.
func (i *Instance) readNames(ctx context.Context, export string) ([]string, error) {
	if f := i.begin(ctx); f != nil {
		return nil, i.die(f)
	}
	r, err := i.call(i.mod.ExportedFunction(export), 0)
	if f := i.end(err); f != nil {
		return nil, fmt.Errorf("%w: %s: %w", wasmactor.ErrBadModule, export, i.die(f))
	}
	ptr, n := uint32(r>>32), uint32(r)
	const maxList = MaxFactories * (MaxFactoryBytes + 1)
	if n > maxList {
		i.die(&Failure{Reason: "protocol: factory list too long"})
		return nil, fmt.Errorf("%w: %s: factory list of %d bytes is over %d", wasmactor.ErrBadModule, export, n, maxList)
	}
	v, ok := i.mem.Read(ptr, n)
	if !ok {
		i.die(&Failure{Reason: "protocol: factory list out of range"})
		return nil, fmt.Errorf("%w: %s: factory list at %#x (%d bytes) is outside the guest's %d-byte memory",
			wasmactor.ErrBadModule, export, ptr, n, i.mem.Size())
	}
	if n == 0 && export != exportFactories {
		return nil, nil
	}
	names, err := ParseFactories(v) // copies
	if err != nil {
		i.die(&Failure{Reason: "protocol: bad factory list"})
		return nil, fmt.Errorf("%w: %s: %v", wasmactor.ErrBadModule, export, err)
	}
	return names, nil
}

// Deliver runs one turn: it writes b into the guest's inbox (asking
// wasmactor_inbox for room only when the cached buffer is too small) and
// calls wasmactor_deliver, both under one CallTimeout deadline (or ctx's,
// if earlier). An empty batch is not delivered.
//
// # Errors
//
// A non-nil error means the instance is dead and closed: it is a *Failure
// (see [Failure] for the reasons), and every later call returns the same one.
// Cancelling ctx during the call kills the instance with reason "canceled".
func (i *Instance) Deliver(ctx context.Context, b *Batch) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.failure != nil {
		return i.failure
	}
	data := b.Bytes()
	if len(data) == 0 {
		return nil
	}
	if f := i.begin(ctx); f != nil {
		return i.die(f)
	}
	if f := i.deliver(data); f != nil {
		return i.die(f)
	}
	return nil
}

// deliver is Deliver between begin and end; it calls end.
func (i *Instance) deliver(data []byte) *Failure {
	if uint64(len(data)) > math.MaxUint32/2 {
		i.end(nil)
		return &Failure{Reason: fmt.Sprintf("protocol: batch of %d bytes", len(data))}
	}
	n := uint32(len(data))
	if n > i.inboxCap {
		want := max(4096, nextPow2(n))
		ptr, err := i.call(i.inboxFn, uint64(want))
		if err != nil {
			return i.end(err)
		}
		if uint32(ptr) == 0 {
			if f := i.end(nil); f != nil {
				return f
			}
			return &Failure{Reason: fmt.Sprintf("oom: the guest could not allocate an inbox of %d bytes", want)}
		}
		if _, ok := i.mem.Read(uint32(ptr), want); !ok {
			if f := i.end(nil); f != nil {
				return f
			}
			return &Failure{Reason: fmt.Sprintf("protocol: inbox at %#x (%d bytes) is outside memory", uint32(ptr), want)}
		}
		i.inbox, i.inboxCap = uint32(ptr), want
	}
	i.mem.Write(i.inbox, data) // in range: checked above, and memory never shrinks
	i.inDeliver = true
	r, err := i.call(i.deliverFn, uint64(n))
	i.inDeliver = false
	if f := i.end(err); f != nil {
		return f
	}
	if uint32(r) != 0 {
		return &Failure{Reason: panicReason(i.failMsg)}
	}
	return nil
}

// Snapshot asks the guest for actor's state (wasmactor_snapshot). ok is false
// if the guest gives none, for any reason ([Instance.SnapshotState] says
// which). Imports called by the guest meanwhile do nothing.
//
// # Errors
//
// As for Deliver: a non-nil error is a *Failure and the instance is dead. A
// result pointing outside memory fails it with "protocol: ...".
func (i *Instance) Snapshot(ctx context.Context, actor uint64) (state []byte, ok bool, err error) {
	state, err = i.SnapshotState(ctx, actor)
	var r *Refusal
	if errors.As(err, &r) {
		return nil, false, nil
	}
	return state, err == nil, err
}

// Refusal is a guest's answer of no state from wasmactor_snapshot. The
// instance is unharmed.
type Refusal struct {
	Code abi.SnapshotRefusal
	// Detail is what the guest wrote to stderr during the call, if anything:
	// the SDK writes why a Snapshot failed there.
	Detail string
}

func (r *Refusal) Error() string {
	var why string
	switch r.Code {
	case abi.SnapshotNoActor:
		why = "the guest has no such actor"
	case abi.SnapshotUnsupported:
		why = "the actor's factory does not implement snapshots"
	case abi.SnapshotError:
		why = "the actor's Snapshot failed"
	default:
		why = "the guest gave no state (its SDK does not say why: no snapshots for this factory, or Snapshot failed)"
	}
	if r.Detail != "" {
		why += ": " + r.Detail
	}
	return "engine: snapshot refused: " + why
}

// SnapshotState is Snapshot with the guest's reason for giving no state: a
// *[Refusal] (the instance lives on) or a *[Failure] (the instance is dead).
// A module without the export refuses every actor with
// abi.SnapshotUnsupported.
func (i *Instance) SnapshotState(ctx context.Context, actor uint64) ([]byte, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.failure != nil {
		return nil, i.failure
	}
	if i.snapFn == nil {
		return nil, &Refusal{Code: abi.SnapshotUnsupported, Detail: "the module has no " + exportSnapshot + " export"}
	}
	if f := i.begin(ctx); f != nil {
		return nil, i.die(f)
	}
	i.stderr.last = ""
	r, callErr := i.call(i.snapFn, actor)
	if f := i.end(callErr); f != nil {
		return nil, i.die(f)
	}
	if v := int64(r); v < 0 && v >= -abi.MaxSnapshotRefusal {
		return nil, &Refusal{Code: abi.SnapshotRefusal(-v), Detail: i.stderr.last}
	}
	ptr, n := uint32(r>>32), uint32(r)
	v, ok := i.mem.Read(ptr, n)
	if !ok {
		return nil, i.die(&Failure{Reason: fmt.Sprintf("protocol: snapshot at %#x (%d bytes) is outside memory", ptr, n)})
	}
	return append([]byte{}, v...), nil
}

// Close stops the instance: a running call is interrupted (it fails with
// reason "shutdown") and the instance's memory is released. It is safe to
// call more than once, from any goroutine.
func (i *Instance) Close(context.Context) error {
	i.kill(anyGen, causeShutdown, false)
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.failure == nil {
		i.failure = &Failure{Reason: wasmactor.ReasonShutdown, Err: wasmactor.ErrClosed}
	}
	i.closeLocked()
	return nil
}

// interrupt kills the instance from outside (Engine.Close) without waiting.
func (i *Instance) interrupt(cause uint64) { i.kill(anyGen, cause, false) }

// die records f as the instance's failure and closes it. The caller holds i.mu.
func (i *Instance) die(f *Failure) *Failure {
	i.kill(anyGen, causeFailed, false)
	if i.failure == nil {
		i.failure = f
	}
	i.closeLocked()
	return i.failure
}

func (i *Instance) closeLocked() {
	if i.closed {
		return
	}
	i.closed = true
	i.alloc.size.Store(0)
	i.timer.Stop()
	if i.unwatch != nil {
		i.unwatch()
		i.unwatch = nil
	}
	_ = i.mod.Close(context.Background())
	i.stdout.flush()
	i.stderr.flush()
	i.e.mu.Lock()
	delete(i.e.instances, i)
	i.e.mu.Unlock()
}

// begin opens a call window: the instance is marked running, the deadline
// armed and ctx's cancellation watched. Every begin that returns nil must be
// followed by exactly one end. The caller holds i.mu.
func (i *Instance) begin(ctx context.Context) *Failure {
	if done := ctx.Done(); done != i.watchedDone {
		i.watch(ctx, done)
	}
	for {
		old := i.state.Load()
		if old&3 == stDead {
			return i.killed(old, nil)
		}
		if i.state.CompareAndSwap(old, i.gen<<8|stRunning) {
			break
		}
	}
	d := i.e.cfg.CallTimeout
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl))
	}
	i.timer.Reset(d)
	i.failCalled, i.failMsg, i.alloc.refused = false, "", false
	if ctx.Err() != nil {
		i.kill(anyGen, causeCanceled, true)
		return i.end(nil)
	}
	return nil
}

// watch arranges for the cancellation of ctx to kill the instance while it
// is running. Registrations are kept across calls with the same Done
// channel, so a worker passing the same context every turn pays once.
func (i *Instance) watch(ctx context.Context, done <-chan struct{}) {
	if i.unwatch != nil {
		i.unwatch()
		i.unwatch = nil
	}
	i.gen++
	i.watchedDone = done
	if done != nil {
		gen := int64(i.gen)
		i.unwatch = context.AfterFunc(ctx, func() {
			cause := uint64(causeCanceled)
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				cause = causeDeadline
			}
			i.kill(gen, cause, true)
		})
	}
}

// call runs fn with one argument (or none) and returns its one result.
func (i *Instance) call(fn api.Function, arg uint64) (uint64, error) {
	i.stack[0] = arg
	err := fn.CallWithStack(i.ctx, i.stack)
	return i.stack[0], err
}

// end closes the call window opened by begin and says how the call went:
// nil, or the failure (err is the guest call's error, if any).
func (i *Instance) end(err error) *Failure {
	stopped := i.timer.Stop()
	old := i.state.Load()
	if old&3 == stRunning && i.state.CompareAndSwap(old, old&^3|stIdle) {
		if !stopped {
			// The deadline fired but its callback has not killed us yet: honour
			// it anyway, so a late callback never hits a later call.
			i.kill(anyGen, causeDeadline, false)
			return i.killed(i.state.Load(), err)
		}
		if err == nil {
			return nil
		}
		return i.classify(err)
	}
	return i.killed(i.state.Load(), err)
}

// killed is the failure of an instance killed from outside its call.
func (i *Instance) killed(state uint64, err error) *Failure {
	switch (state >> 2) & 0x3f {
	case causeDeadline:
		return &Failure{Reason: wasmactor.ReasonDeadline, Err: err}
	case causeCanceled:
		return &Failure{Reason: "canceled", Err: errors.Join(context.Canceled, err)}
	case causeShutdown:
		return &Failure{Reason: wasmactor.ReasonShutdown, Err: errors.Join(wasmactor.ErrClosed, err)}
	}
	if i.failure != nil {
		return i.failure
	}
	return i.classify(err)
}

// classify names the failure of a guest call that returned err.
func (i *Instance) classify(err error) *Failure {
	var exit *sys.ExitError
	switch {
	case i.hostPanic != "":
		return &Failure{Reason: "host panic: " + i.hostPanic, Err: err}
	case i.alloc.refused:
		return &Failure{Reason: fmt.Sprintf("oom: memory limit of %d pages reached", i.e.cfg.MemoryLimitPages), Err: err}
	case i.failCalled:
		return &Failure{Reason: panicReason(i.failMsg), Err: err}
	case errors.As(err, &exit):
		if last := i.stderr.last; last != "" {
			err = fmt.Errorf("%w (last stderr line: %q)", err, last)
		}
		return &Failure{Reason: fmt.Sprintf("exit: %d", exit.ExitCode()), Err: err}
	case err == nil:
		return &Failure{Reason: "protocol: unknown failure"}
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	msg = strings.TrimPrefix(msg, "wasm error: ")
	return &Failure{Reason: wasmactor.ReasonTrap + ": " + msg, Err: err}
}

func panicReason(msg string) string {
	switch {
	case msg == "":
		return wasmactor.ReasonPanic
	case strings.HasPrefix(msg, wasmactor.ReasonPanic):
		return msg
	}
	return wasmactor.ReasonPanic + ": " + msg
}

// kill moves the instance to dead with cause and closes done, which makes
// wazero interrupt a running guest. gen (or anyGen) and needRunning restrict
// when it applies; it reports whether it did.
func (i *Instance) kill(gen int64, cause uint64, needRunning bool) bool {
	for {
		old := i.state.Load()
		if old&3 == stDead ||
			needRunning && old&3 != stRunning ||
			gen != anyGen && old>>8 != uint64(gen) {
			return false
		}
		if i.state.CompareAndSwap(old, old&^0xff|cause<<2|stDead) {
			close(i.done)
			return true
		}
	}
}

func (i *Instance) onDeadline() { i.kill(anyGen, causeDeadline, true) }

func nextPow2(n uint32) uint32 {
	p := uint32(1)
	for p < n {
		p <<= 1
	}
	return p
}

// callCtx is an instance's call context (see Instance.ctx).
type callCtx struct{ i *Instance }

func (c *callCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *callCtx) Done() <-chan struct{}       { return c.i.done }

func (c *callCtx) Err() error {
	s := c.i.state.Load()
	switch {
	case s&3 != stDead:
		return nil
	case (s>>2)&0x3f == causeDeadline:
		return context.DeadlineExceeded
	}
	return context.Canceled
}

func (c *callCtx) Value(key any) any {
	if _, ok := key.(instKey); ok {
		return c.i
	}
	return nil
}
