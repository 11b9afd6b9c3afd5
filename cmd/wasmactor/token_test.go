package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/internal/testca"
	"github.com/wasmactor/wasmactor/token"
	"github.com/wasmactor/wasmactor/transport"
)

// fakeCookie is what newFake's readCookie returns.
var fakeCookie = []byte("0123456789abcdef0123456789abcdef")

func fakeAuthority(t *testing.T) *token.Authority {
	a, err := token.NewAuthority(fakeCookie)
	require.NoError(t, err)
	return a
}

// TestTokenCreateNarrowInspect: create mints from the cookie file what the
// flags say, narrow adds a caveat without the cookie, inspect prints the
// claims, and a node (holding the cookie) accepts what they make.
func TestTokenCreateNarrowInspect(t *testing.T) {
	f := newFake(t)
	r := f.run(t, "token", "create", "--role", "operator", "--factory", "Account", "--name", "bank/*", "--ttl", "24h")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, []string{"/xdg/wasmactor/cookie"}, f.cookieRd)
	require.Empty(t, f.dialed, "minting talks to no node")
	text := strings.TrimSpace(r.stdout)
	require.Equal(t, 1, strings.Count(r.stdout, "\n"))
	tok, err := token.Parse(text)
	require.NoError(t, err)
	g, err := fakeAuthority(t).Verify(tok, time.Now())
	require.NoError(t, err)
	require.Equal(t, token.Operator, g.Role)
	require.Equal(t, [][]string{{"Account"}}, g.Factories)
	require.Equal(t, [][]string{{"bank/*"}}, g.Names)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), g.Expires, time.Minute)

	f.env[envToken] = text
	r = f.run(t, "token", "narrow", "--name", "bank/alice", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var j tokenJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j))
	require.Equal(t, tok.ID(), j.ID)
	require.Equal(t, [][]string{{"bank/*"}, {"bank/alice"}}, j.Names)
	narrow, err := token.Parse(j.Token)
	require.NoError(t, err)
	g, err = fakeAuthority(t).Verify(narrow, time.Now())
	require.NoError(t, err)
	require.False(t, g.AllowsName("bank/bob"))

	f.env[envToken] = j.Token
	r = f.run(t, "token", "inspect")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "role       operator")
	require.Contains(t, r.stdout, "names      bank/alice")
	require.NotContains(t, r.stdout, j.Token, "inspect never prints the secret")
	require.Len(t, f.cookieRd, 1, "narrow and inspect need no cookie")

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"token", "create"}, exitUsage, "needs --role"},
		{[]string{"token", "create", "--role", "root"}, exitUsage, "--role must be viewer, operator or admin"},
		{[]string{"token", "create", "--role", "viewer", "--ttl", "-1h"}, exitUsage, "--ttl must not be negative"},
		{[]string{"token", "create", "--role", "viewer", "--name", "bank/["}, exitUsage, "syntax error in pattern"},
		{[]string{"token", "narrow"}, exitUsage, "needs --role, --factory, --name or --ttl"},
		{[]string{"--token", "wat1.garbage", "token", "inspect"}, exitUsage, "--token (or $WASMACTOR_TOKEN) is not a token"},
	} {
		r := f.run(t, tc.args...)
		require.Equal(t, tc.code, r.code, "%v: %s", tc.args, r.stderr)
		require.Contains(t, r.stderr, tc.msg, tc.args)
	}
	delete(f.env, envToken)
	r = f.run(t, "token", "inspect")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "token inspect needs a token")
}

// TestTokenIsProvedInsteadOfTheCookie: with --token or $WASMACTOR_TOKEN
// the CLI proves the token and never reads the cookie file; a bad token is
// a usage error that does not echo it, an expired one a permission error
// before any dial, and a refused one names the token's id.
func TestTokenIsProvedInsteadOfTheCookie(t *testing.T) {
	tok, err := fakeAuthority(t).Mint(token.Caveat{Role: token.Viewer})
	require.NoError(t, err)
	f := newFake(t)
	f.handle = reply(t, proto.KindNodes, proto.NodesReply{})
	for _, args := range [][]string{{"--token", tok.String(), "nodes"}, {"nodes"}} {
		f.env[envToken] = tok.String()
		r := f.run(t, args...)
		require.Equal(t, 0, r.code, r.stderr)
	}
	require.Empty(t, f.cookieRd)
	require.Len(t, f.creds, 2)
	for _, c := range f.creds {
		require.Equal(t, tok.String(), c.token)
		require.Nil(t, c.cookie)
	}

	// An explicit cookie file wins over the environment's token; both
	// flags at once are a usage error.
	r := f.run(t, "--cookie-file", "/etc/cookie", "nodes")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, []string{"/etc/cookie"}, f.cookieRd)
	require.Equal(t, credentials{cookie: fakeCookie}, f.creds[2])
	r = f.run(t, "--cookie-file", "/etc/cookie", "--token", tok.String(), "nodes")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "give --token or --cookie-file, not both")

	f.env[envToken] = tok.String() + "x"
	r = f.run(t, "ps")
	require.Equal(t, exitUsage, r.code)
	require.NotContains(t, r.stderr, tok.String()[10:], "a token is a secret")

	old, err := fakeAuthority(t).Mint(token.Caveat{Role: token.Viewer, Expires: time.Now().Add(-time.Minute)})
	require.NoError(t, err)
	f.env[envToken] = old.String()
	r = f.run(t, "ps")
	require.Equal(t, exitPermission, r.code, r.stderr)
	require.Contains(t, r.stderr, "wasmactor: token "+old.ID()+" expired at ")
	require.Len(t, f.dialed, 3, "an expired token is not sent")

	f.env[envToken] = tok.String()
	f.dialErr = errors.Join(transport.ErrHandshake, errors.New("127.0.0.1:7946 rejected token"))
	r = f.run(t, "ps")
	require.Equal(t, exitUnreachable, r.code)
	require.Contains(t, r.stderr, "refused token "+tok.ID())
}

// TestPermissionExitCode: a request the token does not allow is one line
// and exit code 7.
func TestPermissionExitCode(t *testing.T) {
	f := newFake(t)
	f.handle = func(context.Context, transport.Control) ([]byte, error) {
		return nil, &transport.RemoteError{Code: uint16(abi.Permission), Message: "wasmactor: permission denied: deploy needs role admin; the token's role is viewer"}
	}
	wasm := filepath.Join(t.TempDir(), "m.wasm")
	require.NoError(t, os.WriteFile(wasm, wasmMagic, 0o600))
	r := f.run(t, "deploy", wasm)
	require.Equal(t, exitPermission, r.code)
	require.Equal(t, "wasmactor: deploy "+wasm+": permission denied: deploy needs role admin; the token's role is viewer\n", r.stderr)
}

// TestTLSFlags: the certificate files reach the dial, from flags or the
// environment, and go together.
func TestTLSFlags(t *testing.T) {
	f := newFake(t)
	f.handle = reply(t, proto.KindNodes, proto.NodesReply{})
	cert, key, ca := testca.New(t).Files(t, "cli")
	r := f.run(t, "--tls-cert", cert, "--tls-key", key, "--tls-ca", ca, "nodes")
	require.Equal(t, 0, r.code, r.stderr)
	f.env[envTLSCert], f.env[envTLSKey], f.env[envTLSCA] = cert, key, ca
	r = f.run(t, "nodes")
	require.Equal(t, 0, r.code, r.stderr)
	for _, c := range f.creds {
		require.Equal(t, credentials{cookie: fakeCookie, certFile: cert, keyFile: key, caFile: ca}, c)
	}
	r = f.run(t, "--tls-ca", "", "nodes")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "--tls-cert, --tls-key and --tls-ca go together")
}
