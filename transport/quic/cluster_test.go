package quic

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/transport"
)

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
