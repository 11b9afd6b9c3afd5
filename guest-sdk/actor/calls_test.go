//go:build !wasip1

package actor

import (
	"context"
	"sort"
	"time"

	"github.com/stretchr/testify/require"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// callCounter counts calls of guest functions by name while on.
type callCounter struct {
	on    bool
	calls map[string]int
}

func (c *callCounter) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	name := def.DebugName()
	return experimental.FunctionListenerFunc(func(ctx context.Context, mod api.Module, d api.FunctionDefinition, params []uint64, si experimental.StackIterator) {
		if c.on {
			c.calls[name]++
		}
	})
}

// TestReceivePathCalls counts the guest's own function calls while it takes
// a batch of tells: with wazero's interruption checks on, every Go function
// call in a wasm guest is costly, so the SDK's receive loop keeps it to the
// record parser and the actor's Receive. Counting calls is deterministic,
// unlike timing, and catches a regression (an extra call per message) at
// once.
func TestReceivePathCalls(t *testing.T) {
	wasm := guestbuildtest.Build(t, "testdata/guests/bench")
	cnt := &callCounter{calls: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctx = experimental.WithFunctionListenerFactory(ctx, cnt)
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	h := newMiniHost()
	require.NoError(t, h.instantiate(ctx, r))
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	require.NoError(t, err)
	g := &guest{t: t, ctx: ctx, mod: mod, host: h}
	require.Equal(t, int32(0), g.deliver(startRec(1, "Sink", nil)))

	batch := tellBatch()
	ptr := uint32(g.call("wasmactor_inbox", uint64(len(batch))))
	require.True(t, mod.Memory().Write(ptr, batch))
	cnt.on = true
	require.Equal(t, uint64(0), g.call("wasmactor_deliver", uint64(len(batch))))
	cnt.on = false

	total := 0
	for _, n := range cnt.calls {
		total += n
	}
	require.Equal(t, 64, cnt.calls[".main.__Sink_.Receive"], "%v", cnt.calls)
	require.LessOrEqual(t, total, 2*64+8, "guest calls for 64 tells: %v", cnt.calls)
	require.Equal(t, uint64(64), fromCBOR[map[string]uint64](t, askCount(t, g))["count"])
}

// TestSendPathCalls does the same for raw sends: Source sends 100 messages,
// and each should cost no more than four calls: the SDK method, the import
// table's method (just over Go's inlining budget), the stub Go generates for
// a wasmimport, and the import itself.
func TestSendPathCalls(t *testing.T) {
	wasm := guestbuildtest.Build(t, "testdata/guests/bench")
	cnt := &callCounter{calls: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctx = experimental.WithFunctionListenerFactory(ctx, cnt)
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	h := newMiniHost()
	require.NoError(t, h.instantiate(ctx, r))
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	require.NoError(t, err)
	g := &guest{t: t, ctx: ctx, mod: mod, host: h}
	require.Equal(t, int32(0), g.deliver(startRec(1, "Source", nil)))

	msg := AppendArrayHeader(nil, 2)
	msg = AppendPID(msg, PID{miniNode, 2})
	msg = AppendUint(msg, 100)
	cnt.on = true
	require.Equal(t, int32(0), g.deliver(tellRec(1, PID{}, msg)))
	cnt.on = false

	require.Equal(t, 100, cnt.calls["wasmactor.send"], "%v", cnt.calls)
	total := 0
	for _, n := range cnt.calls {
		total += n
	}
	require.LessOrEqual(t, total, 4*100+32, "guest and import calls for 100 sends: %v", cnt.calls)
}

func askCount(t *testing.T, g *guest) []byte {
	require.Equal(t, int32(0), g.deliver(askRec(1, PID{}, 1, nil)))
	calls := g.host.take()
	require.NotEmpty(t, calls)
	return calls[len(calls)-1].data
}

// TestStartPathCalls counts the guest's function calls per START of a
// stateless actor (the bench guest's Echo), as TestReceivePathCalls does
// for tells: each Go function call costs a wasm guest dearly, and a START
// is the guest's whole share of a spawn. 34 calls before the actor table
// and the inlined name compare, 16 after: the Context's allocation (5 in
// the runtime), the Starter check (3: wasm has no type-switch cache), the
// table's insert, the factory, and the record's parse and dispatch.
func TestStartPathCalls(t *testing.T) {
	wasm := guestbuildtest.Build(t, "testdata/guests/bench")
	cnt := &callCounter{calls: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctx = experimental.WithFunctionListenerFactory(ctx, cnt)
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	h := newMiniHost()
	require.NoError(t, h.instantiate(ctx, r))
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	require.NoError(t, err)
	g := &guest{t: t, ctx: ctx, mod: mod, host: h}
	id := uint64(1)
	payload := startPayload("Echo", nil)
	turn := func() {
		var recs []record
		for range 64 {
			recs = append(recs, record{kind: kindStart, actor: id, payload: payload})
			id++
		}
		require.Equal(t, int32(0), g.deliver(recs...))
	}
	for range 100 { // 6400 actors first, so the table is past its first growths
		turn()
	}
	cnt.on = true
	const turns = 100
	for range turns {
		turn()
	}
	cnt.on = false
	total := 0
	type kv struct {
		k string
		v int
	}
	var top []kv
	for k, n := range cnt.calls {
		total += n
		top = append(top, kv{k, n})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].v > top[j].v })
	perStart := float64(total) / float64(turns*64)
	t.Logf("calls per START: %.1f", perStart)
	for _, e := range top[:min(12, len(top))] {
		t.Logf("%8.2f %s", float64(e.v)/float64(turns*64), e.k)
	}
	require.LessOrEqual(t, perStart, 16.5, "calls per START")
}
