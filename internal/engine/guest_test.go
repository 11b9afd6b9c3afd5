package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// Real Go guests (GOOS=wasip1, -buildmode=c-shared, the guest SDK) through
// the engine: _initialize, factories, START with CBOR args, TELL, ASK and
// reply, snapshot.
func TestGoGuestCounter(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	wasm := guestbuildtest.Build(t, "examples/counter")
	h := &fakeHost{}
	e := newEngine(t, Config{CacheDir: guestCompileCache(t)}, nil)
	m, err := e.Compile(context.Background(), wasm)
	require.NoError(t, err)
	defer m.Close(context.Background())
	require.Contains(t, m.Factories(), "Counter")

	inst, err := e.Instantiate(context.Background(), m, h)
	require.NoError(t, err)
	defer inst.Close(context.Background())

	enc := func(v any) []byte {
		b, err := cbor.Marshal(v)
		require.NoError(t, err)
		return b
	}
	var b Batch
	b.Add(&Record{Kind: abi.KindStart, Actor: 1, Factory: "Counter", Payload: enc(map[string]int64{"start": 10})})
	b.Add(&Record{Kind: abi.KindTell, Actor: 1, From: abi.PID{Incarnation: 2, Serial: 3}, Payload: enc(map[string]any{"op": "inc", "by": 5})})
	b.Add(&Record{Kind: abi.KindAsk, Actor: 1, From: abi.PID{Incarnation: 2, Serial: 3}, Ref: 7, Payload: enc(map[string]any{"op": "get"})})
	require.NoError(t, inst.Deliver(context.Background(), &b))

	replies := h.Calls("reply")
	require.Len(t, replies, 1)
	require.Equal(t, abi.PID{Incarnation: 2, Serial: 3}, replies[0].To)
	require.Equal(t, uint64(7), replies[0].Ref)
	var got map[string]int64
	require.NoError(t, cbor.Unmarshal(replies[0].Msg, &got))
	require.Equal(t, map[string]int64{"value": 15}, got)

	state, ok, err := inst.Snapshot(context.Background(), 1)
	require.NoError(t, err)
	require.True(t, ok)
	require.NotEmpty(t, state)
	_, err = inst.SnapshotState(context.Background(), 99)
	var refusal *Refusal
	require.ErrorAs(t, err, &refusal)
	require.Equal(t, abi.SnapshotNoActor, refusal.Code)

	// A second instance of the same module, restored from the snapshot.
	other, err := e.Instantiate(context.Background(), m, h)
	require.NoError(t, err)
	defer other.Close(context.Background())
	b.Reset()
	b.Add(&Record{Kind: abi.KindRestore, Actor: 2, Factory: "Counter", Payload: state})
	b.Add(&Record{Kind: abi.KindAsk, Actor: 2, From: abi.PID{Incarnation: 2, Serial: 3}, Ref: 8, Payload: enc(map[string]any{"op": "get"})})
	require.NoError(t, other.Deliver(context.Background(), &b))
	replies = h.Calls("reply")
	require.Len(t, replies, 2)
	require.NoError(t, cbor.Unmarshal(replies[1].Msg, &got))
	require.Equal(t, map[string]int64{"value": 15}, got)
}

// The SDK lists the factories whose actors implement Snapshotter
// (wasmactor_snapshotters), and the engine reads the list at Compile, on
// either engine.
func TestGoGuestSnapshotters(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	wasm := guestbuildtest.Build(t, "testdata/guests/bench")
	for _, interp := range []bool{false, true} {
		e := newEngine(t, Config{CacheDir: guestCompileCache(t), Interpreter: interp}, nil)
		m, err := e.Compile(context.Background(), wasm)
		require.NoError(t, err)
		require.Equal(t, []string{"Blob", "SeqCheck"}, m.Snapshotters())
		require.Equal(t, interp, m.Interpreted())
		require.NoError(t, m.Close(context.Background()))
	}
}

// BenchmarkDeliverGoGuest is BenchmarkDeliver into the bench guest's Echo
// actor (a Go guest built with the SDK): 64 100-byte records a turn.
func BenchmarkDeliverGoGuest(b *testing.B) {
	wasm := guestbuildtest.Build(b, "testdata/guests/bench")
	e := newEngine(b, Config{}, nil)
	m, err := e.Compile(context.Background(), wasm)
	require.NoError(b, err)
	defer m.Close(context.Background())
	inst, err := e.Instantiate(context.Background(), m, nopHost{})
	require.NoError(b, err)
	defer inst.Close(context.Background())
	require.NoError(b, inst.Deliver(context.Background(), startBatch(1, "Echo")))
	for _, kind := range []abi.Kind{abi.KindTell, abi.KindAsk} {
		b.Run(kind.String(), func(b *testing.B) { benchDeliver(b, inst, kind, 1) })
	}
}

// BenchmarkStartGoGuest is the guest's side of a spawn: turns of 64 STARTs
// of new Echo actors into one instance of the bench guest (a Go guest
// built with the SDK), which constructs and registers each actor. Its
// population grows with b.N, as a node's does under a spawn storm.
func BenchmarkStartGoGuest(b *testing.B) {
	wasm := guestbuildtest.Build(b, "testdata/guests/bench")
	e := newEngine(b, Config{}, nil)
	m, err := e.Compile(context.Background(), wasm)
	require.NoError(b, err)
	defer m.Close(context.Background())
	inst, err := e.Instantiate(context.Background(), m, nopHost{})
	require.NoError(b, err)
	defer inst.Close(context.Background())
	const perTurn = 64
	var batch Batch
	id := uint64(1)
	for b.Loop() {
		batch.Reset()
		for range perTurn {
			batch.Add(&Record{Kind: abi.KindStart, Actor: id, Factory: "Echo"})
			id++
		}
		if err := inst.Deliver(context.Background(), &batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perTurn), "ns/start")
}

// BenchmarkInstantiateGoGuest is a new instance of the bench guest, closed
// again: what an Isolated spawn of a Go guest costs.
func BenchmarkInstantiateGoGuest(b *testing.B) {
	wasm := guestbuildtest.Build(b, "testdata/guests/bench")
	benchAllocators(b, func(b *testing.B) {
		e := newEngine(b, Config{}, nil)
		m, err := e.Compile(context.Background(), wasm)
		require.NoError(b, err)
		defer m.Close(context.Background())
		benchInstantiate(b, m)
	})
}

// A Go panic in a guest's actor fails the instance with the SDK's reason.
func TestGoGuestPanic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	wasm := guestbuildtest.Build(t, "examples/crasher")
	e := newEngine(t, Config{CacheDir: guestCompileCache(t)}, nil)
	m, err := e.Compile(context.Background(), wasm)
	require.NoError(t, err)
	defer m.Close(context.Background())
	inst, err := e.Instantiate(context.Background(), m, &fakeHost{})
	require.NoError(t, err)

	crash, err := cbor.Marshal(map[string]string{"op": "crash"})
	require.NoError(t, err)
	var b Batch
	b.Add(&Record{Kind: abi.KindStart, Actor: 1, Factory: "Worker"})
	b.Add(&Record{Kind: abi.KindTell, Actor: 1, From: abi.PID{Incarnation: 2, Serial: 3}, Payload: crash})
	var f *Failure
	require.ErrorAs(t, inst.Deliver(context.Background(), &b), &f)
	require.Equal(t, "panic: worker crashed on request", f.Reason)
}

// guestCompileCache is an on-disk wazero cache kept across test runs:
// compiling a 3 MB Go guest takes about a second, and half a minute under
// the race detector.
func guestCompileCache(t testing.TB) string {
	if dir := os.Getenv("WASMACTOR_COMPILE_CACHE"); dir != "" {
		return dir
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "wasmactor", "wazero")
}

// BenchmarkColdStartGoGuest is a node's side of a spawn of the bench guest
// it has not run yet: Compile (validate, compile, the probe instance that
// lists the factories), a new instance, and the first turn (START of an
// Echo actor and an ASK it answers). ms/op is the time to the first answer;
// the other metrics split it. The variants:
//
//   - engine=compiler: wazero's optimizing compiler on bytes never seen
//     before (a unique custom section per iteration), with an on-disk
//     compile cache as a node with a data directory has: a cold spawn;
//   - engine=compiler,cache=hit: the same bytes each iteration, on a new
//     engine over a cache directory that already holds them: a node's first
//     spawn of a module after a restart;
//   - engine=interpreter: wazero's interpreter on new bytes.
func BenchmarkColdStartGoGuest(b *testing.B) {
	base := guestbuildtest.Build(b, "testdata/guests/bench")
	for _, v := range []struct {
		name           string
		interp, cached bool
	}{
		{"engine=compiler", false, false},
		{"engine=compiler,cache=hit", false, true},
		{"engine=interpreter", true, false},
	} {
		b.Run(v.name, func(b *testing.B) {
			ctx := context.Background()
			dir := b.TempDir()
			e := newEngine(b, Config{CacheDir: dir, Interpreter: v.interp}, nil)
			if v.cached {
				m, err := e.Compile(ctx, base) // fills the cache
				require.NoError(b, err)
				_ = m.Close(ctx)
			}
			var compile, instantiate, answer time.Duration
			for i := range b.N {
				wasm := base
				if v.cached {
					b.StopTimer()
					e = newEngine(b, Config{CacheDir: dir}, nil) // closed at the end
					b.StartTimer()
				} else {
					wasm = withNonce(base, i)
				}
				h := &fakeHost{}
				t0 := time.Now()
				m, err := e.Compile(ctx, wasm)
				require.NoError(b, err)
				t1 := time.Now()
				inst, err := e.Instantiate(ctx, m, h)
				require.NoError(b, err)
				t2 := time.Now()
				batch := startBatch(1, "Echo")
				batch.Add(&Record{Kind: abi.KindAsk, Actor: 1, From: abi.PID{Incarnation: 2, Serial: 3}, Ref: 1, Payload: []byte{0xf6}})
				require.NoError(b, inst.Deliver(ctx, batch))
				t3 := time.Now()
				require.Len(b, h.Calls("reply"), 1)
				compile, instantiate, answer = compile+t1.Sub(t0), instantiate+t2.Sub(t1), answer+t3.Sub(t2)
				_ = inst.Close(ctx)
				_ = m.Close(ctx)
				if v.cached {
					require.NoError(b, e.Close(ctx))
				}
			}
			per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 / float64(b.N) }
			b.ReportMetric(per(compile+instantiate+answer), "ms/op")
			b.ReportMetric(per(compile), "compile-ms")
			b.ReportMetric(per(instantiate), "instance-ms")
			b.ReportMetric(per(answer), "turn-ms")
		})
	}
}

// BenchmarkDeliverGoGuestEngines is BenchmarkDeliverGoGuest's TELL on the
// optimizing compiler and on the interpreter: what a message costs an
// actor that runs interpreted.
func BenchmarkDeliverGoGuestEngines(b *testing.B) {
	wasm := guestbuildtest.Build(b, "testdata/guests/bench")
	for _, interp := range []bool{false, true} {
		name := "engine=compiler"
		if interp {
			name = "engine=interpreter"
		}
		b.Run(name, func(b *testing.B) {
			e := newEngine(b, Config{Interpreter: interp}, nil)
			m, err := e.Compile(context.Background(), wasm)
			require.NoError(b, err)
			defer m.Close(context.Background())
			inst, err := e.Instantiate(context.Background(), m, nopHost{})
			require.NoError(b, err)
			defer inst.Close(context.Background())
			require.NoError(b, inst.Deliver(context.Background(), startBatch(1, "Echo")))
			benchDeliver(b, inst, abi.KindTell, 1)
		})
	}
}

// withNonce returns wasm with a custom section that makes its bytes, and
// so its hash and every cache key, unique to i and this process.
func withNonce(wasm []byte, i int) []byte {
	tag := fmt.Sprintf("%d-%d-%d", os.Getpid(), time.Now().UnixNano(), i)
	body := append([]byte{byte(len("nonce"))}, "nonce"...)
	body = append(body, tag...)
	out := append(bytes.Clone(wasm), 0, byte(len(body))) // len(body) < 128: one LEB128 byte
	return append(out, body...)
}
