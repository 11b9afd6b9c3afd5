package engine

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/wasmactor/wasmactor/internal/abi"
)

// BenchmarkWazeroCall is the baseline the platform's figures are read
// against: one raw wazero host→guest call of an export that returns its
// argument, without and with WithCloseOnContextDone (which costs a goroutine
// and a channel per call).
func BenchmarkWazeroCall(b *testing.B) {
	for _, closeOnDone := range []bool{false, true} {
		name := "CloseOnContextDone=false"
		if closeOnDone {
			name = "CloseOnContextDone=true"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(closeOnDone))
			defer rt.Close(ctx)
			mod, err := rt.Instantiate(ctx, fixture(b, "trivial.wasm"))
			require.NoError(b, err)
			fn := mod.ExportedFunction("noop")
			stack := []uint64{1}
			b.ReportAllocs()
			for b.Loop() {
				if err := fn.CallWithStack(ctx, stack); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/call")
		})
	}
}

// BenchmarkDeliver is one scheduler turn into the minimal actor: a batch of
// 64 records with 100-byte payloads, encoded and delivered. TELLs only count;
// ASKs cross back into the host once each (reply, with its copy).
func BenchmarkDeliver(b *testing.B) {
	for _, kind := range []abi.Kind{abi.KindTell, abi.KindAsk} {
		b.Run(kind.String(), func(b *testing.B) {
			e := newEngine(b, Config{}, nil)
			m := compileFixture(b, e, "minimal_actor.wasm")
			inst, err := e.Instantiate(context.Background(), m, nopHost{})
			require.NoError(b, err)
			defer inst.Close(context.Background())
			benchDeliver(b, inst, kind, 1)
		})
	}
}

func benchDeliver(b *testing.B, inst *Instance, kind abi.Kind, actor uint64) {
	ctx := context.Background()
	var batch Batch
	r := Record{Kind: kind, Actor: actor, From: abi.PID{Incarnation: 1, Serial: 2}, Ref: 1, Payload: make([]byte, 100)}
	const perTurn = 64
	b.ReportAllocs()
	for b.Loop() {
		batch.Reset()
		for range perTurn {
			batch.Add(&r)
		}
		if err := inst.Deliver(ctx, &batch); err != nil {
			b.Fatal(err)
		}
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N*perTurn)
	b.ReportMetric(ns, "ns/msg")
	b.ReportMetric(1e9/ns, "msgs/s")
}

// BenchmarkInstantiate is a new instance of the minimal actor, closed again,
// with linear memory reserved by mmap (the default on unix) or grown as a
// Go slice.
func BenchmarkInstantiate(b *testing.B) {
	benchAllocators(b, func(b *testing.B) {
		e := newEngine(b, Config{}, nil)
		benchInstantiate(b, compileFixture(b, e, "minimal_actor.wasm"))
	})
}

func benchAllocators(b *testing.B, fn func(b *testing.B)) {
	for _, mmap := range []bool{true, false} {
		if mmap && !mmapSupported {
			continue
		}
		name := "alloc=slice"
		if mmap {
			name = "alloc=mmap"
		}
		b.Run(name, func(b *testing.B) {
			defer func(old bool) { useMmap = old }(useMmap)
			useMmap = mmap
			fn(b)
		})
	}
}

func benchInstantiate(b *testing.B, m *Module) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		inst, err := m.e.Instantiate(ctx, m, nopHost{})
		if err != nil {
			b.Fatal(err)
		}
		_ = inst.Close(ctx)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/instance")
}
