package engine

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/wasmactor/wasmactor/internal/abi"
)

// fixture reads a committed module from the repository's testdata.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	require.NoError(t, err)
	return b
}

// newEngine starts an engine for a test and closes it at the end. The logger
// writes to logs (if not nil), else nowhere.
func newEngine(t testing.TB, cfg Config, logs io.Writer) *Engine {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.CompileTimeout == 0 {
		// A cold compile of a Go guest under the race detector on a loaded
		// 2-core machine can pass the default minute.
		cfg.CompileTimeout = 4 * time.Minute
	}
	e, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close(context.Background())) })
	return e
}

func compileFixture(t testing.TB, e *Engine, name string) *Module {
	t.Helper()
	m, err := e.Compile(context.Background(), fixture(t, name))
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// call is one recorded Host call.
type call struct {
	Op      string
	Actor   uint64
	To      abi.PID
	Ref     uint64
	Timeout time.Duration
	Msg     []byte
	Text    string // factory, name or reason
	Flags   abi.SpawnFlags
	Level   slog.Level
}

// fakeHost records every call and answers OK (Spawn gives <7.100+n>).
type fakeHost struct {
	mu      sync.Mutex
	calls   []call
	panicOn string // an Op that panics
	// refuse: SendBatch refuses sends to these serials with NOPROC.
	refuse map[uint64]bool
}

func (h *fakeHost) batchCode(to abi.PID) abi.Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.refuse[to.Serial] {
		return abi.NoProc
	}
	return abi.OK
}

func (h *fakeHost) rec(c call) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, c)
	if c.Op == h.panicOn {
		panic("fake host exploded in " + c.Op)
	}
}

func (h *fakeHost) Calls(op string) []call {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []call
	for _, c := range h.calls {
		if op == "" || c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

func (h *fakeHost) SelfNode() uint64 { return 7 }
func (h *fakeHost) Migrate(actor uint64, node string) abi.Errno {
	h.rec(call{Op: "migrate", Actor: actor, Text: node})
	return abi.OK
}
func (h *fakeHost) Send(actor uint64, to abi.PID, msg []byte) abi.Errno {
	h.rec(call{Op: "send", Actor: actor, To: to, Msg: msg})
	return abi.OK
}
func (h *fakeHost) SendBatch(actor uint64, sends []Outgoing) abi.Errno {
	for k := range sends {
		if s := &sends[k]; s.Code == abi.OK {
			h.rec(call{Op: "send", Actor: actor, To: s.To, Msg: s.Msg})
			s.Code = h.batchCode(s.To)
		}
	}
	return abi.OK
}
func (h *fakeHost) Ask(actor uint64, to abi.PID, ref uint64, timeout time.Duration, msg []byte) abi.Errno {
	h.rec(call{Op: "ask", Actor: actor, To: to, Ref: ref, Timeout: timeout, Msg: msg})
	return abi.OK
}
func (h *fakeHost) Reply(actor uint64, to abi.PID, ref uint64, msg []byte) abi.Errno {
	h.rec(call{Op: "reply", Actor: actor, To: to, Ref: ref, Msg: msg})
	return abi.OK
}
func (h *fakeHost) Spawn(actor uint64, factory string, args []byte, flags abi.SpawnFlags) (abi.PID, uint64, abi.Errno) {
	h.rec(call{Op: "spawn", Actor: actor, Text: factory, Msg: args, Flags: flags})
	return abi.PID{Incarnation: 7, Serial: 100 + uint64(len(h.Calls("spawn")))}, 55, abi.OK
}
func (h *fakeHost) SpawnRequest(actor uint64, r SpawnRequest) abi.Errno {
	h.rec(call{Op: "spawn_request", Actor: actor, Ref: r.Ref, Text: r.Factory + "@" + r.Node + " " + r.Restart.Policy.String() + "/" + strconv.Itoa(r.Restart.MaxRestarts), Msg: r.Args, Flags: r.Flags, Timeout: r.Restart.Period})
	return abi.OK
}
func (h *fakeHost) MonitorNode(actor uint64, node string) (uint64, abi.Errno) {
	h.rec(call{Op: "monitor_node", Actor: actor, Text: node})
	return 66, abi.OK
}
func (h *fakeHost) JoinGroup(actor uint64, group string) abi.Errno {
	h.rec(call{Op: "join_group", Actor: actor, Text: group})
	return abi.OK
}
func (h *fakeHost) LeaveGroup(actor uint64, group string) abi.Errno {
	h.rec(call{Op: "leave_group", Actor: actor, Text: group})
	return abi.OK
}
func (h *fakeHost) GroupMembers(group string) ([]abi.PID, abi.Errno) {
	h.rec(call{Op: "group_members", Text: group})
	return []abi.PID{{Incarnation: 7, Serial: 1}, {Incarnation: 7, Serial: 2}, {Incarnation: 8, Serial: 3}}, abi.OK
}
func (h *fakeHost) SendGroup(actor uint64, group string, msg []byte) (uint32, uint32, abi.Errno) {
	h.rec(call{Op: "send_group", Actor: actor, Text: group, Msg: msg})
	return 2, 1, abi.OK
}
func (h *fakeHost) MonitorGroup(actor uint64, group string) (uint64, abi.Errno) {
	h.rec(call{Op: "monitor_group", Actor: actor, Text: group})
	return 77, abi.OK
}
func (h *fakeHost) Stop(actor uint64, reason string) {
	h.rec(call{Op: "stop", Actor: actor, Text: reason})
}
func (h *fakeHost) Kill(actor uint64, target abi.PID, reason string) abi.Errno {
	h.rec(call{Op: "kill", Actor: actor, To: target, Text: reason})
	return abi.OK
}
func (h *fakeHost) Monitor(actor uint64, target abi.PID) uint64 {
	h.rec(call{Op: "monitor", Actor: actor, To: target})
	return 1
}
func (h *fakeHost) Demonitor(actor uint64, ref uint64) {
	h.rec(call{Op: "demonitor", Actor: actor, Ref: ref})
}
func (h *fakeHost) Link(actor uint64, target abi.PID) abi.Errno {
	h.rec(call{Op: "link", Actor: actor, To: target})
	return abi.OK
}
func (h *fakeHost) Unlink(actor uint64, target abi.PID) {
	h.rec(call{Op: "unlink", Actor: actor, To: target})
}
func (h *fakeHost) TrapExit(actor uint64, on bool) { h.rec(call{Op: "trap_exit", Actor: actor}) }
func (h *fakeHost) Register(actor uint64, name string) abi.Errno {
	h.rec(call{Op: "register", Actor: actor, Text: name})
	return abi.OK
}
func (h *fakeHost) Unregister(actor uint64, name string) {
	h.rec(call{Op: "unregister", Actor: actor, Text: name})
}
func (h *fakeHost) Whereis(name string) (abi.PID, abi.Errno) {
	h.rec(call{Op: "whereis", Text: name})
	return abi.PID{}, abi.NotFound
}
func (h *fakeHost) SendAfter(actor uint64, to abi.PID, delay time.Duration, msg []byte) (uint64, abi.Errno) {
	h.rec(call{Op: "send_after", Actor: actor, To: to, Timeout: delay, Msg: msg})
	return 42, abi.OK
}
func (h *fakeHost) CancelTimer(actor, timer uint64) abi.Errno {
	h.rec(call{Op: "cancel_timer", Actor: actor, Ref: timer})
	return abi.OK
}
func (h *fakeHost) Log(actor uint64, level slog.Level, msg string) {
	h.rec(call{Op: "log", Actor: actor, Level: level, Text: msg})
}

// nopHost answers everything with OK and records nothing (benchmarks).
type nopHost struct{}

func (nopHost) SelfNode() uint64                                             { return 7 }
func (nopHost) Migrate(uint64, string) abi.Errno                             { return abi.OK }
func (nopHost) Send(uint64, abi.PID, []byte) abi.Errno                       { return abi.OK }
func (nopHost) SendBatch(uint64, []Outgoing) abi.Errno                       { return abi.OK }
func (nopHost) Ask(uint64, abi.PID, uint64, time.Duration, []byte) abi.Errno { return abi.OK }
func (nopHost) Reply(uint64, abi.PID, uint64, []byte) abi.Errno              { return abi.OK }
func (nopHost) Spawn(uint64, string, []byte, abi.SpawnFlags) (abi.PID, uint64, abi.Errno) {
	return abi.PID{Incarnation: 7, Serial: 1}, 0, abi.OK
}
func (nopHost) SpawnRequest(uint64, SpawnRequest) abi.Errno                  { return abi.OK }
func (nopHost) MonitorNode(uint64, string) (uint64, abi.Errno)               { return 1, abi.OK }
func (nopHost) JoinGroup(uint64, string) abi.Errno                           { return abi.OK }
func (nopHost) LeaveGroup(uint64, string) abi.Errno                          { return abi.OK }
func (nopHost) GroupMembers(string) ([]abi.PID, abi.Errno)                   { return nil, abi.OK }
func (nopHost) SendGroup(uint64, string, []byte) (uint32, uint32, abi.Errno) { return 0, 0, abi.OK }
func (nopHost) MonitorGroup(uint64, string) (uint64, abi.Errno)              { return 1, abi.OK }
func (nopHost) Stop(uint64, string)                                          {}
func (nopHost) Kill(uint64, abi.PID, string) abi.Errno                       { return abi.OK }
func (nopHost) Monitor(uint64, abi.PID) uint64                               { return 1 }
func (nopHost) Demonitor(uint64, uint64)                                     {}
func (nopHost) Link(uint64, abi.PID) abi.Errno                               { return abi.OK }
func (nopHost) Unlink(uint64, abi.PID)                                       {}
func (nopHost) TrapExit(uint64, bool)                                        {}
func (nopHost) Register(uint64, string) abi.Errno                            { return abi.OK }
func (nopHost) Unregister(uint64, string)                                    {}
func (nopHost) Whereis(string) (abi.PID, abi.Errno)                          { return abi.PID{}, abi.NotFound }
func (nopHost) SendAfter(uint64, abi.PID, time.Duration, []byte) (uint64, abi.Errno) {
	return 1, abi.OK
}
func (nopHost) CancelTimer(uint64, uint64) abi.Errno { return abi.OK }
func (nopHost) Log(uint64, slog.Level, string)       {}

// startBatch is a batch starting actor as factory.
func startBatch(actor uint64, factory string) *Batch {
	var b Batch
	b.Add(&Record{Kind: abi.KindStart, Actor: actor, Factory: factory})
	return &b
}
