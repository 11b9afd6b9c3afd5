package engine

import (
	"context"
	"fmt"
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

// spinModule is, assembled by hand (the bytes below are this text):
//
//	(module
//	  (func (export "spin") (param i32) (result i32)
//	    (loop
//	      (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))
//	      (br_if 0))
//	    (local.get 0)))
var spinModule = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
	0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, // types: (i32) -> i32
	0x03, 0x02, 0x01, 0x00, // functions: one of type 0
	0x07, 0x08, 0x01, 0x04, 's', 'p', 'i', 'n', 0x00, 0x00, // export "spin"
	0x0a, 0x12, 0x01, 0x10, 0x00, // code: one body of 16 bytes, no locals
	0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, 0x0d, 0x00, 0x0b, // loop ... br_if 0 end
	0x20, 0x00, 0x0b, // local.get 0, end
}

// BenchmarkWazeroLoop is what wazero's interruption costs guest code: a
// loop of 10,000 iterations, without and with WithCloseOnContextDone. With
// it, wazero (v1.12) leaves the guest for Go at every loop header to check
// whether the module was closed. A Go guest passes a loop header at every
// function entry and every jump between basic blocks (Go's wasm backend
// dispatches them through one loop per function), so this is the price of
// each branch a Go guest takes (docs/figures-perf.md).
func BenchmarkWazeroLoop(b *testing.B) {
	for _, closeOnDone := range []bool{false, true} {
		b.Run(fmt.Sprintf("CloseOnContextDone=%v", closeOnDone), func(b *testing.B) {
			ctx := context.Background()
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(closeOnDone))
			defer rt.Close(ctx)
			mod, err := rt.Instantiate(ctx, spinModule)
			require.NoError(b, err)
			fn := mod.ExportedFunction("spin")
			const iterations = 10000
			stack := []uint64{0}
			for b.Loop() {
				stack[0] = iterations
				if err := fn.CallWithStack(ctx, stack); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*iterations), "ns/iteration")
		})
	}
}
