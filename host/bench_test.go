package host_test

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// abiPID is how guests encode a PID inside CBOR: [incarnation, serial].
func abiPID(p host.PID) [2]uint64 { return [2]uint64{p.Incarnation, p.Serial} }

// BenchmarkLocalTell measures guest→guest one-way messages between two
// actors on one node (each in its own instance, so two workers run them in
// parallel): a Source sends raw messages to a Sink as fast as it can.
//
// Its sub-benchmarks run it with observability off and on, one after the
// other in each run, so that rounds of a loaded machine give both the
// same load (docs/figures-ops.md): obs=none (no HTTP listener, no tracer
// provider; the instruments are observed anyway, they always are),
// obs=metrics (the HTTP listener, scraped every 100 ms: 150 times
// Prometheus's default rate, an upper bound) and obs=tracing (a tracer
// provider with a batching processor and an exporter that drops the
// spans; the Source's commands are sent in a span, so its tells carry
// the trace context to the Sink).
func BenchmarkLocalTell(b *testing.B) {
	for _, o := range observabilities {
		b.Run("obs="+o.name, func(b *testing.B) {
			cfg := host.Config{MailboxSize: 1 << 16}
			ctx := o.apply(b, &cfg)
			n := newNode(b, cfg)
			if o.start != nil {
				o.start(b, n)
			}
			localTell(b, ctx, n)
		})
	}
}

// observability is one setting of BenchmarkLocalTell's obs: apply edits
// the node's config and returns the context the driver sends in; start
// runs once the node is up.
type observability struct {
	name  string
	apply func(b *testing.B, cfg *host.Config) context.Context
	start func(b *testing.B, n *host.Node)
}

var observabilities = []observability{
	{name: "none", apply: func(b *testing.B, cfg *host.Config) context.Context { return ctxT(b) }},
	{
		name: "metrics",
		apply: func(b *testing.B, cfg *host.Config) context.Context {
			cfg.HTTPListen = "127.0.0.1:0"
			return ctxT(b)
		},
		start: func(b *testing.B, n *host.Node) { scrapeEvery(b, n.HTTPAddr(), 100*time.Millisecond) },
	},
	{
		name: "tracing",
		apply: func(b *testing.B, cfg *host.Config) context.Context {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardExporter{}))
			b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			cfg.TracerProvider = tp
			ctx, span := tp.Tracer("bench").Start(ctxT(b), "bench")
			b.Cleanup(func() { span.End() })
			return ctx
		},
	},
}

// scrapeEvery GETs /metrics at addr every period until the benchmark
// ends, as a (busy) Prometheus would.
func scrapeEvery(b *testing.B, addr string, period time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	b.Cleanup(func() { cancel(); <-done })
}

// discardExporter drops the spans it is given.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// localTell runs BenchmarkLocalTell on n; the Source's commands are sent
// in sendCtx, everything else (the counting Calls) untraced.
func localTell(b *testing.B, sendCtx context.Context, n *host.Node) {
	deploy(b, n, guestbuildtest.Build(b, "testdata/guests/bench"))
	ctx := ctxT(b)
	sink, err := n.Spawn(ctx, "Sink", host.SpawnOptions{Isolated: true})
	require.NoError(b, err)
	src, err := n.Spawn(ctx, "Source", host.SpawnOptions{Isolated: true})
	require.NoError(b, err)
	count := func(pid host.PID, field string) uint64 {
		r, err := n.Call(ctx, pid, map[string]any{"op": "count"})
		require.NoError(b, err)
		var m map[string]uint64
		require.NoError(b, r.Decode(&m))
		return m[field]
	}
	const chunk = 8192
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		k := min(chunk, b.N-sent)
		require.NoError(b, n.Send(sendCtx, src, []any{abiPID(sink), k}))
		sent += k
		// Keep at most two chunks in flight so the Sink's bounded mailbox
		// is never what limits the figure.
		for uint64(sent)-count(sink, "count") > 2*chunk {
			runtime.Gosched()
		}
	}
	for count(sink, "count")+count(src, "failed") < uint64(b.N) {
		runtime.Gosched()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	failed := count(src, "failed")
	b.ReportMetric(float64(uint64(b.N)-failed)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(failed), "failed")
}

// BenchmarkLocalAsk measures a host Call round trip into a guest (Echo,
// 100-byte payload): Go API → mailbox → worker → guest → reply → caller.
func BenchmarkLocalAsk(b *testing.B) {
	n := newNode(b, host.Config{})
	deploy(b, n, guestbuildtest.Build(b, "testdata/guests/bench"))
	ctx := ctxT(b)
	echo, err := n.Spawn(ctx, "Echo", host.SpawnOptions{})
	require.NoError(b, err)
	msg := host.CBOR(append([]byte{0x58, 97}, make([]byte, 97)...)) // 100 bytes of CBOR
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := n.Call(ctx, echo, msg); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	p := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(p(0.50), "p50-us")
	b.ReportMetric(p(0.99), "p99-us")
}

// BenchmarkSpawn measures spawns into a running instance through the Go
// API, until every spawned actor has been constructed by its guest. At a few
// hundred thousand actors one instance outgrows the default 64 MiB of guest
// memory (Go's GC keeps about twice the live heap), so the benchmark raises
// the cap: it measures spawning, not the limit.
func BenchmarkSpawn(b *testing.B) {
	n := newNode(b, host.Config{InstancesPerModule: 1, MemoryLimitPages: 8192})
	deploy(b, n, guestbuildtest.Build(b, "testdata/guests/bench"))
	ctx := ctxT(b)
	_, err := n.Spawn(ctx, "Echo", host.SpawnOptions{}) // the instance is running
	require.NoError(b, err)
	b.ResetTimer()
	start := time.Now()
	var last host.PID
	for range b.N {
		if last, err = n.Spawn(ctx, "Echo", host.SpawnOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	// STARTs are processed in order; the last answering means all started.
	_, err = n.Call(ctx, last, host.CBOR{0xf6})
	require.NoError(b, err)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "spawns/s")
}

// BenchmarkActorMemory spawns 100k idle Counter actors and reports the node
// heap plus guest linear memory they cost, per actor.
func BenchmarkActorMemory(b *testing.B) {
	const actors = 100_000
	for range b.N {
		b.StopTimer()
		n := newNode(b, host.Config{InstancesPerModule: 1, MailboxSize: 16})
		deploy(b, n, guestbuildtest.Build(b, "examples/counter"))
		ctx := ctxT(b)
		first, err := n.Spawn(ctx, "Counter", host.SpawnOptions{})
		require.NoError(b, err)
		getCounter(b, n, first)
		heap0, guest0 := memNow(n)
		b.StartTimer()
		var last host.PID
		for range actors {
			if last, err = n.Spawn(ctx, "Counter", host.SpawnOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		getCounter(b, n, last)
		b.StopTimer()
		heap1, guest1 := memNow(n)
		perActor := (float64(heap1) - float64(heap0) + float64(guest1) - float64(guest0)) / actors
		b.ReportMetric(perActor, "B/actor")
		b.ReportMetric(float64(guest1-guest0)/actors, "guest-B/actor")
		require.NoError(b, n.Close())
	}
}

func memNow(n *host.Node) (heap, guest uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, n.Stats().GuestMemory
}
