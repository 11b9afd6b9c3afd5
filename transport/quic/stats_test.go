package quic

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/transport"
)

func statsOf(tr *Transport, peer string) transport.PeerStats {
	for _, ps := range tr.PeerStats() {
		if ps.Peer == peer {
			return ps
		}
	}
	return transport.PeerStats{}
}

// TestPeerStatsCountTrafficReconnectsAndFailedHandshakes moves envelopes
// and casts from a to b, cuts their connection, and lets a node with
// another cookie try to join: the counters say so on both sides.
func TestPeerStatsCountTrafficReconnectsAndFailedHandshakes(t *testing.T) {
	ha, hb := newHandler(), newHandler()
	a := startNode(t, testConfig("a"), ha)
	b := startNode(t, testConfig("b"), hb)
	require.NoError(t, b.Join(joinCtx(t), []string{a.Self().Addr}))
	require.True(t, ha.nextEvent(t, 10*time.Second).up)
	require.True(t, hb.nextEvent(t, 10*time.Second).up)

	const n, size = 2000, 200
	for i := range n {
		for {
			err := a.Send("b", transport.Envelope{From: uint64(i % 7), To: 1, Payload: make([]byte, size)})
			if err == nil {
				break
			}
			require.ErrorIs(t, err, transport.ErrQueueFull)
			time.Sleep(time.Millisecond)
		}
	}
	require.NoError(t, a.Cast("b", transport.Control{Kind: 1, Body: []byte("hello")}))
	got := 0
	for got < n {
		select {
		case envs := <-hb.envs:
			got += len(envs)
		case <-time.After(20 * time.Second):
			t.Fatalf("%d of %d envelopes arrived", got, n)
		}
	}
	<-hb.casts

	out, in := statsOf(a, "b"), statsOf(b, "a")
	require.EqualValues(t, n+1, out.MessagesOut)
	require.EqualValues(t, n+1, in.MessagesIn)
	require.True(t, out.Up && in.Up)
	require.Positive(t, out.RTT, "quic-go measured a round trip")
	require.Greater(t, out.BytesOut, uint64(n*size))
	// What a sent is what b received, but for packets in flight when the
	// two are read (acknowledgements and keep-alives keep flowing).
	require.Eventually(t, func() bool {
		out, in := statsOf(a, "b").BytesOut, statsOf(b, "a").BytesIn
		return in <= out && out-in <= out/50+4096
	}, 20*time.Second, 10*time.Millisecond, "bytes out of a ≈ bytes into b")
	require.Zero(t, out.Reconnects)

	// Cut the session: both sides find it lost and make a new one.
	(*a.peers.Load())["b"].conn.CloseWithError(CodeInternal, "cut by the test")
	for _, h := range []*testHandler{ha, hb} {
		require.False(t, h.nextEvent(t, 10*time.Second).up)
		require.True(t, h.nextEvent(t, 10*time.Second).up)
	}
	before := statsOf(a, "b")
	require.EqualValues(t, 1, before.Reconnects)
	require.EqualValues(t, 1, statsOf(b, "a").Reconnects)
	// The first session's counts are kept: bytes keep growing from them.
	require.GreaterOrEqual(t, before.BytesOut, out.BytesOut)
	require.NoError(t, a.Send("b", transport.Envelope{Payload: []byte("after")}))
	require.Eventually(t, func() bool { return statsOf(b, "a").MessagesIn == n+2 }, 10*time.Second, 5*time.Millisecond)

	// A node with another cookie: a failure on both sides, under the
	// unknown peer (neither learned a verified name).
	cfg := testConfig("m")
	cfg.Cookie = []byte("another cookie, also 16+ bytes long")
	m := startNode(t, cfg, newHandler())
	require.ErrorIs(t, m.Join(joinCtx(t), []string{a.Self().Addr}), transport.ErrHandshake)
	require.EqualValues(t, 1, statsOf(m, transport.UnknownPeer).HandshakeFailures)
	require.Eventually(t, func() bool { return statsOf(a, transport.UnknownPeer).HandshakeFailures == 1 },
		10*time.Second, 5*time.Millisecond, "a counts the failed attempt")
	require.Zero(t, statsOf(a, "b").HandshakeFailures)
}

// TestPeerStatsNameOnlyVerifiedMembers: members a peer announced, which
// this node never had a session with, are not reported under the names
// the peer gave them (a label value each): they count under UnknownPeer.
// The peer itself, verified, is reported by name.
func TestPeerStatsNameOnlyVerifiedMembers(t *testing.T) {
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer sink.Close()
	v := startNode(t, testConfig("victim"), newHandler())
	m := startNode(t, testConfig("mallory"), newHandler())
	require.NoError(t, m.Join(joinCtx(t), []string{v.Self().Addr}))
	waitFor(t, 5*time.Second, "connected", func() bool { return len(m.Members()) == 1 && len(v.Members()) == 1 })

	fakes := make([]transport.NodeInfo, 50)
	for i := range fakes {
		fakes[i] = transport.NodeInfo{Name: fmt.Sprintf("fake-%d", i), Incarnation: uint64(i + 1), Addr: sink.LocalAddr().String()}
	}
	sess := liveSessions(m)
	require.Len(t, sess, 1)
	m.exec(func() { sess[0].queueMembers(fakes) })
	waitFor(t, 5*time.Second, "the list arrives", func() bool {
		_, learned := memberCounts(v)
		return learned > 0
	})
	var names []string
	for _, ps := range v.PeerStats() {
		names = append(names, ps.Peer)
	}
	require.Contains(t, names, "mallory")
	for _, name := range names {
		require.NotContains(t, name, "fake-", "an unverified member reported by name")
	}
	require.LessOrEqual(t, len(names), 2, "mallory and at most the unknown peer: %v", names)
}
