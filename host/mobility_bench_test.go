package host_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// blobOf asks a Blob for [len, sum, restores].
func blobOf(t testing.TB, n *host.Node, pid host.PID) [3]uint64 {
	t.Helper()
	r, err := n.Call(ctxT(t), pid, "state")
	require.NoError(t, err)
	var v [3]uint64
	require.NoError(t, r.Decode(&v))
	return v
}

// blobSum is the sum a Blob of n bytes reports.
func blobSum(n int) uint64 {
	var s uint64
	for i := range n {
		s += uint64(byte(i))
	}
	return s
}

// BenchmarkUpgrade measures one hot upgrade of an actor with 1 KiB of
// state, both modules compiled and instantiated: from the call until the
// actor runs the new version (UpgradeResult.Took, on the actor's node). It
// upgrades back and forth between two modules with the same code. The
// actor's snapshot is its bytes as they are, so the figure is the
// platform's, not a codec's.
func BenchmarkUpgrade(b *testing.B) {
	n := newNode(b, host.Config{})
	ctx := ctxT(b)
	wasm := guestbuildtest.Build(b, "testdata/guests/bench")
	v := []string{deploy(b, n, wasm), deploy(b, n, variant(wasm, "b"))}
	const size = 1 << 10
	blob, err := n.Spawn(ctx, "Blob@"+v[0][:8], host.SpawnOptions{Args: size})
	require.NoError(b, err)
	for i := range 8 { // warm: both modules' pools are full
		_, err = n.Upgrade(ctx, blob, v[1-i%2])
		require.NoError(b, err)
	}
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		res, err := n.Upgrade(ctx, blob, v[i%2])
		if err != nil {
			b.Fatal(err)
		}
		took = append(took, res.Took)
	}
	b.StopTimer()
	require.Equal(b, [3]uint64{size, blobSum(size), 1}, blobOf(b, n, blob), "a restored Blob counts its restores from 0: its snapshot is its bytes")
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1e3, "µs-p50")
	b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds())/1e3, "µs-p99")
}

// BenchmarkMigrate measures one live migration of an actor with 1 MiB of
// state between two nodes over QUIC on loopback, from the call until the
// actor runs at the target (MigrateResult.Took, on the old node), back and
// forth.
func BenchmarkMigrate(b *testing.B) {
	n1 := quicCluster(b, 2, host.Config{})[0]
	ctx := ctxT(b)
	deploy(b, n1, guestbuildtest.Build(b, "testdata/guests/bench"))
	const size = 1 << 20
	blob, err := n1.Spawn(ctx, "Blob", host.SpawnOptions{Node: "n1", Args: size})
	require.NoError(b, err)
	nodes := []string{"n2", "n1"}
	at := blob
	for i := range 4 { // warm: both nodes have the module compiled and an instance
		res, err := n1.Migrate(ctx, at, nodes[i%2])
		require.NoError(b, err)
		at = res.New
	}
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		res, err := n1.Migrate(ctx, at, nodes[i%2])
		if err != nil {
			b.Fatal(err)
		}
		at = res.New
		took = append(took, res.Took)
	}
	b.StopTimer()
	require.Equal(b, [3]uint64{size, blobSum(size), 1}, blobOf(b, n1, blob), "the old PID reaches it, state intact")
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1e3, "ms-p50")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1e3, "ms-p99")
}

// BenchmarkDrain measures draining 10,000 small actors (no state to speak
// of) from one node to two others, over QUIC on loopback: from the call
// until every actor runs at its new node.
func BenchmarkDrain(b *testing.B) {
	nodes := quicCluster(b, 3, host.Config{MailboxSize: 64})
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	ctx := ctxT(b)
	deploy(b, n3, guestbuildtest.Build(b, "testdata/guests/bench"))
	for _, n := range []*host.Node{n1, n2} { // the module compiled everywhere
		require.Eventually(b, func() bool { return len(n.Modules()) == 1 }, 10*time.Second, time.Millisecond)
		_, err := n.Spawn(ctx, "Blob", host.SpawnOptions{Node: n.Name()})
		require.NoError(b, err)
	}
	const actors = 10_000
	var took []time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for range actors {
			_, err := n3.Spawn(ctx, "Blob", host.SpawnOptions{Node: "n3"})
			require.NoError(b, err)
		}
		require.Eventually(b, func() bool { return n3.Stats().Actors == actors }, 30*time.Second, time.Millisecond)
		b.StartTimer()
		start := time.Now()
		rep, err := n1.Drain(ctx, "n3", host.DrainOptions{})
		took = append(took, time.Since(start))
		b.StopTimer()
		require.NoError(b, err)
		require.Len(b, rep.Moved, actors)
		require.Empty(b, rep.Left)
		require.Zero(b, n3.Stats().Actors)
		for _, n := range []*host.Node{n1, n2} { // make room for the next round
			for _, a := range n.Actors() {
				require.NoError(b, n.Stop(ctx, a.PID))
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(took[len(took)/2].Seconds(), "s-p50")
	b.ReportMetric(float64(actors)/took[len(took)/2].Seconds(), "actors/s")
}

// quicCluster starts size nodes in this process, n1..nN, over QUIC on
// loopback, joined into a full mesh.
func quicCluster(b testing.TB, size int, cfg host.Config) []*host.Node {
	cfg.Listen, cfg.Cookie = "127.0.0.1:0", []byte("0123456789abcdef0123456789abcdef")
	var nodes []*host.Node
	for i := range size {
		c := cfg
		c.Name = fmt.Sprintf("n%d", i+1)
		if i > 0 {
			c.Join = []string{nodes[0].Addr()}
		}
		nodes = append(nodes, newNode(b, c))
	}
	require.Eventually(b, func() bool {
		for _, n := range nodes {
			if len(n.Members()) != size-1 {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond)
	return nodes
}

// BenchmarkMigrationPause measures the pause a concurrent sender sees
// while an actor migrates: a sender on a third node asks the actor (by
// its first PID, so it is forwarded and learns the new homes) one ask
// after another, first with nothing else going on (idle), then while 100
// migrations of the actor back and forth between n1 and n2 run (during).
// It reports the p99 of the sender's ask latency in both phases and their
// ratio. The actor is a Blob with 1 KiB of state.
func BenchmarkMigrationPause(b *testing.B) {
	nodes := quicCluster(b, 3, host.Config{})
	n1, n3 := nodes[0], nodes[2]
	ctx := ctxT(b)
	deploy(b, n1, guestbuildtest.Build(b, "testdata/guests/bench"))
	const size, migrations, idleAsks = 1 << 10, 100, 2000
	blob, err := n1.Spawn(ctx, "Blob", host.SpawnOptions{Node: "n1", Args: size})
	require.NoError(b, err)
	homes := []string{"n2", "n1"}
	at := blob
	for i := range 4 { // warm: both nodes have the module compiled and an instance
		res, err := n1.Migrate(ctx, at, homes[i%2])
		require.NoError(b, err)
		at = res.New
	}
	// ask is the sender's one ask; it runs on the sender's goroutine, so
	// it reports its error rather than failing the benchmark there.
	ask := func() (time.Duration, error) {
		start := time.Now()
		_, err := n3.Call(ctx, blob, "state")
		return time.Since(start), err
	}
	for range 200 { // warm the sender's path
		_, err := ask()
		require.NoError(b, err)
	}
	type sample struct {
		lat []time.Duration
		err error
	}
	var idle, during []time.Duration
	b.ResetTimer()
	for range b.N {
		for range idleAsks {
			d, err := ask()
			require.NoError(b, err)
			idle = append(idle, d)
		}
		stop := make(chan struct{})
		sent := make(chan sample)
		go func() {
			var s sample
			for {
				select {
				case <-stop:
					sent <- s
					return
				default:
				}
				d, err := ask()
				if err != nil {
					s.err = err
					<-stop
					sent <- s
					return
				}
				s.lat = append(s.lat, d)
			}
		}()
		var merr error
		for i := range migrations {
			res, err := n1.Migrate(ctx, at, homes[i%2])
			if err != nil {
				merr = err
				break
			}
			at = res.New
		}
		close(stop)
		s := <-sent
		require.NoError(b, merr)
		require.NoError(b, s.err, "the sender's ask")
		during = append(during, s.lat...)
	}
	b.StopTimer()
	require.Equal(b, [3]uint64{size, blobSum(size), 1}, blobOf(b, n1, blob), "the old PID reaches it, state intact")
	p99 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)*99/100].Nanoseconds()) / 1e3
	}
	pi, pd := p99(idle), p99(during)
	b.ReportMetric(pi, "p99-µs-idle")
	b.ReportMetric(pd, "p99-µs-during")
	b.ReportMetric(pd/pi, "ratio")
	b.ReportMetric(float64(len(during))/float64(b.N), "asks-during")
}
