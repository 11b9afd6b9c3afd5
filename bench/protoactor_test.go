package bench

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The Proto.Actor Go baselines: the same ask and tell scenarios as
// BenchmarkRemoteAsk and BenchmarkRemoteTell, between two actor systems in
// this process over Proto.Actor's gRPC remote on loopback. The actors are
// native Go (no WASM), messages are protobuf, and its mailboxes are
// unbounded.

// protoSystem starts an actor system with its remote on a free loopback port.
func protoSystem(tb testing.TB) *actor.ActorSystem {
	tb.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quietLogger() }))
	r := remote.NewRemote(sys, remote.Configure("127.0.0.1", 0))
	r.Start()
	tb.Cleanup(func() {
		r.Shutdown(false)
		sys.Shutdown()
	})
	return sys
}

// protoPair starts the two systems and spawns props on the second; it
// returns the first system and the remote PID as the first one names it.
func protoPair(tb testing.TB, props *actor.Props) (*actor.ActorSystem, *actor.PID) {
	a, b := protoSystem(tb), protoSystem(tb)
	pid, err := b.Root.SpawnNamed(props, "target")
	require.NoError(tb, err)
	return a, actor.NewPID(b.Address(), pid.Id)
}

// BenchmarkProtoActorRemoteAsk is BenchmarkRemoteAsk/host-to-guest on
// Proto.Actor: RequestFuture from the first system's root context to an
// echo actor on the second, 100-byte payload.
func BenchmarkProtoActorRemoteAsk(b *testing.B) {
	sys, echo := protoPair(b, actor.PropsFromFunc(func(c actor.Context) {
		if m, ok := c.Message().(*wrapperspb.BytesValue); ok {
			c.Respond(m)
		}
	}))
	// 98 bytes of value encode as a 100-byte protobuf message.
	msg := &wrapperspb.BytesValue{Value: make([]byte, 98)}
	ask := func() error {
		_, err := sys.Root.RequestFuture(echo, msg, 5*time.Second).Result()
		return err
	}
	require.NoError(b, ask()) // warm: the connections both ways
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := ask(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// sendMany tells a source actor to send n messages to target.
type sendMany struct {
	target *actor.PID
	n      int
}

// BenchmarkProtoActorRemoteTell is BenchmarkRemoteTell on Proto.Actor: a
// source actor on the first system sends chunks of small messages to a
// sink actor on the second, with at most two chunks in flight.
func BenchmarkProtoActorRemoteTell(b *testing.B) {
	var got atomic.Uint64
	sys, sink := protoPair(b, actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*wrapperspb.BytesValue); ok {
			got.Add(1)
		}
	}))
	// The same 34 bytes the bench guest's Source sends.
	msg := &wrapperspb.BytesValue{Value: []byte("wasmactor-bench-payload-0123456789")}
	src := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if m, ok := c.Message().(sendMany); ok {
			for range m.n {
				c.Send(m.target, msg)
			}
		}
	}))
	sys.Root.Send(src, sendMany{target: sink, n: 1}) // warm
	require.Eventually(b, func() bool { return got.Load() == 1 }, 10*time.Second, time.Millisecond)
	got.Store(0)
	const chunk = 8192
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		k := min(chunk, b.N-sent)
		sys.Root.Send(src, sendMany{target: sink, n: k})
		sent += k
		for uint64(sent)-got.Load() > 2*chunk {
			time.Sleep(20 * time.Microsecond)
		}
	}
	// Wait for the rest; give up when nothing has moved for a second.
	for last, lastAt := uint64(0), time.Now(); got.Load() < uint64(b.N); {
		if g := got.Load(); g != last {
			last, lastAt = g, time.Now()
		} else if time.Since(lastAt) > time.Second {
			break
		}
		time.Sleep(20 * time.Microsecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	n := got.Load()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(uint64(b.N)-n), "lost")
}
