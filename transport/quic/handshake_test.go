package quic

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	qgo "github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/wire"
	"github.com/wasmactor/wasmactor/transport"
)

// rawListener is an attacker's QUIC endpoint on loopback: it speaks the
// ALPN but holds no cookie.
func rawListener(t *testing.T) *qgo.Listener {
	t.Helper()
	srv, _, err := tlsConfigs(nil, "", "", "")
	require.NoError(t, err)
	ln, err := qgo.ListenAddr("127.0.0.1:0", srv, quicConfig(2*time.Second, 2*time.Second, 500*time.Millisecond, 10))
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// rawDial connects to addr as an attacker would (TLS, ALPN, no cookie).
func rawDial(t *testing.T, addr string) *qgo.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := qgo.DialAddr(ctx, addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{ALPN}, MinVersion: tls.VersionTLS13},
		quicConfig(2*time.Second, 2*time.Second, 500*time.Millisecond, 10))
	require.NoError(t, err)
	t.Cleanup(func() { conn.CloseWithError(0, "") })
	return conn
}

// requireClosedWith waits for conn to be closed by the peer with code.
func requireClosedWith(t *testing.T, conn *qgo.Conn, code qgo.ApplicationErrorCode) {
	t.Helper()
	select {
	case <-conn.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed")
	}
	got, remote, ok := appCode(context.Cause(conn.Context()))
	require.True(t, ok, "closed by %v", context.Cause(conn.Context()))
	require.True(t, remote)
	require.Equal(t, code, got)
}

func requireNoEvent(t *testing.T, h *testHandler) {
	t.Helper()
	select {
	case ev := <-h.events:
		t.Fatalf("unexpected node event %+v", ev)
	default:
	}
}

func TestHandshakeWrongCookie(t *testing.T) {
	hs := newHandler()
	s := startNode(t, testConfig("s"), hs)
	cfg := testConfig("m")
	cfg.Cookie = []byte("another cookie, also 16+ bytes long")
	hm := newHandler()
	m := startNode(t, cfg, hm)

	err := m.Join(joinCtx(t), []string{s.Self().Addr})
	require.ErrorIs(t, err, transport.ErrHandshake)
	require.Empty(t, s.Members())
	require.Empty(t, m.Members())

	_, err = Dial(joinCtx(t), s.Self().Addr, ClientConfig{Cookie: cfg.Cookie, Timeout: 2 * time.Second})
	require.ErrorIs(t, err, transport.ErrHandshake)
	requireNoEvent(t, hs)
	requireNoEvent(t, hm)
}

func TestClientDial(t *testing.T) {
	hs := newHandler()
	froms := make(chan transport.PeerInfo, 2)
	hs.setCall(func(ctx context.Context, f transport.PeerInfo, req transport.Control) ([]byte, error) {
		froms <- f
		return []byte("pong"), nil
	})
	cfg := testConfig("s")
	cfg.MaxClientRequest = 4 << 20
	s := startNode(t, cfg, hs)
	c, err := Dial(joinCtx(t), s.Self().Addr, ClientConfig{Name: "cli", Cookie: testCookie})
	require.NoError(t, err)
	require.Equal(t, s.Self(), c.Peer())
	out, err := c.Call(joinCtx(t), transport.Control{Kind: 1})
	require.NoError(t, err)
	require.Equal(t, "pong", string(out))
	_, err = c.Call(joinCtx(t), transport.Control{Body: make([]byte, 3<<20)})
	require.NoError(t, err, "a client may send requests up to MaxClientRequest")
	_, err = c.Call(joinCtx(t), transport.Control{Body: make([]byte, 5<<20)})
	require.ErrorIs(t, err, transport.ErrFrameTooLarge, "and no larger, though nodes may (MaxRequest)")
	<-froms
	from := <-froms
	require.True(t, from.Client)
	require.Equal(t, "cli", from.Name)
	require.Empty(t, s.Members(), "a client is not a member")
	requireNoEvent(t, hs)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	_, err = c.Call(joinCtx(t), transport.Control{})
	require.ErrorIs(t, err, net.ErrClosed)
}

// TestHandshakeRelayedProofRejected is a man in the middle without the
// cookie: a genuine node dials it, and it relays the handshake bytes
// verbatim to the real server over a second connection. Transcripts match;
// only the TLS exporter values differ, and that is enough.
func TestHandshakeRelayedProofRejected(t *testing.T) {
	hs, hv := newHandler(), newHandler()
	s := startNode(t, testConfig("s"), hs)
	v := startNode(t, testConfig("v"), hv)
	mitm := rawListener(t)

	relayed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		in, err := mitm.Accept(ctx)
		if err != nil {
			relayed <- err
			return
		}
		defer in.CloseWithError(0, "")
		inStr, err := in.AcceptStream(ctx)
		if err != nil {
			relayed <- err
			return
		}
		out, err := qgo.DialAddr(ctx, s.Self().Addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{ALPN}}, nil)
		if err != nil {
			relayed <- err
			return
		}
		outStr, err := out.OpenStreamSync(ctx)
		if err != nil {
			relayed <- err
			return
		}
		go io.Copy(outStr, inStr)
		go io.Copy(inStr, outStr)
		select {
		case <-out.Context().Done():
		case <-ctx.Done():
		}
		relayed <- context.Cause(out.Context())
	}()

	err := v.Join(joinCtx(t), []string{mitm.Addr().String()})
	require.Error(t, err)
	var cause error
	select {
	case cause = <-relayed:
	case <-time.After(10 * time.Second):
		t.Fatal("relay did not finish")
	}
	code, remote, ok := appCode(cause)
	require.True(t, ok, "relay ended with %v", cause)
	require.True(t, remote)
	require.EqualValues(t, CodeHandshakeFailed, code, "the real server must reject the relayed proof")
	require.Empty(t, s.Members())
	requireNoEvent(t, hs)
}

// fakeServer answers one handshake on ln the way a cookie-less attacker
// would, with respond choosing the server proof from the client's proof.
func fakeServer(t *testing.T, ln *qgo.Listener, respond func(clientProof []byte) []byte) <-chan error {
	return impostor(ln, func(s seen) proof { return proof{MAC: respond(s.proof.MAC)} })
}

// seen is what an impostor server has in hand when it answers: the
// exporter value of its connection, the messages so far as sent, and the
// client's proof decoded.
type seen struct {
	ekm, clientHello, challenge, clientProof, serverHello []byte
	proof                                                 proof
}

// impostor answers one handshake on ln like a server without the cookie:
// a challenge, then a hello naming node "s" and the proof answer makes.
// The channel reports how the connection ended.
func impostor(ln *qgo.Listener, answer func(seen) proof) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := ln.Accept(ctx)
		if err != nil {
			done <- err
			return
		}
		defer conn.CloseWithError(0, "")
		str, err := conn.AcceptStream(ctx)
		if err != nil {
			done <- err
			return
		}
		var s seen
		if s.ekm, err = exporter(conn); err != nil {
			done <- err
			return
		}
		r := wire.NewReader(str, maxHandshakeFrame, 512)
		if s.clientHello, err = r.Next(); err != nil {
			done <- err
			return
		}
		s.challenge, _ = wire.Marshal(challenge{Version: protocolVersion, Nonce: newNonce()})
		str.Write(wire.AppendFrame(nil, s.challenge))
		if s.clientProof, err = r.Next(); err != nil {
			done <- err
			return
		}
		if s.proof, err = decodeProof(s.clientProof); err != nil {
			done <- err
			return
		}
		s.serverHello, _ = wire.Marshal(hello{Version: protocolVersion, Name: "s", Incarnation: 1, Addr: "127.0.0.1:1", MaxFrame: 1 << 20})
		body, _ := wire.Marshal(answer(s))
		str.Write(wire.AppendFrame(wire.AppendFrame(nil, s.serverHello), body))
		select {
		case <-conn.Context().Done():
		case <-ctx.Done():
		}
		done <- context.Cause(conn.Context())
	}()
	return done
}

// TestHandshakeReflectedProofRejected: an attacker posing as a server sends
// the client's own proof back as the server proof. The role labels differ,
// so the client refuses it.
func TestHandshakeReflectedProofRejected(t *testing.T) {
	hv := newHandler()
	v := startNode(t, testConfig("v"), hv)
	ln := rawListener(t)
	done := fakeServer(t, ln, func(clientProof []byte) []byte { return clientProof })
	err := v.Join(joinCtx(t), []string{ln.Addr().String()})
	require.ErrorIs(t, err, transport.ErrHandshake)
	select {
	case cause := <-done:
		code, remote, ok := appCode(cause)
		require.True(t, ok, "fake server ended with %v", cause)
		require.True(t, remote)
		require.EqualValues(t, CodeHandshakeFailed, code)
	case <-time.After(10 * time.Second):
		t.Fatal("fake server did not finish")
	}
	require.Empty(t, v.Members())
	requireNoEvent(t, hv)
}

// TestHandshakeReplayedProofRejected records a genuine client's hello and
// proof (as a relay would see them) and replays them on a new connection.
func TestHandshakeReplayedProofRejected(t *testing.T) {
	hs := newHandler()
	s := startNode(t, testConfig("s"), hs)

	// A genuine client hello and proof, made for some other connection.
	conn1 := rawDial(t, s.Self().Addr)
	ekm1, err := exporter(conn1)
	require.NoError(t, err)
	str1, err := conn1.OpenStreamSync(joinCtx(t))
	require.NoError(t, err)
	h1 := newHandshaker(testCookie, hello{Version: protocolVersion, Role: roleNode, Name: "v", Incarnation: 5, Addr: "127.0.0.1:9", MaxFrame: 1 << 20}, str1, ekm1)
	_, err = h1.client(nil)
	require.NoError(t, err, "the genuine handshake succeeds")
	rawActivate(t, str1, "v", "s")
	recordedHello, recordedProof := h1.clientHello, computeProof(testCookie, clientProofLabel, ekm1, h1.clientHello, h1.challenge)
	ev := hs.nextEvent(t, 5*time.Second)
	require.True(t, ev.up)

	// The replay: same hello bytes, same proof, another connection.
	conn2 := rawDial(t, s.Self().Addr)
	str2, err := conn2.OpenStreamSync(joinCtx(t))
	require.NoError(t, err)
	_, err = str2.Write(wire.AppendFrame(nil, recordedHello))
	require.NoError(t, err)
	r := wire.NewReader(str2, maxHandshakeFrame, 512)
	_, err = r.Next()
	require.NoError(t, err)
	pb, _ := wire.Marshal(proof{MAC: recordedProof})
	_, err = str2.Write(wire.AppendFrame(nil, pb))
	require.NoError(t, err)
	requireClosedWith(t, conn2, CodeHandshakeFailed)

	// And the server refuses a second attempt on a failed connection, or
	// any stream opened before the control stream: one attempt only.
	conn3 := rawDial(t, s.Self().Addr)
	str3, err := conn3.OpenStreamSync(joinCtx(t))
	require.NoError(t, err)
	_, err = str3.Write([]byte{0x01, 0xff}) // a frame that is not a hello
	require.NoError(t, err)
	requireClosedWith(t, conn3, CodeHandshakeFailed)
}

func TestProofLabelsAndBinding(t *testing.T) {
	ekm := bytes.Repeat([]byte{1}, 32)
	ch, sh := []byte("client hello"), []byte("server hello")
	c := computeProof(testCookie, clientProofLabel, ekm, ch, sh)
	require.Len(t, c, macLen)
	require.NotEqual(t, c, computeProof(testCookie, serverProofLabel, ekm, ch, sh))
	require.NotEqual(t, c, computeProof(testCookie, clientProofLabel, bytes.Repeat([]byte{2}, 32), ch, sh))
	require.NotEqual(t, c, computeProof(testCookie, clientProofLabel, ekm, sh, ch))
	// Length prefixes keep the boundary between transcript parts.
	require.NotEqual(t, c, computeProof(testCookie, clientProofLabel, ekm, []byte("client hellos"), []byte("erver hello")))
	require.NotEqual(t, c, computeProof([]byte("another cookie of 16+ bytes"), clientProofLabel, ekm, ch, sh))
}

func TestFailedHandshakesRateLimited(t *testing.T) {
	cfg := testConfig("s")
	cfg.FailedHandshakeBurst = 3
	cfg.FailedHandshakeRefill = time.Hour
	s := startNode(t, cfg, newHandler())
	bad := ClientConfig{Cookie: []byte("wrong cookie, sixteen bytes plus"), Timeout: 2 * time.Second}
	for i := 0; i < 3; i++ {
		_, err := Dial(joinCtx(t), s.Self().Addr, bad)
		require.ErrorIs(t, err, transport.ErrHandshake)
		require.Contains(t, err.Error(), "rejected our proof")
	}
	// The bucket of 127.0.0.1 is empty: even the right cookie is refused,
	// before TLS.
	_, err := Dial(joinCtx(t), s.Self().Addr, ClientConfig{Cookie: testCookie, Timeout: 2 * time.Second})
	require.ErrorIs(t, err, transport.ErrHandshake)
	require.Contains(t, err.Error(), "refused")
	var te *qgo.TransportError
	require.True(t, errors.As(err, &te), "refused at the QUIC level: %v", err)
	require.Equal(t, qgo.ConnectionRefused, te.ErrorCode)
}

func TestLimiterRefills(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(2, time.Second)
	l.now = func() time.Time { return now }
	require.True(t, l.allow("1.2.3.4"))
	l.fail("1.2.3.4")
	require.True(t, l.allow("1.2.3.4"))
	l.fail("1.2.3.4")
	require.False(t, l.allow("1.2.3.4"))
	require.True(t, l.allow("5.6.7.8"), "buckets are per address")
	now = now.Add(500 * time.Millisecond)
	require.False(t, l.allow("1.2.3.4"))
	now = now.Add(500 * time.Millisecond)
	require.True(t, l.allow("1.2.3.4"))
	l.fail("1.2.3.4")
	require.False(t, l.allow("1.2.3.4"))
	now = now.Add(time.Hour)
	require.True(t, l.allow("1.2.3.4"))
	l.fail("1.2.3.4")
	require.True(t, l.allow("1.2.3.4"), "refill is capped at the burst")

	for i := 0; i < maxBuckets+10; i++ {
		l.fail(net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).String())
	}
	require.LessOrEqual(t, len(l.m), maxBuckets)
}

// TestALPNMismatch: a peer speaking another protocol version (here the
// previous one, whose server revealed its name before the proof) fails in
// TLS with no_application_protocol, before any application code runs.
func TestALPNMismatch(t *testing.T) {
	hs := newHandler()
	s := startNode(t, testConfig("s"), hs)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := qgo.DialAddr(ctx, s.Self().Addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"wasmactor/1"}}, nil)
	var te *qgo.TransportError
	require.ErrorAs(t, err, &te)
	require.Equal(t, qgo.TransportErrorCode(0x100+120), te.ErrorCode, "CRYPTO_ERROR no_application_protocol")
	requireNoEvent(t, hs)
	// Not counted as a failed handshake: the right client still gets in.
	for i := 0; i < DefaultFailureBurst+2; i++ {
		qgo.DialAddr(ctx, s.Self().Addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"wasmactor/1"}}, nil)
	}
	c, err := Dial(ctx, s.Self().Addr, ClientConfig{Cookie: testCookie})
	require.NoError(t, err)
	c.Close()
}

// TestNoResumptionNo0RTT: TLS 1.3 only, no session tickets or cache, and
// quic-go's 0-RTT off, so no early data that could be replayed.
func TestNoResumptionNo0RTT(t *testing.T) {
	srv, cli, err := tlsConfigs(nil, "", "", "")
	require.NoError(t, err)
	for _, c := range []*tls.Config{srv, cli} {
		require.EqualValues(t, tls.VersionTLS13, c.MinVersion)
		require.True(t, c.SessionTicketsDisabled)
		require.Nil(t, c.ClientSessionCache)
		require.Equal(t, []string{ALPN}, c.NextProtos)
	}
	require.False(t, quicConfig(time.Second, time.Second, time.Second/4, 1).Allow0RTT)
}
