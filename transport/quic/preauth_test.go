package quic

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	qgo "github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/wire"
)

// rawDialFrom connects to addr from a socket bound to the loopback address
// local (any 127.x.y.z works on Linux), as a cookie-less attacker would.
func rawDialFrom(t *testing.T, local, addr string) (*qgo.Conn, error) {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(local)})
	require.NoError(t, err)
	tr := &qgo.Transport{Conn: udp}
	t.Cleanup(func() { tr.Close(); udp.Close() })
	ua, err := net.ResolveUDPAddr("udp", addr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := tr.Dial(ctx, ua, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{ALPN}, MinVersion: tls.VersionTLS13},
		quicConfig(2*time.Second, 10*time.Second, 500*time.Millisecond, 10))
	if err == nil {
		t.Cleanup(func() { conn.CloseWithError(0, "") })
	}
	return conn, err
}

// startHandshake opens the control stream and sends a well-formed hello
// that no proof will follow.
func startHandshake(t *testing.T, conn *qgo.Conn) *qgo.Stream {
	t.Helper()
	str, err := tryHandshake(t, conn)
	require.NoError(t, err)
	return str
}

// tryHandshake is startHandshake for a connection the node may close at
// any moment (one over the bounds is closed as soon as it is accepted).
func tryHandshake(t *testing.T, conn *qgo.Conn) (*qgo.Stream, error) {
	t.Helper()
	str, err := conn.OpenStreamSync(joinCtx(t))
	if err != nil {
		return nil, err
	}
	b, err := wire.Marshal(hello{Version: protocolVersion, Role: roleNode, Name: "mallory", Incarnation: 7, Nonce: newNonce(), MaxFrame: 1 << 20})
	require.NoError(t, err)
	_, err = str.Write(wire.AppendFrame(nil, b))
	return str, err
}

func isOpen(conn *qgo.Conn) bool { return conn.Context().Err() == nil }

// goodPeerJoins starts a node with the cookie on another loopback address
// than the attackers' and lets it try, for 3 s, to join s.
func goodPeerJoins(t *testing.T, s *Transport) error {
	cfg := testConfig("good")
	cfg.Listen = "127.0.0.2:0"
	g := startNode(t, cfg, newHandler())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return g.Join(ctx, []string{s.Self().Addr})
}

// TestNothingIdentifiesTheNodeBeforeTheProof: a client that sends a hello
// and no proof reads everything the node will send it (until the handshake
// deadline closes the connection). Neither that nor the TLS certificate
// holds the node's name or incarnation. Before, the ServerHello carried
// both and the self-signed certificate was issued to the name.
func TestNothingIdentifiesTheNodeBeforeTheProof(t *testing.T) {
	const name = "secret-node-name"
	cfg := testConfig(name)
	cfg.Incarnation = 0x0123456789abcdef
	cfg.HandshakeTimeout = time.Second
	s := startNode(t, cfg, newHandler())

	conn := rawDial(t, s.Self().Addr)
	var seen []byte
	for _, c := range conn.ConnectionState().TLS.PeerCertificates {
		seen = append(seen, c.Raw...)
	}
	str := startHandshake(t, conn)
	got, _ := io.ReadAll(str) // ends when the node gives up on us
	require.NotEmpty(t, got, "the node answers a hello")
	seen = append(seen, got...)

	require.False(t, bytes.Contains(seen, []byte(name)), "the node's name was sent before the proof")
	var inc [8]byte
	binary.BigEndian.PutUint64(inc[:], cfg.Incarnation)
	require.False(t, bytes.Contains(seen, inc[:]), "the node's incarnation was sent before the proof")
	require.False(t, bytes.Contains(seen, binary.LittleEndian.AppendUint64(nil, cfg.Incarnation)))

	// What it did send is one challenge: a version and a nonce.
	body, rest, err := wire.Split(got, maxHandshakeFrame)
	require.NoError(t, err)
	require.Empty(t, rest)
	_, err = decodeChallenge(body)
	require.NoError(t, err)
	requireClosedWith(t, conn, CodeHandshakeFailed)
}

// TestUnauthenticatedConnectionsBounded: cookie-less connections that
// start a handshake and never prove are held at most
// MaxUnauthenticatedPerIP per address and MaxUnauthenticated in all; the
// rest are refused before TLS or closed with CodeBusy, and a good peer
// from another address still gets in. Before, every one of them was held
// until the handshake deadline.
func TestUnauthenticatedConnectionsBounded(t *testing.T) {
	// dial starts n cookie-less handshakes from the address from.
	dial := func(t *testing.T, from, addr string, n int) (conns []*qgo.Conn) {
		for i := 0; i < n; i++ {
			conn, err := rawDialFrom(t, from, addr)
			if err != nil {
				continue // refused before TLS
			}
			if _, err := tryHandshake(t, conn); err != nil {
				require.True(t, isBusy(err), "only a busy node closes it: %v", err)
				continue // closed over the bounds before the hello went out
			}
			conns = append(conns, conn)
		}
		return conns
	}
	// settle waits for the node to close the connections over bound (it
	// does so as soon as it accepts them) and returns those still open.
	settle := func(t *testing.T, conns []*qgo.Conn, bound int) []*qgo.Conn {
		var open []*qgo.Conn
		waitFor(t, 5*time.Second, "connections over the bound closed", func() bool {
			open = open[:0]
			for _, c := range conns {
				if isOpen(c) {
					open = append(open, c)
				}
			}
			return len(open) <= bound
		})
		return open
	}

	t.Run("per address", func(t *testing.T) {
		cfg := testConfig("s")
		cfg.HandshakeTimeout = 10 * time.Second // the attackers keep their slots throughout
		s := startNode(t, cfg, newHandler())
		held := settle(t, dial(t, "127.0.0.1", s.Self().Addr, 3*DefaultUnauthPerIP), DefaultUnauthPerIP)
		require.NotEmpty(t, held)

		require.NoError(t, goodPeerJoins(t, s), "a good peer from another address gets in")
		for _, c := range held {
			require.True(t, isOpen(c), "still waiting for a proof")
		}
	})

	t.Run("in all", func(t *testing.T) {
		cfg := testConfig("s")
		cfg.HandshakeTimeout = 10 * time.Second
		cfg.MaxUnauthenticated = 4
		cfg.MaxUnauthenticatedPerIP = 2
		s := startNode(t, cfg, newHandler())
		var conns []*qgo.Conn
		for _, from := range []string{"127.0.0.3", "127.0.0.4", "127.0.0.5"} {
			conns = append(conns, dial(t, from, s.Self().Addr, 3)...)
		}
		held := settle(t, conns, 4)

		require.Error(t, goodPeerJoins(t, s), "all slots are taken")
		for _, c := range held {
			c.CloseWithError(0, "")
		}
		waitFor(t, 5*time.Second, "slots released", func() bool { return !s.unauth.full("127.0.0.2") })
		require.NoError(t, goodPeerJoins(t, s), "the slots come back when the attackers leave")
	})
}

// TestOnlyTheHandshakeStreamBeforeTheProof: a connection that opens a
// second stream (bidirectional or not) before proving the cookie is closed
// at once, and what it could push meanwhile is bounded by the small
// initial receive window. Before, such streams were queued with up to
// 512 KiB each until the handshake deadline.
func TestOnlyTheHandshakeStreamBeforeTheProof(t *testing.T) {
	cfg := testConfig("s")
	cfg.HandshakeTimeout = 10 * time.Second
	s := startNode(t, cfg, newHandler())
	for _, uni := range []bool{false, true} {
		conn := rawDial(t, s.Self().Addr)
		str := startHandshake(t, conn)
		_, err := wire.NewReader(str, maxHandshakeFrame, 512).Next() // the challenge
		require.NoError(t, err)

		var w interface {
			io.Writer
			SetWriteDeadline(time.Time) error
		}
		if uni {
			w, err = conn.OpenUniStreamSync(joinCtx(t))
		} else {
			w, err = conn.OpenStreamSync(joinCtx(t))
		}
		require.NoError(t, err)
		w.SetWriteDeadline(time.Now().Add(2 * time.Second))
		n, _ := w.Write(make([]byte, 4<<20))
		t.Logf("uni=%v: the node accepted %d bytes before closing", uni, n)
		select {
		case <-conn.Context().Done():
		case <-time.After(3 * time.Second):
			t.Fatalf("uni=%v: a second stream before the proof did not close the connection", uni)
		}
		requireClosedWith(t, conn, CodeHandshakeFailed)
		require.LessOrEqual(t, n, 2*initialWindow, "uni=%v: bytes the node accepted before closing", uni)
	}
}

// TestJoinSelfAndWrongNode: a node that dials itself, or a redial that
// reaches another node at a member's old address, ends cleanly after the
// proofs (the server no longer names itself before them), without a
// session on either side.
func TestJoinSelfAndWrongNode(t *testing.T) {
	ha, hc := newHandler(), newHandler()
	a := startNode(t, testConfig("a"), ha)
	c := startNode(t, testConfig("c"), hc)
	require.NoError(t, a.Join(joinCtx(t), []string{a.Self().Addr}), "a seed that is this node counts as answered")
	require.ErrorIs(t, a.dialNode(joinCtx(t), a.Self().Addr, ""), errSelf)
	require.ErrorIs(t, a.dialNode(joinCtx(t), c.Self().Addr, "b"), errWrongNode)
	require.Empty(t, a.Members())
	require.Empty(t, c.Members())
	requireNoEvent(t, ha)
	requireNoEvent(t, hc)
}

// isBusy reports whether err is the node closing a connection over the
// pre-authentication bounds.
func isBusy(err error) bool {
	var ae *qgo.ApplicationError
	return errors.As(err, &ae) && ae.ErrorCode == CodeBusy
}
