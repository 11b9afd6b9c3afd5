package engine

import (
	"context"
	"encoding/binary"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
)

func TestCompileRejectsBadModules(t *testing.T) {
	e := newEngine(t, Config{MaxModuleSize: 1 << 20}, nil)
	tests := []struct {
		fixture string
		is      error
		msg     string
	}{
		{"malformed.wasm", wasmactor.ErrBadModule, "not a WebAssembly module"},
		{"bad_version.wasm", wasmactor.ErrBadModule, "unsupported ABI version 99"},
		{"missing_export.wasm", wasmactor.ErrBadModule, "missing export wasmactor_deliver"},
		{"bad_factories.wasm", wasmactor.ErrBadModule, `factory 2: factory name "not ok" has a byte (0x20) outside [A-Za-z0-9_.-]`},
		{"bad_factories_oob.wasm", wasmactor.ErrBadModule, "outside the guest's 65536-byte memory"},
		{"bad_import.wasm", wasmactor.ErrBadModule, "imports wasmactor.nonexistent which this node does not provide"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			_, err := e.Compile(context.Background(), fixture(t, tt.fixture))
			require.ErrorIs(t, err, tt.is)
			require.ErrorContains(t, err, tt.msg)
			require.True(t, strings.HasPrefix(err.Error(), "wasmactor: bad module: "), err.Error())
		})
	}
	t.Run("truncated", func(t *testing.T) {
		wasm := fixture(t, "minimal_actor.wasm")
		_, err := e.Compile(context.Background(), wasm[:len(wasm)/2])
		require.ErrorIs(t, err, wasmactor.ErrBadModule)
	})
	t.Run("too large", func(t *testing.T) {
		_, err := e.Compile(context.Background(), make([]byte, 1<<20+1))
		require.ErrorIs(t, err, wasmactor.ErrTooLarge)
		require.ErrorContains(t, err, "over the 1048576-byte cap")
	})
	t.Run("memory over the limit", func(t *testing.T) {
		small := newEngine(t, Config{MemoryLimitPages: 1}, nil)
		_, err := small.Compile(context.Background(), fixture(t, "minimal_actor.wasm")) // 2 pages
		require.ErrorIs(t, err, wasmactor.ErrTooLarge)
	})
	t.Run("wrong import signature", func(t *testing.T) {
		// trivial.wasm with an import of send taking no parameters is not worth
		// a fixture; missing exports already cover signatures of exports.
		_, err := e.Compile(context.Background(), fixture(t, "trivial.wasm"))
		require.ErrorIs(t, err, wasmactor.ErrBadModule)
		require.ErrorContains(t, err, "missing export wasmactor_abi_version")
	})
}

func TestMinimalActor(t *testing.T) {
	e := newEngine(t, Config{}, nil)
	m := compileFixture(t, e, "minimal_actor.wasm")
	require.Equal(t, []string{"Echo"}, m.Factories())
	require.Equal(t, 499, m.Size())

	h := &fakeHost{}
	inst, err := e.Instantiate(context.Background(), m, h)
	require.NoError(t, err)
	defer inst.Close(context.Background())

	ctx := context.Background()
	require.NoError(t, inst.Deliver(ctx, startBatch(1, "Echo")))
	require.Len(t, h.Calls("log"), 1)
	require.Equal(t, "echo started", h.Calls("log")[0].Text)
	require.Equal(t, slog.LevelInfo, h.Calls("log")[0].Level)

	var b Batch
	for n := range 3 {
		b.Add(&Record{Kind: abi.KindTell, Actor: 1, From: abi.PID{Incarnation: 2, Serial: 3}, Payload: []byte("tell")})
		b.Add(&Record{Kind: abi.KindAsk, Actor: 1, From: abi.PID{Incarnation: 2, Serial: 3}, Ref: uint64(10 + n), Payload: []byte{byte(n), 'h', 'i'}})
	}
	b.Add(&Record{Kind: 99, Actor: 1}) // unknown kinds are ignored
	require.NoError(t, inst.Deliver(ctx, &b))

	replies := h.Calls("reply")
	require.Len(t, replies, 3)
	for n, r := range replies {
		require.Equal(t, call{Op: "reply", Actor: 1, To: abi.PID{Incarnation: 2, Serial: 3}, Ref: uint64(10 + n), Msg: []byte{byte(n), 'h', 'i'}}, r)
	}
	state, ok, err := inst.Snapshot(ctx, 1)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, uint64(3), binary.LittleEndian.Uint64(state), "TELLs counted")

	t.Run("a batch bigger than the inbox", func(t *testing.T) {
		b.Reset()
		big := make([]byte, 200_000)
		big[0], big[len(big)-1] = 1, 2
		b.Add(&Record{Kind: abi.KindAsk, Actor: 1, From: abi.PID{Incarnation: 2, Serial: 3}, Ref: 99, Payload: big})
		require.NoError(t, inst.Deliver(ctx, &b))
		last := h.Calls("reply")[3]
		require.Equal(t, big, last.Msg)
	})
}

func TestTrapFailsTheInstance(t *testing.T) {
	e := newEngine(t, Config{}, nil)
	inst, err := e.Instantiate(context.Background(), compileFixture(t, e, "trap.wasm"), &fakeHost{})
	require.NoError(t, err)

	err = inst.Deliver(context.Background(), startBatch(1, "Bad"))
	var f *Failure
	require.ErrorAs(t, err, &f)
	require.Equal(t, "trap: unreachable", f.Reason)
	require.ErrorContains(t, f.Err, "wasm stack trace")
	var again *Failure
	require.ErrorAs(t, inst.Deliver(context.Background(), startBatch(2, "Bad")), &again)
	require.Same(t, f, again, "dead for good")
}

func TestFailures(t *testing.T) {
	tests := []struct{ fixture, reason string }{
		{"recursion.wasm", "trap: stack overflow"},
		{"fail.wasm", "panic: boom"},
		{"exit.wasm", "exit: 3"},
		{"membomb.wasm", "oom: memory limit of 64 pages reached"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			// Generous deadline: exhausting the stack makes wazero grow it to its
			// ceiling (about 100 MB of copying), slow on a loaded machine.
			e := newEngine(t, Config{MemoryLimitPages: 64, CallTimeout: time.Minute}, nil)
			inst, err := e.Instantiate(context.Background(), compileFixture(t, e, tt.fixture), &fakeHost{})
			require.NoError(t, err)
			err = inst.Deliver(context.Background(), startBatch(1, "Bad"))
			var f *Failure
			require.ErrorAs(t, err, &f)
			require.Equal(t, tt.reason, f.Reason)
			require.LessOrEqual(t, inst.alloc.peak, uint64(64)<<16, "memory stayed within the limit")
			require.Zero(t, inst.MemoryPages(), "closed")
		})
	}
}

func TestLoopIsStoppedAtTheDeadline(t *testing.T) {
	e := newEngine(t, Config{CallTimeout: 200 * time.Millisecond}, nil)
	loop, err := e.Instantiate(context.Background(), compileFixture(t, e, "loop.wasm"), &fakeHost{})
	require.NoError(t, err)
	h := &fakeHost{}
	echo, err := e.Instantiate(context.Background(), compileFixture(t, e, "minimal_actor.wasm"), h)
	require.NoError(t, err)
	defer echo.Close(context.Background())

	looped := make(chan error, 1)
	go func() { looped <- loop.Deliver(context.Background(), startBatch(1, "Bad")) }()

	// Meanwhile the other instance answers, turn after turn.
	var b Batch
	for n := range 20 {
		b.Reset()
		b.Add(&Record{Kind: abi.KindAsk, Actor: 1, From: abi.PID{Incarnation: 2, Serial: 3}, Ref: uint64(n), Payload: []byte("ping")})
		require.NoError(t, echo.Deliver(context.Background(), &b))
		runtime.GC() // a spinning guest must not stall the collector
	}
	require.Len(t, h.Calls("reply"), 20)

	var f *Failure
	require.ErrorAs(t, <-looped, &f)
	require.Equal(t, "deadline", f.Reason)
}

func TestCallerContext(t *testing.T) {
	e := newEngine(t, Config{CallTimeout: time.Minute}, nil)
	m := compileFixture(t, e, "loop.wasm")

	t.Run("deadline", func(t *testing.T) {
		inst, err := e.Instantiate(context.Background(), m, &fakeHost{})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		var f *Failure
		require.ErrorAs(t, inst.Deliver(ctx, startBatch(1, "Bad")), &f)
		require.Equal(t, "deadline", f.Reason)
	})
	t.Run("cancel", func(t *testing.T) {
		inst, err := e.Instantiate(context.Background(), m, &fakeHost{})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- inst.Deliver(ctx, startBatch(1, "Bad")) }()
		time.Sleep(50 * time.Millisecond) // let it spin; the result does not depend on it
		cancel()
		var f *Failure
		require.ErrorAs(t, <-done, &f)
		require.Equal(t, "canceled", f.Reason)
		require.ErrorIs(t, f, context.Canceled)
	})
	t.Run("already cancelled", func(t *testing.T) {
		inst, err := e.Instantiate(context.Background(), compileFixture(t, e, "minimal_actor.wasm"), &fakeHost{})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		require.NoError(t, inst.Deliver(ctx, startBatch(1, "Echo"))) // watched, idle
		cancel()
		var f *Failure
		require.ErrorAs(t, inst.Deliver(ctx, startBatch(2, "Echo")), &f)
		require.Equal(t, "canceled", f.Reason)
	})
	t.Run("cancelled while idle does not kill", func(t *testing.T) {
		inst, err := e.Instantiate(context.Background(), compileFixture(t, e, "minimal_actor.wasm"), &fakeHost{})
		require.NoError(t, err)
		defer inst.Close(context.Background())
		ctx, cancel := context.WithCancel(context.Background())
		require.NoError(t, inst.Deliver(ctx, startBatch(1, "Echo")))
		cancel()
		require.NoError(t, inst.Deliver(context.Background(), startBatch(2, "Echo")))
	})
}

func TestCloseStopsRunningGuests(t *testing.T) {
	e, err := New(context.Background(), Config{CallTimeout: time.Hour})
	require.NoError(t, err)
	m, err := e.Compile(context.Background(), fixture(t, "loop.wasm"))
	require.NoError(t, err)
	a, err := e.Instantiate(context.Background(), m, &fakeHost{})
	require.NoError(t, err)
	b, err := e.Instantiate(context.Background(), m, &fakeHost{})
	require.NoError(t, err)

	errs := make(chan error, 2)
	go func() { errs <- a.Deliver(context.Background(), startBatch(1, "Bad")) }()
	go func() { errs <- b.Deliver(context.Background(), startBatch(1, "Bad")) }()
	time.Sleep(50 * time.Millisecond) // let them spin; the result does not depend on it

	require.NoError(t, b.Close(context.Background()))
	require.NoError(t, b.Close(context.Background()))
	require.NoError(t, e.Close(context.Background()))
	require.NoError(t, e.Close(context.Background()))
	for range 2 {
		var f *Failure
		require.ErrorAs(t, <-errs, &f)
		require.Equal(t, "shutdown", f.Reason)
		require.ErrorIs(t, f, wasmactor.ErrClosed)
	}
	_, err = e.Compile(context.Background(), fixture(t, "minimal_actor.wasm"))
	require.ErrorIs(t, err, wasmactor.ErrClosed)
	_, err = e.Instantiate(context.Background(), m, &fakeHost{})
	require.ErrorIs(t, err, wasmactor.ErrClosed)
}

func TestImportArguments(t *testing.T) {
	e := newEngine(t, Config{MaxMessageSize: 1 << 16}, nil)
	h := &fakeHost{}
	inst, err := e.Instantiate(context.Background(), compileFixture(t, e, "imports.wasm"), h)
	require.NoError(t, err)
	defer inst.Close(context.Background())

	_, ok, err := inst.Snapshot(context.Background(), 1)
	require.NoError(t, err)
	require.False(t, ok)
	_, err = inst.SnapshotState(context.Background(), 1)
	var refusal *Refusal
	require.ErrorAs(t, err, &refusal)
	require.Equal(t, abi.SnapshotUnspecified, refusal.Code, "-1: a guest of ABI v1 does not say why")
	require.NoError(t, inst.Deliver(context.Background(), startBatch(5, "Probe")))

	sends := h.Calls("send")
	require.Len(t, sends, 2, "only the two valid sends reached the host")
	codes := sends[0].Msg
	require.Equal(t, []abi.Errno{
		abi.BadArgument, // [0] send during _initialize
		abi.BadArgument, // [1] payload past the end of memory
		abi.TooLarge,    // [2] payload over MaxMessageSize
		abi.BadArgument, // [3] spawn with out_ptr past the end
		abi.BadArgument, // [4] whereis name past the end
		abi.BadArgument, // [5] spawn "bad name"
		abi.BadArgument, // [6] register ""
		abi.BadArgument, // [7] spawn with flag 0x80
		abi.BadArgument, // [8] send during wasmactor_snapshot
		abi.OK,          // [9] ask
		abi.OK,          // [10] valid spawn
	}, toErrnos(codes[:11]))
	require.Equal(t, abi.PID{Incarnation: 9, Serial: 9}, sends[0].To)
	require.Equal(t, uint64(5), sends[0].Actor)

	asks := h.Calls("ask")
	require.Len(t, asks, 1)
	require.Equal(t, call{Op: "ask", Actor: 5, To: abi.PID{Incarnation: 1, Serial: 2}, Ref: 77, Timeout: 0, Msg: []byte("Probe")}, asks[0])

	spawns := h.Calls("spawn")
	require.Len(t, spawns, 1)
	require.Equal(t, call{Op: "spawn", Actor: 5, Text: "Probe", Flags: abi.SpawnLink}, spawns[0])
	pid := sends[1].Msg
	require.Equal(t, abi.PID{Incarnation: 7, Serial: 101}, abi.PID{Incarnation: binary.LittleEndian.Uint64(pid), Serial: binary.LittleEndian.Uint64(pid[8:])})
	require.Empty(t, h.Calls("log"), "a log line pointing outside memory is dropped")
}

func TestGroupNodeAndSpawnRequestImportArguments(t *testing.T) {
	e := newEngine(t, Config{MaxMessageSize: 1 << 16}, nil)
	h := &fakeHost{}
	inst, err := e.Instantiate(context.Background(), compileFixture(t, e, "imports_groups.wasm"), h)
	require.NoError(t, err)
	defer inst.Close(context.Background())
	require.NoError(t, inst.Deliver(context.Background(), startBatch(5, "Probe")))

	sends := h.Calls("send")
	require.Len(t, sends, 2)
	require.Equal(t, []abi.Errno{
		abi.BadArgument, // [0] monitor_node, name past the end
		abi.BadArgument, // [1] monitor_node "bad name"
		abi.BadArgument, // [2] monitor_node, out_ptr past the end
		abi.OK,          // [3] monitor_node "n2"
		abi.BadArgument, // [4] join_group ""
		abi.OK,          // [5] join_group "g1"
		abi.BadArgument, // [6] leave_group, name past the end
		abi.BadArgument, // [7] group_members, max*16 over 32 bits
		abi.BadArgument, // [8] group_members, count_ptr past the end
		abi.OK,          // [9] group_members, room for 2 of 3
		abi.TooLarge,    // [10] send_group, payload over the cap
		abi.BadArgument, // [11] send_group, out_ptr past the end
		abi.OK,          // [12] send_group
		abi.OK,          // [13] monitor_group
		abi.BadArgument, // [14] spawn_request on "bad name"
		abi.BadArgument, // [15] spawn_request, policy 3
		abi.BadArgument, // [16] spawn_request, flag 0x80
		abi.OK,          // [17] spawn_request
		abi.BadArgument, // [18] spawn with the monitor flag and no room for the ref
		abi.OK,          // [19] spawn with the monitor flag
	}, toErrnos(sends[0].Msg))

	// Only valid calls reach the host, with copies of what the guest passed.
	for op, text := range map[string]string{"monitor_node": "n2", "join_group": "g1", "group_members": "g1", "send_group": "g1", "monitor_group": "g1"} {
		got := h.Calls(op)
		require.Len(t, got, 1, op)
		require.Equal(t, text, got[0].Text, op)
	}
	require.Empty(t, h.Calls("leave_group"))
	require.Equal(t, []byte("Probe"), h.Calls("send_group")[0].Msg)
	require.Equal(t, []call{{Op: "spawn_request", Actor: 5, Ref: 99, Text: "Probe@n2 permanent/4", Flags: abi.SpawnLink | abi.SpawnMonitor, Timeout: 1500 * time.Millisecond}},
		h.Calls("spawn_request"))
	require.Equal(t, []call{{Op: "spawn", Actor: 5, Text: "Probe", Flags: abi.SpawnMonitor}}, h.Calls("spawn"))

	out := sends[1].Msg
	le := binary.LittleEndian
	require.Equal(t, uint64(66), le.Uint64(out[0:]), "monitor_node's ref")
	require.Equal(t, uint64(77), le.Uint64(out[8:]), "monitor_group's ref")
	require.Equal(t, []uint64{7, 1, 7, 2, 0}, []uint64{le.Uint64(out[100:]), le.Uint64(out[108:]), le.Uint64(out[116:]), le.Uint64(out[124:]), le.Uint64(out[132:])},
		"two PIDs, nothing past max")
	require.Equal(t, uint32(3), le.Uint32(out[200:]), "the member count")
	require.Equal(t, []uint32{2, 1}, []uint32{le.Uint32(out[220:]), le.Uint32(out[224:])}, "sent and refused")
	require.Equal(t, []uint64{7, 101, 55}, []uint64{le.Uint64(out[300:]), le.Uint64(out[308:]), le.Uint64(out[316:])}, "spawn's PID and monitor ref")
}

func toErrnos(b []byte) []abi.Errno {
	out := make([]abi.Errno, len(b))
	for i, c := range b {
		out[i] = abi.Errno(c)
	}
	return out
}

func TestHostPanicFailsOnlyTheInstance(t *testing.T) {
	logs := &syncBuffer{}
	e := newEngine(t, Config{}, logs)
	m := compileFixture(t, e, "minimal_actor.wasm")
	inst, err := e.Instantiate(context.Background(), m, &fakeHost{panicOn: "reply"})
	require.NoError(t, err)

	var b Batch
	b.Add(&Record{Kind: abi.KindAsk, Actor: 1, From: abi.PID{Incarnation: 2, Serial: 3}, Ref: 1, Payload: []byte("x")})
	var f *Failure
	require.ErrorAs(t, inst.Deliver(context.Background(), &b), &f)
	require.Equal(t, "host panic: fake host exploded in reply", f.Reason)
	require.Contains(t, logs.String(), "panic in a host callback")

	// The engine is fine.
	h := &fakeHost{}
	other, err := e.Instantiate(context.Background(), m, h)
	require.NoError(t, err)
	require.NoError(t, other.Deliver(context.Background(), &b))
	require.Len(t, h.Calls("reply"), 1)
}

// An engine leaves no goroutine behind: not the deadline timers, the context
// watches, nor wazero's per-call watchers of interrupted calls.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	e, err := New(context.Background(), Config{CallTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	loop, err := e.Compile(context.Background(), fixture(t, "loop.wasm"))
	require.NoError(t, err)
	echo, err := e.Compile(context.Background(), fixture(t, "minimal_actor.wasm"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 3 {
		i, err := e.Instantiate(ctx, loop, &fakeHost{})
		require.NoError(t, err)
		require.Error(t, i.Deliver(ctx, startBatch(1, "Bad")))
		j, err := e.Instantiate(ctx, echo, &fakeHost{})
		require.NoError(t, err)
		require.NoError(t, j.Deliver(ctx, startBatch(1, "Echo")))
	}
	require.NoError(t, e.Close(context.Background()))
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
