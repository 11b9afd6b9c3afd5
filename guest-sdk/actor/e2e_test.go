package actor

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/wasmactor/wasmactor/internal/guestbuild"
)

// The end-to-end tests run a real Go guest (testdata/e2e, built for wasip1
// with this SDK) under a minimal host written here with wazero. They prove
// the import and export signatures match docs/abi.md; the semantics are
// covered by the native tests with the fake host.

// miniHost implements the wasmactor import module by recording calls.
type miniHost struct {
	mu      sync.Mutex
	calls   []call
	serial  uint64
	monRef  uint64
	failure string
	names   map[string]PID
}

const miniNode = 0xabc

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

func read(m api.Module, ptr, n uint32) []byte {
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Sprintf("out of bounds read %d+%d", ptr, n))
	}
	return append([]byte(nil), b...) // wazero returns a view: copy
}

func writePID(m api.Module, ptr uint32, p PID) {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], p.Node)
	binary.LittleEndian.PutUint64(b[8:], p.Serial)
	if !m.Memory().Write(ptr, b[:]) {
		panic("out of bounds write")
	}
}

func (h *miniHost) instantiate(ctx context.Context, r wazero.Runtime) error {
	pid := func(n, s uint64) PID { return PID{Node: n, Serial: s} }
	_, err := r.NewHostModuleBuilder("wasmactor").
		NewFunctionBuilder().WithFunc(func() uint64 { return miniNode }).Export("self_node").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a, tn, ts uint64, p, n uint32) uint32 {
		h.add(call{op: "send", actor: a, to: pid(tn, ts), data: read(m, p, n)})
		return 0
	}).Export("send").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a, tn, ts, ref uint64, ms, p, n uint32) uint32 {
		h.add(call{op: "ask", actor: a, to: pid(tn, ts), ref: ref, ms: ms, data: read(m, p, n)})
		return 0
	}).Export("ask").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a, tn, ts, ref uint64, p, n uint32) uint32 {
		h.add(call{op: "reply", actor: a, to: pid(tn, ts), ref: ref, data: read(m, p, n)})
		return 0
	}).Export("reply").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a uint64, np, nn, ap, an, flags, out uint32) uint32 {
		h.add(call{op: "spawn", actor: a, text: string(read(m, np, nn)), data: read(m, ap, an), flags: flags})
		h.serial++
		writePID(m, out, PID{miniNode, h.serial})
		return 0
	}).Export("spawn").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, a uint64, p, n uint32) {
		h.add(call{op: "stop", actor: a, text: string(read(m, p, n))})
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

// guest is one instance of the e2e module.
type guest struct {
	t   *testing.T
	ctx context.Context
	mod api.Module
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

// slice reads a (ptr << 32) | len result.
func (g *guest) slice(packed uint64) []byte {
	return read(g.mod, uint32(packed>>32), uint32(packed))
}

func mustCBOR(t *testing.T, v any) []byte {
	b, err := cbor.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestEndToEndUnderWazero(t *testing.T) {
	wasm := guestbuild.Build(t, "guest-sdk/actor/testdata/e2e")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	host := &miniHost{serial: 100, monRef: 500, names: map[string]PID{}}
	require.NoError(t, host.instantiate(ctx, r))
	compiled, err := r.CompileModule(ctx, wasm)
	require.NoError(t, err)

	for _, export := range []string{"wasmactor_abi_version", "wasmactor_factories", "wasmactor_inbox", "wasmactor_deliver", "wasmactor_snapshot", "_initialize"} {
		require.Contains(t, compiled.ExportedFunctions(), export)
	}
	n := 0
	newGuest := func() *guest {
		n++
		mod, err := r.InstantiateModule(ctx, compiled,
			wazero.NewModuleConfig().WithName(fmt.Sprint("e2e-", n)).WithStartFunctions("_initialize"))
		require.NoError(t, err)
		return &guest{t: t, ctx: ctx, mod: mod}
	}
	g := newGuest()

	require.Equal(t, uint64(1), g.call("wasmactor_abi_version"))
	require.Equal(t, "Other\nProbe", string(g.slice(g.call("wasmactor_factories"))))

	caller := PID{Node: 0, Serial: 1}
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
	target := PID{Node: miniNode, Serial: 2}
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
	require.Equal(t, PID{Node: miniNode, Serial: 101}, spawned.PID)

	// Snapshot, then restore in a fresh instance.
	state := g.slice(g.call("wasmactor_snapshot", 1))
	require.Equal(t, []byte{10}, state)
	require.Equal(t, uint64(1<<64-1), g.call("wasmactor_snapshot", 99), "no such actor: -1")
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
