package bench

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wasmactor/wasmactor/host"
)

func TestMain(m *testing.M) {
	// A shared on-disk compile cache would make the cold-spawn benchmark
	// warm; the nodes here use their own data dirs or the process's
	// in-memory cache instead.
	os.Unsetenv("WASMACTOR_COMPILE_CACHE")
	os.Exit(m.Run())
}

// benchTimeout bounds every wait in a benchmark, so a wedged node fails the
// run instead of hanging CI.
const benchTimeout = 2 * time.Minute

func ctxB(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
	tb.Cleanup(cancel)
	return ctx
}

func quietLogger() *slog.Logger {
	if os.Getenv("WASMACTOR_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// pair starts two nodes, n1 and n2, in this process over real QUIC on
// loopback with a shared random cookie, and waits until they see each
// other. tweak, if not nil, adjusts both configs (data dirs, mailboxes).
func pair(tb testing.TB, tweak func(*host.Config)) (n1, n2 *host.Node) {
	tb.Helper()
	cookie := make([]byte, 32)
	_, _ = rand.Read(cookie)
	start := func(name string, join ...string) *host.Node {
		cfg := host.Config{Name: name, Listen: "127.0.0.1:0", Cookie: cookie, Join: join, Logger: quietLogger()}
		if tweak != nil {
			tweak(&cfg)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		n, err := host.Start(ctx, cfg)
		require.NoError(tb, err)
		tb.Cleanup(func() { require.NoError(tb, n.Close()) })
		return n
	}
	n1 = start("n1")
	n2 = start("n2", n1.Addr())
	require.Eventually(tb, func() bool { return len(n1.Members()) == 1 && len(n2.Members()) == 1 },
		10*time.Second, 5*time.Millisecond, "the nodes never met")
	return n1, n2
}

// abiPID is how guests encode a PID inside CBOR: [incarnation, serial].
func abiPID(p host.PID) [2]uint64 { return [2]uint64{p.Incarnation, p.Serial} }

// payload100 is a 100-byte CBOR message (a byte string of 98 bytes), the
// size host/bench_test.go's BenchmarkLocalAsk uses.
var payload100 = host.CBOR(append([]byte{0x58, 98}, make([]byte, 98)...))

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	p := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(p(0.50), "p50-us")
	b.ReportMetric(p(0.99), "p99-us")
}

// BenchmarkRemoteAsk measures ask round trips between two nodes with a
// 100-byte payload and an Echo guest on n2 answering byte for byte.
//
//   - host-to-guest: a Go host.Call on n1 (the asker is the Go API, not a
//     guest): Call → QUIC → n2's mailbox → Echo turn → reply → QUIC → caller.
//   - guest-to-guest: an Asker guest on n1 asks the Echo on n2 and times each
//     round trip inside the guest (the clock is WASI's, i.e. the host's
//     monotonic clock); both ends are WASM guests. Its p50/p99 come from
//     the guest; b.N rounds run in one host Call.
//
// Each runs with observability off and on, one after the other in every
// run, so that the rounds of a loaded machine give each the same load
// (docs/figures-ops.md):
//
//   - obs=none: no HTTP listener, no tracer provider (the node's metric
//     instruments are observed anyway: they always are);
//   - obs=metrics: both nodes serve HTTP and are scraped every 100 ms,
//     150 times Prometheus's default rate (an upper bound);
//   - obs=tracing: both nodes have a tracer provider
//     (host.Config.TracerProvider), the OpenTelemetry SDK with its batching
//     processor and an exporter that counts the spans and drops them, so
//     the cost measured is the nodes' (spans, trace context on the wire and
//     through turns), not a collector's. Every Call is a trace of its own;
//     in guest-to-guest every ask is a span of the one Call's trace.
func BenchmarkRemoteAsk(b *testing.B) {
	b.Run("obs=none", func(b *testing.B) { remoteAsk(b, nil, nil) })
	b.Run("obs=metrics", func(b *testing.B) {
		remoteAsk(b, func(c *host.Config) { c.HTTPListen = "127.0.0.1:0" }, func(b *testing.B, nodes ...*host.Node) {
			for _, n := range nodes {
				scrapeEvery(b, n.HTTPAddr(), 100*time.Millisecond)
			}
		})
	})
	b.Run("obs=tracing", func(b *testing.B) {
		remoteAsk(b, func(c *host.Config) { c.TracerProvider = discardingProvider(b) }, nil)
	})
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

// discardingProvider is a tracer provider exporting to countingExporter,
// shut down (flushing) when the benchmark ends, then checked to have
// exported at least one span.
func discardingProvider(b *testing.B) *sdktrace.TracerProvider {
	exp := &countingExporter{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	b.Cleanup(func() {
		require.NoError(b, tp.Shutdown(context.Background()))
		require.NotZero(b, exp.spans.Load(), "no span exported")
	})
	return tp
}

// countingExporter counts the spans it is given and drops them.
type countingExporter struct{ spans atomic.Int64 }

func (e *countingExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.spans.Add(int64(len(spans)))
	return nil
}

func (e *countingExporter) Shutdown(context.Context) error { return nil }

// remoteAsk runs BenchmarkRemoteAsk's two cases on pairs made with tweak;
// started, if not nil, runs once each pair is up.
func remoteAsk(b *testing.B, tweak func(*host.Config), started func(b *testing.B, nodes ...*host.Node)) {
	up := func(b *testing.B) (n1, n2 *host.Node) {
		n1, n2 = pair(b, tweak)
		if started != nil {
			started(b, n1, n2)
		}
		return n1, n2
	}
	b.Run("host-to-guest", func(b *testing.B) {
		n1, n2 := up(b)
		ctx := ctxB(b)
		_, err := n1.Deploy(ctx, benchGuest(b))
		require.NoError(b, err)
		echo, err := n1.Spawn(ctx, "Echo", host.SpawnOptions{Node: n2.Name()})
		require.NoError(b, err)
		_, err = n1.Call(ctx, echo, payload100) // warm: the connection, the instance
		require.NoError(b, err)
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			t0 := time.Now()
			if _, err := n1.Call(ctx, echo, payload100); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		reportLatency(b, lat)
	})
	b.Run("guest-to-guest", func(b *testing.B) {
		n1, n2 := up(b)
		ctx := ctxB(b)
		_, err := n1.Deploy(ctx, benchGuest(b))
		require.NoError(b, err)
		_, err = n1.Deploy(ctx, askerGuest(b))
		require.NoError(b, err)
		echo, err := n1.Spawn(ctx, "Echo", host.SpawnOptions{Node: n2.Name()})
		require.NoError(b, err)
		asker, err := n1.Spawn(ctx, "Asker", host.SpawnOptions{Node: n1.Name()})
		require.NoError(b, err)
		run := func(rounds int) (ok, failed, p50, p99, mean uint64) {
			r, err := n1.Call(ctx, asker, []any{abiPID(echo), rounds, len(payload100)})
			require.NoError(b, err)
			var out [5]uint64
			require.NoError(b, r.Decode(&out), "Asker replied %x", []byte(r))
			return out[0], out[1], out[2], out[3], out[4]
		}
		run(10) // warm
		b.ResetTimer()
		ok, failed, p50, p99, mean := run(b.N)
		b.StopTimer()
		require.Zero(b, failed, "asks failed")
		require.EqualValues(b, b.N, ok)
		b.ReportMetric(float64(p50)/1e3, "p50-us")
		b.ReportMetric(float64(p99)/1e3, "p99-us")
		b.ReportMetric(float64(mean)/1e3, "mean-us")
	})
}

// BenchmarkRemoteTell measures one-way messages from a Source guest on n1
// into a Sink guest on n2, paced like host/bench_test.go's
// BenchmarkLocalTell: the Source is told to send chunks, and at most two
// chunks are in flight, so the Sink's bounded mailbox is not the limit.
// Refused sends are reported as failed, and messages that vanish (a remote
// tell into a full mailbox is dropped at the receiver) as lost.
func BenchmarkRemoteTell(b *testing.B) { remoteTell(b, "Source") }

// BenchmarkRemotePost is BenchmarkRemoteTell with a Poster for a Source:
// the same messages, posted (Context.PostRaw), so they reach n1's host in
// batches and leave it in runs of one transport send each.
func BenchmarkRemotePost(b *testing.B) { remoteTell(b, "Poster") }

func remoteTell(b *testing.B, source string) {
	n1, n2 := pair(b, func(c *host.Config) { c.MailboxSize = 1 << 16 })
	ctx := ctxB(b)
	_, err := n1.Deploy(ctx, benchGuest(b))
	require.NoError(b, err)
	sink, err := n1.Spawn(ctx, "Sink", host.SpawnOptions{Node: n2.Name(), Isolated: true})
	require.NoError(b, err)
	src, err := n1.Spawn(ctx, source, host.SpawnOptions{Node: n1.Name(), Isolated: true})
	require.NoError(b, err)
	count := func(pid host.PID, field string) uint64 {
		r, err := n1.Call(ctx, pid, map[string]any{"op": "count"})
		require.NoError(b, err)
		var m map[string]uint64
		require.NoError(b, r.Decode(&m))
		return m[field]
	}
	count(sink, "count") // warm
	const chunk = 8192
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		k := min(chunk, b.N-sent)
		require.NoError(b, n1.Send(ctx, src, []any{abiPID(sink), k}))
		sent += k
		// Each count is a remote ask queued behind the tells sent so far.
		// Polling sleeps between asks, so the pacing does not eat the CPU
		// the figure needs (two chunks take tens of ms to drain); the
		// Source's refusals are asked for only when the Sink is stuck.
		for last := uint64(0); ; time.Sleep(200 * time.Microsecond) {
			got := count(sink, "count")
			if uint64(sent)-got <= 2*chunk {
				break
			}
			if got == last && uint64(sent)-got-count(src, "failed") <= 2*chunk {
				break
			}
			last = got
		}
	}
	// Wait for the rest; give up when nothing has moved for a second.
	var got, failed uint64
	for last, lastAt := uint64(0), time.Now(); ; {
		got, failed = count(sink, "count"), count(src, "failed")
		if got+failed >= uint64(b.N) {
			break
		}
		if got+failed != last {
			last, lastAt = got+failed, time.Now()
		} else if time.Since(lastAt) > time.Second {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(got)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(float64(uint64(b.N)-got-failed), "lost")
}

// BenchmarkRemoteSpawn measures n1 spawning Echo actors on n2 through the Go
// API, one at a time, with the module already pulled and compiled on n2
// and its instance running. Like BenchmarkSpawn in host/, the clock stops
// when the last actor answers (STARTs are processed in order).
func BenchmarkRemoteSpawn(b *testing.B) {
	n1, n2 := pair(b, nil)
	ctx := ctxB(b)
	_, err := n1.Deploy(ctx, benchGuest(b))
	require.NoError(b, err)
	opts := host.SpawnOptions{Node: n2.Name()}
	// Warm: n2 pulls and compiles the module, and fills its instance pool
	// (one instance per core, each a few ms to instantiate), so what is
	// timed is spawns into running instances.
	for range 2 * runtime.GOMAXPROCS(0) {
		pid, err := n1.Spawn(ctx, "Echo", opts)
		require.NoError(b, err)
		_, err = n1.Call(ctx, pid, host.CBOR{0xf6})
		require.NoError(b, err)
	}
	b.ResetTimer()
	start := time.Now()
	var last host.PID
	for range b.N {
		if last, err = n1.Spawn(ctx, "Echo", opts); err != nil {
			b.Fatal(err)
		}
	}
	_, err = n1.Call(ctx, last, host.CBOR{0xf6})
	require.NoError(b, err)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(elapsed.Microseconds())/float64(b.N), "us/op")
}

// BenchmarkRemoteSpawnCold measures a spawn on n2 of a module n2 has never
// seen: each iteration deploys a new module on n1 (untimed), then times n1's
// Spawn on n2 (n2 pulls the blob over QUIC, checks its hash, stores it,
// compiles it, instantiates it and starts the actor) up to the actor's
// first answer. Each module is the bench guest with a unique custom section,
// so neither n2's store nor its compile cache has it. The nodes have their
// own data dirs (an on-disk store and compile cache each, as in
// production), so n1's compile on deploy does not warm n2.
//
// The bench guest is a standard Go wasip1 module of about 4 MB (2.6 MB of
// code), twice the 2 MB of the target; module-MB reports the exact size.
// Two more metrics split the figure. pull-ms is the time from the Spawn call
// to n2 logging "module pulled" (the spawn request, the transfer, the hash
// check and the store write); the rest of ms/op is n2 compiling,
// instantiating and starting the actor. deploy-ms times, off the benchmark
// clock, a Deploy straight on n2 of another unique module of the same size
// (hash, validate, compile, store: everything but the transfer and the
// spawn).
func BenchmarkRemoteSpawnCold(b *testing.B) { benchRemoteSpawnCold(b, false) }

// BenchmarkRemoteSpawnColdInterpreted is BenchmarkRemoteSpawnCold with
// n2's host.Config.InterpretPulledModules on, spawning the bench guest's
// Blob (which snapshots; Echo would wait for the compiler): the actor
// answers from wazero's interpreter, and moves to the compiled code later.
// compiled-ms is the time from the Spawn call to n2 logging that the
// module's actors left the interpreter; an iteration waits for it (off the
// clock) so that the next one does not compete with its compile.
func BenchmarkRemoteSpawnColdInterpreted(b *testing.B) { benchRemoteSpawnCold(b, true) }

func benchRemoteSpawnCold(b *testing.B, interpret bool) {
	pulled := &pullClock{}
	n1, n2 := pair(b, func(c *host.Config) {
		c.DataDir = b.TempDir()
		if c.Name == "n2" {
			c.Logger = slog.New(pulled)
			c.InterpretPulledModules = interpret
		}
	})
	ctx := ctxB(b)
	base := benchGuest(b)
	tag := make([]byte, 16)
	factory := "Echo"
	if interpret {
		factory = "Blob"
	}
	var total, local, pull, compiled time.Duration
	var size int
	for i := range b.N {
		b.StopTimer()
		_, _ = rand.Read(tag)
		t0 := time.Now()
		_, err := n2.Deploy(ctx, withCustomSection(base, "wasmactor-bench-nonce", tag))
		require.NoError(b, err)
		local += time.Since(t0)
		_, _ = rand.Read(tag)
		wasm := withCustomSection(base, "wasmactor-bench-nonce", tag)
		size = len(wasm)
		info, err := n1.Deploy(ctx, wasm)
		require.NoError(b, err)
		ref := factory + "@" + info.Hash.String()
		b.StartTimer()
		t0 = time.Now()
		pid, err := n1.Spawn(ctx, ref, host.SpawnOptions{Node: n2.Name()})
		if err != nil {
			b.Fatalf("iteration %d: %v", i, err)
		}
		if _, err := n1.Call(ctx, pid, host.CBOR{0xf6}); err != nil {
			b.Fatalf("iteration %d: %v", i, err)
		}
		total += time.Since(t0)
		b.StopTimer()
		if at := pulled.at.Load(); at > t0.UnixNano() {
			pull += time.Duration(at - t0.UnixNano())
		}
		if interpret {
			for pulled.compiled.Load() < t0.UnixNano() {
				select {
				case <-ctx.Done():
					b.Fatalf("iteration %d: the module did not leave the interpreter: %v", i, ctx.Err())
				case <-time.After(time.Millisecond):
				}
			}
			compiled += time.Duration(pulled.compiled.Load() - t0.UnixNano())
		}
		b.StartTimer()
	}
	b.StopTimer()
	require.EqualValues(b, b.N, n2.Pulls(), "n2 should pull every module once")
	b.ReportMetric(float64(total.Microseconds())/1e3/float64(b.N), "ms/op")
	b.ReportMetric(float64(local.Microseconds())/1e3/float64(b.N), "deploy-ms")
	if pull > 0 {
		b.ReportMetric(float64(pull.Microseconds())/1e3/float64(b.N), "pull-ms")
	}
	if interpret {
		b.ReportMetric(float64(compiled.Microseconds())/1e3/float64(b.N), "compiled-ms")
	}
	b.ReportMetric(float64(size)/1e6, "module-MB")
}

// pullClock is a slog.Handler that notes when a node logs that it pulled a
// module, and discards everything else.
type pullClock struct{ at, compiled atomic.Int64 }

func (p *pullClock) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (p *pullClock) Handle(_ context.Context, r slog.Record) error {
	switch r.Message {
	case "module pulled":
		p.at.Store(time.Now().UnixNano())
	case "module compiled; its actors left the interpreter":
		p.compiled.Store(time.Now().UnixNano())
	}
	return nil
}

func (p *pullClock) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *pullClock) WithGroup(string) slog.Handler      { return p }
