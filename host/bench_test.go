package host_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
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
			localTell(b, ctx, n, "Source")
		})
	}
}

// BenchmarkLocalPost is BenchmarkLocalTell (obs=none) with a Poster for a
// Source: the same messages, posted (Context.PostRaw), so they reach the
// host in batches, one send_batch call per 64 KiB of them.
func BenchmarkLocalPost(b *testing.B) {
	localTell(b, ctxT(b), newNode(b, host.Config{MailboxSize: 1 << 16}), "Poster")
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

// localTell runs BenchmarkLocalTell on n, with source (Source or Poster)
// sending; its commands are sent in sendCtx, everything else (the counting
// Calls) untraced.
func localTell(b *testing.B, sendCtx context.Context, n *host.Node, source string) {
	deploy(b, n, guestbuildtest.Build(b, "testdata/guests/bench"))
	ctx := ctxT(b)
	sink, err := n.Spawn(ctx, "Sink", host.SpawnOptions{Isolated: true})
	require.NoError(b, err)
	src, err := n.Spawn(ctx, source, host.SpawnOptions{Isolated: true})
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

// BenchmarkMillionActors spawns 1,000,000 idle Echo actors on one node
// into shared instances (Limits.ActorsPerInstance each, so the pool grows
// to 8 of them), from GOMAXPROCS goroutines through the Go API, and
// reports:
//
//   - spawn-s: from the first Spawn until the guests have run every START
//     (the node's Delivered count, which counts STARTs, says so);
//   - rss-MB: the process's resident set afterwards (VmRSS in
//     /proc/self/status, after two GCs; the Go heap's runtime/metrics
//     figure where /proc is missing), everything included: the compiled
//     module, the node, the test binary;
//   - rss-settled-MB: the same after debug.FreeOSMemory, i.e. once the
//     heap freed during the spawns (the queued STARTs) is returned to the
//     OS, which the runtime's scavenger does by itself over time;
//   - rss-B/actor: the growth of VmRSS over the spawns, per actor;
//   - guest-MB/instance: guest linear memory per instance;
//   - heap-MB: the Go heap's live objects (runtime/metrics), the host's
//     share of rss-MB before fragmentation and memory not yet returned.
//
// WASMACTOR_BENCH_ACTORS scales the population: .ci/run's smoke run sets
// 100,000 (a million takes about 15 s and 800 MB here); scripts/bench.sh
// runs the million.
// Each iteration is a fresh node; b.N is normally 1.
func BenchmarkMillionActors(b *testing.B) {
	actors := 1_000_000
	if s := os.Getenv("WASMACTOR_BENCH_ACTORS"); s != "" {
		v, err := strconv.Atoi(s)
		require.NoError(b, err, "WASMACTOR_BENCH_ACTORS")
		actors = v
	}
	wasm := guestbuildtest.Build(b, "testdata/guests/bench")
	for range b.N {
		b.StopTimer()
		n := newNode(b, host.Config{MemoryLimitPages: 4096, MailboxSize: 1 << 16})
		deploy(b, n, wasm)
		ctx := ctxT(b)
		_, err := n.Spawn(ctx, "Echo", host.SpawnOptions{}) // the first instance is running
		require.NoError(b, err)
		rss0 := rssBytes()
		delivered0 := n.Stats().Delivered
		b.StartTimer()
		start := time.Now()
		workers := runtime.GOMAXPROCS(0)
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for range actors/workers + btoi(w < actors%workers) {
					if _, err := n.Spawn(ctx, "Echo", host.SpawnOptions{}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		require.NoError(b, <-errs)
		for n.Stats().Delivered-delivered0 < uint64(actors) {
			time.Sleep(time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		st := n.Stats()
		require.Equal(b, actors+1, st.Actors)
		rss1 := rssBytes()
		debug.FreeOSMemory() // what the runtime's scavenger gets to over time, now
		rssSettled := rssBytes()
		b.ReportMetric(elapsed.Seconds(), "spawn-s")
		b.ReportMetric(float64(rss1)/1e6, "rss-MB")
		b.ReportMetric(float64(rssSettled)/1e6, "rss-settled-MB")
		b.ReportMetric((float64(rss1)-float64(rss0))/float64(actors), "rss-B/actor")
		b.ReportMetric(float64(st.GuestMemory)/1e6/float64(st.Instances), "guest-MB/instance")
		b.ReportMetric(float64(st.Instances), "instances")
		b.ReportMetric(float64(actors), "actors")
		b.ReportMetric(float64(heapObjects())/1e6, "heap-MB")
		require.NoError(b, n.Close())
	}
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

// rssBytes is the process's resident set after two GCs: VmRSS from
// /proc/self/status, or, where there is no /proc, the memory the Go
// runtime has mapped and not released (runtime/metrics), which leaves out
// the guests' linear memory.
func rssBytes() uint64 {
	runtime.GC()
	runtime.GC()
	if f, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(f)) {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}

// heapObjects is the bytes of the Go heap's objects (live after a GC).
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
