package quic

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/transport"
)

// TestPerPairOrder: many goroutines send concurrently, in batches of random
// size, over a small queue (so ErrQueueFull happens and is retried); every
// (From, To) pair must see its sequence numbers in order with no gap.
func TestPerPairOrder(t *testing.T) {
	const senders, receivers, perPair = 8, 4, 3000
	hb := newHandler()
	var mu sync.Mutex
	next := map[[2]uint64]uint64{}
	var got atomic.Int64
	var orderErr atomic.Value
	hb.onEnvelopes = func(from transport.NodeInfo, envs []transport.Envelope) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range envs {
			k := [2]uint64{e.From, e.To}
			if e.Ref != next[k] {
				orderErr.CompareAndSwap(nil, fmt.Sprintf("pair %v: got seq %d, want %d", k, e.Ref, next[k]))
			}
			next[k] = e.Ref + 1
		}
		got.Add(int64(len(envs)))
	}
	cfg := testConfig("a")
	cfg.SendQueue = 512
	a := startNode(t, cfg, newHandler())
	b := startNode(t, testConfig("b"), hb)
	require.NoError(t, a.Join(joinCtx(t), []string{b.Self().Addr}))
	waitFor(t, 5*time.Second, "membership", func() bool { return len(a.Members()) == 1 })

	var wg sync.WaitGroup
	var queueFull atomic.Int64
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(s), 1))
			seq := make([]uint64, receivers)
			remaining := receivers * perPair
			for remaining > 0 {
				n := min(1+rng.IntN(32), remaining)
				batch := make([]transport.Envelope, 0, n)
				for len(batch) < n {
					to := rng.IntN(receivers)
					if seq[to] == perPair {
						continue
					}
					batch = append(batch, transport.Envelope{From: uint64(s + 1), To: uint64(to + 1), Ref: seq[to], Payload: []byte("x")})
					seq[to]++
				}
				for {
					err := a.Send("b", batch...)
					if err == nil {
						break
					}
					if !strings.Contains(err.Error(), "queue full") {
						orderErr.CompareAndSwap(nil, err.Error())
						return
					}
					queueFull.Add(1)
					runtime.Gosched()
				}
				remaining -= n
			}
		}()
	}
	wg.Wait()
	const total = senders * receivers * perPair
	waitFor(t, 30*time.Second, "all envelopes", func() bool { return got.Load() == total || orderErr.Load() != nil })
	require.Nil(t, orderErr.Load())
	require.EqualValues(t, total, got.Load())
	t.Logf("%d envelopes in order; ErrQueueFull retried %d times", total, queueFull.Load())
}

// liveSessions counts t's sessions (on the loop).
func liveSessions(tr *Transport) []*session {
	res := make(chan []*session, 1)
	if !tr.exec(func() {
		var out []*session
		for s := range tr.sessions {
			out = append(out, s)
		}
		res <- out
	}) {
		return nil
	}
	return <-res
}

func TestSimultaneousDialEndsWithOneConnection(t *testing.T) {
	for i := 0; i < 8; i++ {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			ha, hb := newHandler(), newHandler()
			a := startNode(t, testConfig("a"), ha)
			b := startNode(t, testConfig("b"), hb)
			var wg sync.WaitGroup
			var errA, errB error
			wg.Add(2)
			go func() { defer wg.Done(); errA = a.Join(joinCtx(t), []string{b.Self().Addr}) }()
			go func() { defer wg.Done(); errB = b.Join(joinCtx(t), []string{a.Self().Addr}) }()
			wg.Wait()
			require.NoError(t, errA)
			require.NoError(t, errB)
			waitFor(t, 10*time.Second, "one connection each side", func() bool {
				sa, sb := liveSessions(a), liveSessions(b)
				return len(sa) == 1 && len(sb) == 1 && len(a.Members()) == 1 && len(b.Members()) == 1
			})
			sa, sb := liveSessions(a)[0], liveSessions(b)[0]
			require.Equal(t, sa.conn.LocalAddr().String(), sb.conn.RemoteAddr().String())
			require.Equal(t, sa.conn.RemoteAddr().String(), sb.conn.LocalAddr().String())
			require.True(t, sa.leader && !sb.leader, "a sorts first, so a leads the pair")
			require.NotZero(t, sa.gen)
			require.Equal(t, sa.gen, sb.gen, "the generation a assigned")
			// Exactly one NodeUp, no NodeDown, on each side.
			for _, h := range []*testHandler{ha, hb} {
				require.True(t, h.nextEvent(t, 5*time.Second).up)
				requireNoEvent(t, h)
			}
			require.NoError(t, a.Send("b", transport.Envelope{To: 1}))
			select {
			case <-hb.envs:
			case <-time.After(5 * time.Second):
				t.Fatal("not delivered over the surviving connection")
			}
		})
	}
}

func TestFullMesh(t *testing.T) {
	hs := []*testHandler{newHandler(), newHandler(), newHandler(), newHandler()}
	var nodes []*Transport
	for i, name := range []string{"n1", "n2", "n3", "n4"} {
		nodes = append(nodes, startNode(t, testConfig(name), hs[i]))
	}
	// Everyone joins through n1 only; the member lists do the rest.
	for _, n := range nodes[1:] {
		require.NoError(t, n.Join(joinCtx(t), []string{nodes[0].Self().Addr}))
	}
	waitFor(t, 10*time.Second, "full mesh", func() bool {
		for _, n := range nodes {
			if len(n.Members()) != len(nodes)-1 {
				return false
			}
		}
		return true
	})
	require.NoError(t, nodes[3].Send("n2", transport.Envelope{To: 5}))
	select {
	case envs := <-hs[1].envs:
		require.EqualValues(t, 5, envs[0].To)
	case <-time.After(5 * time.Second):
		t.Fatal("not delivered across the mesh")
	}
	// A clean leave is seen by every other node, which does not redial.
	require.NoError(t, nodes[2].Close())
	waitFor(t, 5*time.Second, "leave seen", func() bool {
		for i, n := range nodes {
			if i != 2 && len(n.Members()) != len(nodes)-2 {
				return false
			}
		}
		return true
	})
}

// TestNoLeakAfterClose runs a small cluster with traffic, calls and blob
// fetches, closes it, and checks that the goroutine count settles back.
// MaxStreams is tiny, so a leaked call or blob stream would block the
// later ones.
func TestNoLeakAfterClose(t *testing.T) {
	settle := func() int {
		n := runtime.NumGoroutine()
		for i := 0; i < 20; i++ {
			time.Sleep(10 * time.Millisecond)
			n = min(n, runtime.NumGoroutine())
		}
		return n
	}
	before := settle()

	var hs []*testHandler
	var nodes []*Transport
	for _, name := range []string{"x", "y", "z"} {
		cfg := testConfig(name)
		cfg.MaxStreams = 4
		h := newHandler()
		h.onEnvelopes = func(transport.NodeInfo, []transport.Envelope) {}
		h.blobs["k"] = make([]byte, 100<<10)
		tr, err := New(cfg)
		require.NoError(t, err)
		require.NoError(t, tr.Start(context.Background(), h))
		hs = append(hs, h)
		nodes = append(nodes, tr)
	}
	for _, n := range nodes[1:] {
		require.NoError(t, n.Join(joinCtx(t), []string{nodes[0].Self().Addr}))
	}
	waitFor(t, 10*time.Second, "mesh", func() bool { return len(nodes[2].Members()) == 2 && len(nodes[1].Members()) == 2 })
	ctx := joinCtx(t)
	for i := 0; i < 100; i++ {
		_, err := nodes[0].Call(ctx, "y", transport.Control{Body: []byte("q")})
		require.NoError(t, err)
		_, err = nodes[1].FetchBlob(ctx, "z", "k", 1<<20)
		require.NoError(t, err)
		require.NoError(t, nodes[2].Send("x", transport.Envelope{To: uint64(i)}))
	}
	// A call abandoned by its caller must not leak either.
	hs[1].setCall(func(ctx context.Context, _ transport.PeerInfo, _ transport.Control) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	for i := 0; i < 10; i++ {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_, err := nodes[0].Call(cctx, "y", transport.Control{})
		cancel()
		require.Error(t, err)
	}
	c, err := Dial(ctx, nodes[0].Self().Addr, ClientConfig{Cookie: testCookie})
	require.NoError(t, err)
	_, err = c.Call(ctx, transport.Control{})
	require.NoError(t, err)
	require.NoError(t, c.Close())

	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.Close() }()
	}
	wg.Wait()
	var after int
	deadline := time.Now().Add(10 * time.Second)
	for {
		after = settle()
		if after <= before || time.Now().After(deadline) {
			break
		}
	}
	if after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before, %d after Close\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// TestCleanLeaveDeliversQueued: what was queued before Close reaches the
// peer (lanes are read to their end before the connection closes), and
// the peer reports the leave, not a failure.
func TestCleanLeaveDeliversQueued(t *testing.T) {
	hb := newHandler()
	var got atomic.Int64
	var inOrder atomic.Bool
	inOrder.Store(true)
	next := map[uint64]uint64{}
	var mu sync.Mutex
	hb.onEnvelopes = func(_ transport.NodeInfo, envs []transport.Envelope) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range envs {
			if e.Ref != next[e.From] {
				inOrder.Store(false)
			}
			next[e.From] = e.Ref + 1
		}
		got.Add(int64(len(envs)))
	}
	a := startNode(t, testConfig("a"), newHandler())
	b := startNode(t, testConfig("b"), hb)
	require.NoError(t, a.Join(joinCtx(t), []string{b.Self().Addr}))
	require.True(t, hb.nextEvent(t, 5*time.Second).up)

	const n = 20000
	payload := make([]byte, 100)
	for i := 0; i < n; i++ {
		require.NoError(t, a.Send("b", transport.Envelope{From: uint64(i%8 + 1), To: 1, Ref: uint64(i / 8), Payload: payload}))
	}
	require.NoError(t, a.Cast("b", transport.Control{Kind: 1}))
	require.NoError(t, a.Close())
	require.ErrorIs(t, a.Send("b", transport.Envelope{}), wasmactor.ErrClosed)

	ev := hb.nextEvent(t, 5*time.Second)
	require.False(t, ev.up)
	require.ErrorIs(t, ev.reason, transport.ErrPeerLeft)
	require.EqualValues(t, n, got.Load(), "NodeDown comes after every envelope was delivered")
	require.True(t, inOrder.Load())
	select {
	case <-hb.casts:
	default:
		t.Fatal("the cast sent before Close was lost")
	}
	require.Empty(t, b.Members())
}
