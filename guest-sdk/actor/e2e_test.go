//go:build !wasip1

package actor

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// The end-to-end tests run a real Go guest (testdata/e2e, built for wasip1
// with this SDK) under a minimal host written here with wazero. They prove
// the import and export signatures match docs/abi.md; the semantics are
// covered by the native tests with the fake host.

// miniHost implements the wasmactor import module by recording calls. With
// route on it also acts as a tiny single-instance node: sends, asks, replies
// and spawns become records queued for the instance, which pump delivers.
type miniHost struct {
	mu      sync.Mutex
	calls   []call
	serial  uint64
	monRef  uint64
	failure string
	names   map[string]PID

	route   bool
	alive   map[uint64]bool
	queue   []record
	replies map[uint64][]byte // answers to asks from the host (node 0), by ref
}

const miniNode = 0xabc

func newMiniHost() *miniHost {
	return &miniHost{serial: 100, monRef: 500, names: map[string]PID{}, alive: map[uint64]bool{}, replies: map[uint64][]byte{}}
}

func (h *miniHost) add(c call) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, c)
}

func (h *miniHost) take() []call {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.calls
	h.calls = nil
	return c
}

// enqueue routes a record to a live actor of the instance; false if there
// is none.
func (h *miniHost) enqueue(r record) bool {
	if !h.route {
		return true
	}
	if !h.alive[r.actor] {
		return false
	}
	h.queue = append(h.queue, r)
	return true
}

func read(m api.Module, ptr, n uint32) []byte {
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Sprintf("out of bounds read %d+%d", ptr, n))
	}
	return append([]byte(nil), b...) // wazero returns a view: copy
}

func writePID(m api.Module, ptr uint32, p PID) {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], p.Incarnation)
	binary.LittleEndian.PutUint64(b[8:], p.Serial)
	if !m.Memory().Write(ptr, b[:]) {
		panic("out of bounds write")
	}
}

func (h *miniHost) instantiate(ctx context.Context, r wazero.Runtime) error {
	pid := func(n, s uint64) PID { return PID{Incarnation: n, Serial: s} }
	self := func(a uint64) PID { return PID{Incarnation: miniNode, Serial: a} }
	_, err := r.NewHostModuleBuilder("wasmactor").
		NewFunctionBuilder().WithFunc(func() uint64 { return miniNode }).Export("self_node").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a, tn, ts uint64, p, n uint32) uint32 {
		data := read(m, p, n)
		h.add(call{op: "send", actor: a, to: pid(tn, ts), data: data})
		if !h.enqueue(record{kind: kindTell, actor: ts, from: self(a), payload: data}) {
			return codeNoProc
		}
		return 0
	}).Export("send").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a uint64, p, n uint32) int64 {
		buf := read(m, p, n)
		le := binary.LittleEndian
		var refused int64
		for off := 0; off < len(buf); {
			size, plen := int(le.Uint32(buf[off:])), int(le.Uint32(buf[off+24:]))
			to := pid(le.Uint64(buf[off+8:]), le.Uint64(buf[off+16:]))
			data := buf[off+postHeader : off+postHeader+plen]
			h.add(call{op: "post", actor: a, to: to, data: data})
			if !h.enqueue(record{kind: kindTell, actor: to.Serial, from: self(a), payload: data}) {
				m.Memory().WriteUint16Le(p+uint32(off)+4, codeNoProc)
				refused++
			}
			off += size
		}
		return refused
	}).Export("send_batch").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a, tn, ts, ref uint64, ms, p, n uint32) uint32 {
		data := read(m, p, n)
		h.add(call{op: "ask", actor: a, to: pid(tn, ts), ref: ref, ms: ms, data: data})
		if !h.enqueue(record{kind: kindAsk, actor: ts, from: self(a), ref: ref, payload: data}) {
			return codeNoProc
		}
		return 0
	}).Export("ask").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a, tn, ts, ref uint64, p, n uint32) uint32 {
		data := read(m, p, n)
		h.add(call{op: "reply", actor: a, to: pid(tn, ts), ref: ref, data: data})
		if h.route && tn == 0 {
			h.replies[ref] = data
			return 0
		}
		if !h.enqueue(record{kind: kindReply, actor: ts, from: self(a), ref: ref, payload: data}) {
			return codeNoProc
		}
		return 0
	}).Export("reply").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a uint64, np, nn, ap, an, flags, out uint32) uint32 {
		name, args := string(read(m, np, nn)), read(m, ap, an)
		h.add(call{op: "spawn", actor: a, text: name, data: args, flags: flags})
		h.serial++
		writePID(m, out, PID{miniNode, h.serial})
		h.alive[h.serial] = true
		h.enqueue(record{kind: kindStart, actor: h.serial, from: self(a), payload: startPayload(name, args)})
		return 0
	}).Export("spawn").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a uint64, p, n uint32) {
		h.add(call{op: "stop", actor: a, text: string(read(m, p, n))})
		delete(h.alive, a)
	}).Export("stop").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a, tn, ts uint64, p, n uint32) uint32 {
		h.add(call{op: "kill", actor: a, to: pid(tn, ts), text: string(read(m, p, n))})
		return 0
	}).Export("kill").
		NewFunctionBuilder().WithFunc(func(a, tn, ts uint64) uint64 {
		h.add(call{op: "monitor", actor: a, to: pid(tn, ts)})
		h.monRef++
		return h.monRef
	}).Export("monitor").
		NewFunctionBuilder().WithFunc(func(a, ref uint64) { h.add(call{op: "demonitor", actor: a, ref: ref}) }).Export("demonitor").
		NewFunctionBuilder().WithFunc(func(a, tn, ts uint64) uint32 {
		h.add(call{op: "link", actor: a, to: pid(tn, ts)})
		return 0
	}).Export("link").
		NewFunctionBuilder().WithFunc(func(a, tn, ts uint64) { h.add(call{op: "unlink", actor: a, to: pid(tn, ts)}) }).Export("unlink").
		NewFunctionBuilder().WithFunc(func(a uint64, on uint32) { h.add(call{op: "trap_exit", actor: a, flags: on}) }).Export("trap_exit").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a uint64, p, n uint32) uint32 {
		h.add(call{op: "register", actor: a, text: string(read(m, p, n))})
		return 0
	}).Export("register").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a uint64, p, n uint32) {
		h.add(call{op: "unregister", actor: a, text: string(read(m, p, n))})
	}).Export("unregister").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, p, n, out uint32) uint32 {
		name := string(read(m, p, n))
		h.add(call{op: "whereis", text: name})
		if pid, ok := h.names[name]; ok {
			writePID(m, out, pid)
			return 0
		}
		return codeNotFound
	}).Export("whereis").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a, tn, ts uint64, ms, p, n uint32) uint32 {
		h.add(call{op: "send_after", actor: a, to: pid(tn, ts), ms: ms, data: read(m, p, n)})
		return 0
	}).Export("send_after").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a, tn, ts uint64, ms, p, n, out uint32) uint32 {
		h.add(call{op: "send_after", actor: a, to: pid(tn, ts), ms: ms, data: read(m, p, n)})
		h.monRef++
		m.Memory().WriteUint64Le(out, h.monRef)
		return 0
	}).Export("send_timer").
		NewFunctionBuilder().WithFunc(func(a, timer uint64) uint32 {
		h.add(call{op: "cancel_timer", actor: a, ref: timer})
		return 0
	}).Export("cancel_timer").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a uint64, level, p, n uint32) {
		h.add(call{op: "log", actor: a, flags: level, text: string(read(m, p, n))})
	}).Export("log").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, p, n uint32) {
		h.failure = string(read(m, p, n))
		h.add(call{op: "fail", text: h.failure})
	}).Export("fail").
		Instantiate(ctx)
	return err
}

// wasmEnv is a wazero runtime with the mini host and one compiled guest.
type wasmEnv struct {
	t        testing.TB
	ctx      context.Context
	host     *miniHost
	compiled wazero.CompiledModule
	r        wazero.Runtime
	n        int
}

func newWasmEnv(t *testing.T, pkgDir string) *wasmEnv { return newWasmEnvB(t, pkgDir) }

func newWasmEnvB(t testing.TB, pkgDir string) *wasmEnv {
	wasm := guestbuildtest.Build(t, pkgDir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithCompilationCache(compilationCache()))
	t.Cleanup(func() { r.Close(context.Background()) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	host := newMiniHost()
	require.NoError(t, host.instantiate(ctx, r))
	compiled, err := r.CompileModule(ctx, wasm)
	require.NoError(t, err)
	return &wasmEnv{t: t, ctx: ctx, host: host, compiled: compiled, r: r}
}

// compilationCache keeps wazero's compiled code on disk next to guestbuild's
// modules: compiling a Go guest takes seconds, far more under -race.
func compilationCache() wazero.CompilationCache {
	cacheOnce.Do(func() {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		c, err := wazero.NewCompilationCacheWithDir(filepath.Join(base, "wasmactor", "wazero-sdk-tests"))
		if err != nil {
			c = wazero.NewCompilationCache()
		}
		sharedCache = c
	})
	return sharedCache
}

var (
	cacheOnce   sync.Once
	sharedCache wazero.CompilationCache
)

func (e *wasmEnv) newGuest() *guest {
	e.n++
	mod, err := e.r.InstantiateModule(e.ctx, e.compiled,
		wazero.NewModuleConfig().WithName(fmt.Sprint("guest-", e.n)).WithStartFunctions("_initialize"))
	require.NoError(e.t, err)
	return &guest{t: e.t, ctx: e.ctx, mod: mod, host: e.host}
}

// guest is one instance of a guest module.
type guest struct {
	t    testing.TB
	ctx  context.Context
	mod  api.Module
	host *miniHost
}

func (g *guest) call(name string, args ...uint64) uint64 {
	g.t.Helper()
	res, err := g.mod.ExportedFunction(name).Call(g.ctx, args...)
	require.NoError(g.t, err, name)
	if len(res) == 0 {
		return 0
	}
	return res[0]
}

func (g *guest) deliver(recs ...record) int32 {
	g.t.Helper()
	var b []byte
	for _, r := range recs {
		b = appendRecord(b, r)
	}
	ptr := uint32(g.call("wasmactor_inbox", uint64(len(b))))
	require.NotZero(g.t, ptr)
	require.True(g.t, g.mod.Memory().Write(ptr, b))
	return int32(g.call("wasmactor_deliver", uint64(len(b))))
}

// pump delivers queued records, batch after batch, until none are left
// (routing mode). The bound keeps a runaway exchange from hanging the test.
func (g *guest) pump() int32 {
	g.t.Helper()
	for range 100000 {
		q := g.host.queue
		if len(q) == 0 {
			return 0
		}
		g.host.queue = nil
		if rc := g.deliver(q...); rc != 0 {
			return rc
		}
	}
	g.t.Fatal("pump: the exchange did not settle")
	return 1
}

// spawn starts an actor from the host (routing mode) and returns its PID.
func (g *guest) spawn(factory string, args []byte) PID {
	g.t.Helper()
	g.host.serial++
	id := g.host.serial
	g.host.alive[id] = true
	g.host.queue = append(g.host.queue, record{kind: kindStart, actor: id, payload: startPayload(factory, args)})
	require.Equal(g.t, int32(0), g.pump(), g.host.failure)
	require.True(g.t, g.host.alive[id], "%s did not start", factory)
	return PID{Incarnation: miniNode, Serial: id}
}

// tell sends a message from the host (routing mode) and runs what follows.
func (g *guest) tell(to PID, payload []byte) int32 {
	g.t.Helper()
	g.host.queue = append(g.host.queue, record{kind: kindTell, actor: to.Serial, payload: payload})
	return g.pump()
}

var hostRef uint64

// ask sends a request from the host (routing mode), runs what follows, and
// returns the answer.
func (g *guest) ask(to PID, payload []byte) []byte {
	g.t.Helper()
	hostRef++
	ref := hostRef
	g.host.queue = append(g.host.queue, record{kind: kindAsk, actor: to.Serial, from: PID{0, 1}, ref: ref, payload: payload})
	require.Equal(g.t, int32(0), g.pump(), g.host.failure)
	reply, ok := g.host.replies[ref]
	require.True(g.t, ok, "no answer")
	delete(g.host.replies, ref)
	return reply
}

// slice reads a (ptr << 32) | len result.
func (g *guest) slice(packed uint64) []byte {
	return read(g.mod, uint32(packed>>32), uint32(packed))
}

func mustCBOR(t *testing.T, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	require.NoError(t, err)
	return b
}

func fromCBOR[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	require.NoError(t, cbor.Unmarshal(b, &v), "%x", b)
	return v
}

func TestEndToEndUnderWazero(t *testing.T) {
	env := newWasmEnv(t, "guest-sdk/actor/testdata/e2e")
	host, compiled := env.host, env.compiled

	// Export signatures exactly as docs/abi.md has them. (Import signatures
	// are checked by wazero itself: instantiation fails on a mismatch with
	// the host module above.)
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	for name, sig := range map[string][2][]api.ValueType{
		"_initialize":           {nil, nil},
		"wasmactor_abi_version": {nil, {i32}},
		"wasmactor_factories":   {nil, {i64}},
		"wasmactor_inbox":       {{i32}, {i32}},
		"wasmactor_deliver":     {{i32}, {i32}},
		"wasmactor_snapshot":    {{i64}, {i64}},
	} {
		def, ok := compiled.ExportedFunctions()[name]
		require.True(t, ok, name)
		require.Equal(t, sig[0], nilIfEmpty(def.ParamTypes()), name)
		require.Equal(t, sig[1], nilIfEmpty(def.ResultTypes()), name)
	}
	newGuest := env.newGuest
	g := newGuest()

	require.Equal(t, uint64(1), g.call("wasmactor_abi_version"))
	require.Equal(t, "Other\nProbe", string(g.slice(g.call("wasmactor_factories"))))

	caller := PID{Incarnation: 0, Serial: 1}
	getReply := func(g *guest, id uint64, ref uint64) map[string]any {
		t.Helper()
		require.Equal(t, int32(0), g.deliver(askRec(id, caller, ref, mustCBOR(t, map[string]string{"op": "get"}))), host.failure)
		calls := host.take()
		require.Len(t, calls, 1)
		require.Equal(t, "reply", calls[0].op)
		require.Equal(t, caller, calls[0].to)
		require.Equal(t, ref, calls[0].ref)
		var v map[string]any
		require.NoError(t, cbor.Unmarshal(calls[0].data, &v))
		return v
	}

	// START with args, tells, an ask answered with Reply.
	require.Equal(t, int32(0), g.deliver(
		startRec(1, "Probe", mustCBOR(t, map[string]any{"n": 5})),
		tellRec(1, caller, mustCBOR(t, map[string]any{"op": "inc", "n": 2})),
		tellRec(1, caller, mustCBOR(t, map[string]any{"op": "inc", "n": 3})),
		startRec(2, "Other", nil),
	))
	require.Empty(t, host.take())
	v := getReply(g, 1, 7)
	require.Equal(t, uint64(10), v["n"])
	require.Equal(t, []any{uint64(miniNode), uint64(1)}, v["self"])

	// An ask from actor 1 to actor 2, its continuation, and the log import.
	target := PID{Incarnation: miniNode, Serial: 2}
	require.Equal(t, int32(0), g.deliver(tellRec(1, caller, mustCBOR(t, map[string]any{"op": "ask", "target": target}))))
	calls := host.take()
	require.Len(t, calls, 1)
	ask := calls[0]
	require.Equal(t, "ask", ask.op)
	require.Equal(t, target, ask.to)
	require.Equal(t, uint32(1000), ask.ms)
	require.NotZero(t, ask.ref)
	require.Equal(t, int32(0), g.deliver(replyRec(1, ask.ref, 0, mustCBOR(t, map[string]any{"n": 0}))))
	calls = host.take()
	require.Len(t, calls, 1)
	require.Equal(t, call{op: "log", actor: 1, flags: uint32(LevelInfo), text: "answered err=<nil>"}, calls[0])
	require.Equal(t, uint64(1), getReply(g, 1, 8)["answers"])

	// A timed-out ask also reaches the continuation, as an error.
	require.Equal(t, int32(0), g.deliver(tellRec(1, caller, mustCBOR(t, map[string]any{"op": "ask", "target": target}))))
	ask = host.take()[0]
	require.Equal(t, int32(0), g.deliver(replyRec(1, ask.ref, codeTimeout, nil)))
	require.Equal(t, `answered err="wasmactor: timeout"`, host.take()[0].text)

	// Spawn: the import gets the name and CBOR args; the reply carries the PID.
	require.Equal(t, int32(0), g.deliver(askRec(1, caller, 9, mustCBOR(t, map[string]any{"op": "spawn", "n": 4}))))
	calls = host.take()
	require.Len(t, calls, 2)
	require.Equal(t, "spawn", calls[0].op)
	require.Equal(t, "Probe", calls[0].text)
	require.Equal(t, mustCBOR(t, map[string]any{"n": 4}), calls[0].data)
	var spawned struct {
		PID PID `cbor:"pid"`
	}
	require.NoError(t, cbor.Unmarshal(calls[1].data, &spawned))
	require.Equal(t, PID{Incarnation: miniNode, Serial: 101}, spawned.PID)

	// Snapshot, then restore in a fresh instance.
	state := g.slice(g.call("wasmactor_snapshot", 1))
	require.Equal(t, []byte{10}, state)
	require.Equal(t, uint64(1<<64-2), g.call("wasmactor_snapshot", 99), "no such actor: -2")
	g2 := newGuest()
	require.Equal(t, int32(0), g2.deliver(record{kind: kindRestore, actor: 1, payload: startPayload("Probe", state)}))
	require.Equal(t, uint64(10), getReply(g2, 1, 10)["n"])

	// Init failure and self-stop both reach the stop import.
	require.Equal(t, int32(0), g.deliver(
		startRec(3, "Probe", mustCBOR(t, map[string]any{"op": "fail"})),
		tellRec(2, caller, mustCBOR(t, map[string]any{"op": "stop"})),
		tellRec(2, caller, mustCBOR(t, map[string]any{"op": "crash"})), // dropped: 2 stopped
	))
	require.Equal(t, []call{{op: "stop", actor: 3, text: "init refused"}, {op: "stop", actor: 2, text: "asked to"}}, host.take())

	// A panic fails the instance with the reason, and it stays failed.
	require.Equal(t, int32(1), g.deliver(tellRec(1, caller, mustCBOR(t, map[string]any{"op": "crash"}))))
	require.Equal(t, "panic: crash requested", host.failure)
	require.Equal(t, int32(1), g.deliver(tellRec(1, caller, nil)))
}

func nilIfEmpty(v []api.ValueType) []api.ValueType {
	if len(v) == 0 {
		return nil
	}
	return v
}

// Posted tells cross the real send_batch import: in order, before a Send
// made after them, each with its status when the host refuses it.
func TestPostUnderWazero(t *testing.T) {
	env := newWasmEnv(t, "guest-sdk/actor/testdata/e2e")
	env.host.route = true
	g := env.newGuest()
	a, b := g.spawn("Probe", nil), g.spawn("Probe", nil)
	require.Equal(t, int32(0), g.tell(a, mustCBOR(t, map[string]any{"op": "post", "target": b, "n": 3})), env.host.failure)
	var ops []string
	for _, c := range env.host.take() {
		if c.actor == a.Serial {
			ops = append(ops, c.op)
		}
	}
	require.Equal(t, []string{"post", "post", "post", "send"}, ops)
	get := func(p PID) map[string]any {
		return fromCBOR[map[string]any](t, g.ask(p, mustCBOR(t, map[string]string{"op": "get"})))
	}
	require.Equal(t, uint64(1003), get(b)["n"])
	require.Equal(t, uint64(0), get(a)["refused"])

	// A dead target: the host marks each entry, and the poster counts them.
	dead := PID{Incarnation: miniNode, Serial: 999}
	require.Equal(t, int32(0), g.tell(a, mustCBOR(t, map[string]any{"op": "post", "target": dead, "n": 2})), env.host.failure)
	require.Equal(t, uint64(2), get(a)["refused"])
}
