package quic

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	qgo "github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/wire"
	"github.com/wasmactor/wasmactor/token"
	"github.com/wasmactor/wasmactor/transport"
)

func mintToken(t *testing.T, cookie []byte, cs ...token.Caveat) *token.Token {
	t.Helper()
	a, err := token.NewAuthority(cookie)
	require.NoError(t, err)
	tok, err := a.Mint(cs...)
	require.NoError(t, err)
	return tok
}

// recordingNode starts a node whose handler answers every call and
// reports who made it.
func recordingNode(t *testing.T, cfg Config) (*Transport, *testHandler, <-chan transport.PeerInfo) {
	h := newHandler()
	froms := make(chan transport.PeerInfo, 4)
	h.setCall(func(ctx context.Context, f transport.PeerInfo, req transport.Control) ([]byte, error) {
		froms <- f
		return []byte("ok"), nil
	})
	return startNode(t, cfg, h), h, froms
}

// TestTokenClientDial: a client proves a token instead of the cookie, and
// the handler learns its role and caveats; a cookie client is admin.
func TestTokenClientDial(t *testing.T) {
	s, hs, froms := recordingNode(t, testConfig("s"))
	tok := mintToken(t, testCookie, token.Caveat{Role: token.Operator}, token.Caveat{Factories: []string{"Account"}, Names: []string{"bank/*"}})
	c, err := Dial(joinCtx(t), s.Self().Addr, ClientConfig{Name: "ops", Token: tok.String()})
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, s.Self(), c.Peer())
	_, err = c.Call(joinCtx(t), transport.Control{Kind: 1})
	require.NoError(t, err)
	from := <-froms
	require.True(t, from.Client)
	require.Equal(t, "ops", from.Name)
	require.Equal(t, tok.Claims(), from.Grant)
	require.Equal(t, token.Operator, from.Grant.Role)

	cc, err := Dial(joinCtx(t), s.Self().Addr, ClientConfig{Cookie: testCookie})
	require.NoError(t, err)
	defer cc.Close()
	_, err = cc.Call(joinCtx(t), transport.Control{Kind: 1})
	require.NoError(t, err)
	require.Equal(t, token.AdminGrant(), (<-froms).Grant, "the cookie alone is admin")
	require.Empty(t, s.Members())
	requireNoEvent(t, hs)

	_, err = Dial(joinCtx(t), s.Self().Addr, ClientConfig{Cookie: testCookie, Token: tok.String()})
	require.ErrorIs(t, err, wasmactor.ErrBadArgument, "one credential")
	_, err = Dial(joinCtx(t), s.Self().Addr, ClientConfig{Token: "wat1.nonsense"})
	require.ErrorIs(t, err, token.ErrMalformed)
}

// TestTokenOfAnotherClusterRefused: a token minted from another cookie
// fails the handshake like a wrong cookie, and counts as a failed attempt.
func TestTokenOfAnotherClusterRefused(t *testing.T) {
	cfg := testConfig("s")
	cfg.FailedHandshakeBurst = 2
	cfg.FailedHandshakeRefill = time.Hour
	s, hs, _ := recordingNode(t, cfg)
	other := mintToken(t, []byte("another cookie, also 16+ bytes long"), token.Caveat{Role: token.Admin})
	for range 2 {
		_, err := Dial(joinCtx(t), s.Self().Addr, ClientConfig{Token: other.String(), Timeout: 2 * time.Second})
		require.ErrorIs(t, err, transport.ErrHandshake)
		require.Contains(t, err.Error(), "rejected token "+other.ID())
	}
	// The bucket is empty: refused before TLS, whatever the credential.
	_, err := Dial(joinCtx(t), s.Self().Addr, ClientConfig{Token: mintToken(t, testCookie, token.Caveat{Role: token.Viewer}).String(), Timeout: 2 * time.Second})
	var te *qgo.TransportError
	require.True(t, errors.As(err, &te), "refused at the QUIC level: %v", err)
	require.Equal(t, qgo.ConnectionRefused, te.ErrorCode)
	requireNoEvent(t, hs)
}

// TestExpiredTokenRefused: a client does not even dial with a token it can
// see has expired, and a node refuses one at the handshake.
func TestExpiredTokenRefused(t *testing.T) {
	s, _, _ := recordingNode(t, testConfig("s"))
	old := mintToken(t, testCookie, token.Caveat{Role: token.Viewer, Expires: time.Now().Add(-time.Minute)})
	_, err := Dial(joinCtx(t), s.Self().Addr, ClientConfig{Token: old.String()})
	require.ErrorIs(t, err, token.ErrExpired)
	require.ErrorIs(t, err, wasmactor.ErrPermission)

	conn := rawDial(t, s.Self().Addr)
	_, err = clientHandshakeWith(t, conn, old, roleClient)
	require.Error(t, err)
	requireClosedWith(t, conn, CodeHandshakeFailed)
}

// clientHandshakeWith runs a client handshake proving tok with the role
// given, as the real client would but without its local checks.
func clientHandshakeWith(t *testing.T, conn *qgo.Conn, tok *token.Token, role uint8) (*handshaker, error) {
	ekm, err := exporter(conn)
	require.NoError(t, err)
	str, err := conn.OpenStreamSync(joinCtx(t))
	require.NoError(t, err)
	str.SetDeadline(time.Now().Add(5 * time.Second))
	h := newHandshaker(nil, hello{Version: protocolVersion, Role: role, Name: "x", Incarnation: 7, MaxFrame: 1 << 20}, str, ekm)
	h.tok = tok
	_, err = h.client(nil)
	return h, err
}

// TestNodeCannotProveAToken: tokens are for clients; a node hello with a
// token proof is refused even though the proof is right.
func TestNodeCannotProveAToken(t *testing.T) {
	s, hs, _ := recordingNode(t, testConfig("s"))
	conn := rawDial(t, s.Self().Addr)
	_, err := clientHandshakeWith(t, conn, mintToken(t, testCookie, token.Caveat{Role: token.Admin}), roleNode)
	require.Error(t, err)
	requireClosedWith(t, conn, CodeHandshakeFailed)
	require.Empty(t, s.Members())
	requireNoEvent(t, hs)
}

// TestTokenProofReplayRejected: a recorded token proof (hello, token and
// MAC) replayed on a new connection fails: the MAC covers the exporter of
// the connection it was made for and the server's fresh nonce.
func TestTokenProofReplayRejected(t *testing.T) {
	s, _, _ := recordingNode(t, testConfig("s"))
	tok := mintToken(t, testCookie, token.Caveat{Role: token.Viewer})
	conn1 := rawDial(t, s.Self().Addr)
	h1, err := clientHandshakeWith(t, conn1, tok, roleClient)
	require.NoError(t, err, "the genuine handshake succeeds")

	conn2 := rawDial(t, s.Self().Addr)
	str2, err := conn2.OpenStreamSync(joinCtx(t))
	require.NoError(t, err)
	_, err = str2.Write(wire.AppendFrame(nil, h1.clientHello))
	require.NoError(t, err)
	_, err = wire.NewReader(str2, maxHandshakeFrame, 512).Next()
	require.NoError(t, err)
	_, err = str2.Write(wire.AppendFrame(nil, h1.clientProof))
	require.NoError(t, err)
	requireClosedWith(t, conn2, CodeHandshakeFailed)
}

// TestTokenSecretNeverSent: what a token client sends holds the token
// without its secret, and a server that does not hold the cookie (here:
// one that holds the very same token) cannot pass for a node: it can
// compute the token's MACs but not the cluster's signature.
func TestTokenSecretNeverSent(t *testing.T) {
	tok := mintToken(t, testCookie, token.Caveat{Role: token.Operator})
	full, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok.String(), token.Prefix))
	require.NoError(t, err)
	var parts map[int]any
	require.NoError(t, wire.Unmarshal(full, &parts))
	secret := parts[5].([]byte)
	require.Len(t, secret, 32)

	ln := rawListener(t)
	sent := make(chan []byte, 1)
	done := impostor(ln, func(s seen) proof {
		sent <- append(append([]byte{}, s.clientHello...), s.clientProof...)
		// The impostor holds the token: it can make every MAC a token
		// holder can, and uses the answer label.
		return proof{MAC: tok.Prove(transcript(tokenAnswerLabel, s.ekm, s.clientHello, s.challenge, s.clientProof, s.serverHello))}
	})
	_, err = Dial(joinCtx(t), ln.Addr().String(), ClientConfig{Token: tok.String(), Timeout: 3 * time.Second})
	require.ErrorIs(t, err, transport.ErrHandshake)
	require.Contains(t, err.Error(), "signature")
	got := <-sent
	require.False(t, bytes.Contains(got, secret), "the token's secret crossed the wire")
	require.True(t, bytes.Contains(got, tok.Wire()))
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("impostor did not finish")
	}
}

// TestTokenProofCodec: the proof decoder takes a MAC with an optional
// token, or a signature alone.
func TestTokenProofCodec(t *testing.T) {
	tok := mintToken(t, testCookie, token.Caveat{Role: token.Viewer})
	mac, sig := make([]byte, macLen), make([]byte, 64)
	for _, tc := range []struct {
		p  proof
		ok bool
	}{
		{proof{MAC: mac}, true},
		{proof{MAC: mac, Token: tok.Wire()}, true},
		{proof{Sig: sig}, true},
		{proof{Sig: sig, MAC: mac}, false},
		{proof{Sig: sig, Token: tok.Wire()}, false},
		{proof{Sig: sig[:63]}, false},
		{proof{Token: tok.Wire()}, false},
		{proof{MAC: mac, Token: make([]byte, token.MaxWireLen+1)}, false},
		{proof{}, false},
	} {
		b, err := wire.Marshal(tc.p)
		require.NoError(t, err)
		_, err = decodeProof(b)
		require.Equal(t, tc.ok, err == nil, "%+v: %v", tc.p, err)
	}
}
