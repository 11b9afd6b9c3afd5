package quic

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	qgo "github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/transporttest"
	"github.com/wasmactor/wasmactor/internal/wire"
	"github.com/wasmactor/wasmactor/transport"
)

// rawActivate makes the authenticated raw connection of node self to node
// peer its active session, as a transport would right after the
// handshake: the leader of the pair activates it, the other offers it.
func rawActivate(t *testing.T, ctrl *qgo.Stream, self, peer string) {
	t.Helper()
	m := ctrlMsg{Type: ctrlOffer}
	if self < peer {
		m = ctrlMsg{Type: ctrlActive, Gen: 1}
	}
	b, err := wire.Marshal(m)
	require.NoError(t, err)
	_, err = ctrl.Write(wire.AppendFrame(nil, b))
	require.NoError(t, err)
}

// TestCallsSurviveSimultaneousDial builds the race of two nodes dialling
// each other at once, in the order that used to fail requests: b's
// connection is up and carrying calls both ways when a's own dial to b
// completes. No call, envelope or cast may be lost and neither node may
// see the other go down: the connection that completes second never
// carried anything.
func TestCallsSurviveSimultaneousDial(t *testing.T) {
	const calls = 100
	pa, pb := transporttest.NewProxy(t), transporttest.NewProxy(t)
	node := func(name string, p *transporttest.Proxy) (*Transport, *testHandler) {
		cfg := testConfig(name)
		cfg.Advertise = p.Addr()
		cfg.HandshakeTimeout = 20 * time.Second // a's dial is held back for a while
		h := newHandler()
		tr := startNode(t, cfg, h)
		p.SetTarget(tr.Addr().String())
		return tr, h
	}
	a, ha := node("a", pa)
	b, hb := node("b", pb)
	entered, release := make(chan struct{}, 2*calls), make(chan struct{})
	for _, h := range []*testHandler{ha, hb} {
		h.setCall(func(ctx context.Context, _ transport.PeerInfo, req transport.Control) ([]byte, error) {
			entered <- struct{}{}
			<-release
			return req.Body, nil
		})
	}

	pb.Block(true) // a's dial to b waits
	aJoined := make(chan error, 1)
	go func() { aJoined <- a.Join(joinCtx(t), []string{pb.Addr()}) }()
	require.NoError(t, b.Join(joinCtx(t), []string{pa.Addr()}))
	require.True(t, ha.nextEvent(t, 10*time.Second).up)
	require.True(t, hb.nextEvent(t, 10*time.Second).up)

	errs := make(chan error, 2*calls)
	for i := range calls {
		for _, pair := range []struct {
			tr   *Transport
			peer string
		}{{a, "b"}, {b, "a"}} {
			go func() {
				out, err := pair.tr.Call(joinCtx(t), pair.peer, transport.Control{Body: []byte{byte(i)}})
				if err == nil && (len(out) != 1 || out[0] != byte(i)) {
					err = fmt.Errorf("call %d: wrong reply %v", i, out)
				}
				errs <- err
			}()
		}
	}
	for range 2 * calls {
		<-entered // every call is being handled
	}
	// Envelopes and casts queued meanwhile must not be lost either.
	for i := range calls {
		require.NoError(t, a.Send("b", transport.Envelope{From: 1, To: 1, Ref: uint64(i)}))
		require.NoError(t, b.Cast("a", transport.Control{Kind: uint16(i)}))
	}
	pb.Block(false)
	require.NoError(t, <-aJoined, "a's dial completed: it found b already connected")
	close(release)
	for got := 0; got < calls; {
		select {
		case envs := <-hb.envs:
			for _, e := range envs {
				require.EqualValues(t, got, e.Ref)
				got++
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d envelopes arrived", got, calls)
		}
	}
	for i := range calls {
		select {
		case c := <-ha.casts:
			require.EqualValues(t, i, c.Kind)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d casts arrived", i, calls)
		}
	}
	failed := 0
	for range 2 * calls {
		if err := <-errs; err != nil {
			failed++
			t.Log(err)
		}
	}
	require.Zero(t, failed, "calls failed")
	requireNoEvent(t, ha)
	requireNoEvent(t, hb)
	require.Len(t, a.Members(), 1)
	require.Len(t, b.Members(), 1)
}

// TestControlQueueBoundedInBytes: casts queued for a peer that does not
// read them are bounded by ControlQueueBytes, not only by their number,
// and the caster is told (ErrQueueFull) instead of losing them.
func TestControlQueueBoundedInBytes(t *testing.T) {
	const body = 16 << 10
	entered, release := make(chan struct{}), make(chan struct{})
	hb := newHandler()
	var once sync.Once
	hb.onCast = func(transport.Control) { once.Do(func() { close(entered); <-release }) }
	cfg := testConfig("a")
	cfg.ControlQueueBytes = 256 << 10
	a := startNode(t, cfg, newHandler())
	b := startNode(t, testConfig("b"), hb)
	require.NoError(t, a.Join(joinCtx(t), []string{b.Self().Addr}))
	accepted := fillQueue(t, DefaultControlQueue, entered, func(i int) error {
		err := a.Cast("b", transport.Control{Kind: uint16(i), Body: make([]byte, body)})
		if err != nil {
			require.ErrorContains(t, err, "bytes")
		}
		return err
	})
	// What is in flight is bounded by QUIC flow control (a stream window of
	// 512 KiB that may grow to 8 MiB), what is queued by the 256 KiB bound;
	// the message count alone would have taken 4096 casts.
	t.Logf("%d casts of %d KiB accepted", accepted, body>>10)
	require.LessOrEqual(t, accepted*body, (8<<20)+(256<<10)+body)
	close(release)
	for i := range accepted {
		select {
		case c := <-hb.casts:
			require.EqualValues(t, i, c.Kind)
		case <-time.After(10 * time.Second):
			t.Fatalf("cast %d of %d not delivered", i, accepted)
		}
	}
}

// TestOneWayLossSeenByBothSides: deaf stops hearing other, which still
// hears it and, with a long idle timeout, cannot notice on its own. deaf
// reports a timeout and reconnects; other must then report the old session
// down (ErrPeerReconnected) before the new one up, whichever node leads the
// pair, so both rebuild their shared state.
func TestOneWayLossSeenByBothSides(t *testing.T) {
	for _, names := range [][2]string{{"a", "b"}, {"b", "a"}} { // deaf leads, then follows
		t.Run("deaf="+names[0], func(t *testing.T) {
			nw := &suiteNetwork{proxies: map[string]*transporttest.Proxy{}}
			hd, ho := newHandler(), newHandler()
			deaf := nw.start(t, names[0], hd, func(c *Config) {})
			other := nw.start(t, names[1], ho, func(c *Config) { c.IdleTimeout = time.Minute })
			require.NoError(t, deaf.Join(joinCtx(t), []string{other.Self().Addr}))
			require.True(t, hd.nextEvent(t, 10*time.Second).up)
			require.True(t, ho.nextEvent(t, 10*time.Second).up)

			nw.LoseOneWay(t, deaf, other, func() {})
			ev := hd.nextEvent(t, 10*time.Second)
			require.False(t, ev.up)
			require.ErrorIs(t, ev.reason, transport.ErrPeerTimeout)
			require.True(t, hd.nextEvent(t, 10*time.Second).up, "deaf reconnected")

			ev = ho.nextEvent(t, 10*time.Second)
			require.False(t, ev.up, "the side that noticed nothing sees the old session end")
			require.Equal(t, deaf.Self(), ev.peer)
			require.ErrorIs(t, ev.reason, transport.ErrPeerReconnected)
			ev = ho.nextEvent(t, 10*time.Second)
			require.True(t, ev.up)
			require.Equal(t, deaf.Self(), ev.peer)

			_, err := other.Call(joinCtx(t), names[0], transport.Control{})
			require.NoError(t, err)
			_, err = deaf.Call(joinCtx(t), names[1], transport.Control{})
			require.NoError(t, err)
			requireNoEvent(t, hd)
			requireNoEvent(t, ho)
		})
	}
}

// TestSendQueueBoundedInBytes: envelopes queued for a peer that does not
// read them are bounded by SendQueueBytes, not only by their number, and
// the sender is told (ErrQueueFull) instead of losing them.
func TestSendQueueBoundedInBytes(t *testing.T) {
	const payload = 64 << 10
	entered, release := make(chan struct{}), make(chan struct{})
	hb := newHandler()
	var once sync.Once
	got := make(chan int, 1<<16)
	hb.onEnvelopes = func(_ transport.NodeInfo, envs []transport.Envelope) {
		once.Do(func() { close(entered); <-release })
		for _, e := range envs {
			got <- int(e.Ref)
		}
	}
	cfg := testConfig("a")
	cfg.SendQueueBytes = 1 << 20
	a := startNode(t, cfg, newHandler())
	b := startNode(t, testConfig("b"), hb)
	require.NoError(t, a.Join(joinCtx(t), []string{b.Self().Addr}))
	accepted := fillQueue(t, DefaultSendQueue, entered, func(i int) error {
		// One pair, so one lane: its order is checked below.
		return a.Send("b", transport.Envelope{Kind: 1, From: 1, To: 1, Ref: uint64(i), Payload: make([]byte, payload)})
	})
	// What is in flight is bounded by QUIC flow control (a stream window of
	// 512 KiB that may grow to 8 MiB, and the connection's), what is queued
	// by the 1 MiB bound; the envelope count alone would have taken 65536
	// envelopes, 4 GiB.
	t.Logf("%d envelopes of %d KiB accepted", accepted, payload>>10)
	require.LessOrEqual(t, accepted*payload, (16<<20)+(1<<20)+payload)
	close(release)
	for i := range accepted {
		select {
		case ref := <-got:
			require.Equal(t, i, ref)
		case <-time.After(10 * time.Second):
			t.Fatalf("envelope %d of %d not delivered", i, accepted)
		}
	}
}

// fillQueue calls send(0), send(1)... until one fails, which must be with
// ErrQueueFull, and returns how many succeeded. The peer blocks in its
// handler from the first one on (entered), so what QUIC does not have in
// flight stays queued; the queue's count bound (max) must not be what
// stops it.
func fillQueue(t *testing.T, max int, entered <-chan struct{}, send func(i int) error) int {
	t.Helper()
	for accepted := 0; ; accepted++ {
		if err := send(accepted); err != nil {
			require.ErrorIs(t, err, transport.ErrQueueFull)
			return accepted
		}
		if accepted == 0 {
			<-entered
		}
		require.Less(t, accepted, max, "only the count bounds the queue")
	}
}
