package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/testca"
)

// TestTokensAndMutualTLSEndToEnd drives the real binary: a node with
// mutual TLS from the environment, reached only with a certificate of its
// CA, and clients with tokens of each kind, refused with exit code 7
// where the token does not reach.
func TestTokensAndMutualTLSEndToEnd(t *testing.T) {
	e := newE2E(t)
	cert, key, ca := testca.New(t).Files(t, "n1")
	e.env = append(e.env, envTLSCert+"="+cert, envTLSKey+"="+key, envTLSCA+"="+ca)
	n1 := e.startNode("n1")
	echo, err := filepath.Abs("../../testdata/minimal_actor.wasm")
	require.NoError(t, err)

	e.ok(n1, "deploy", echo)
	e.fails(n1, []string{envTLSCert + "=", envTLSKey + "=", envTLSCA + "="}, exitUnreachable, "node at "+n1.addr, "nodes")

	viewer := strings.TrimSpace(e.ok(nil, "token", "create", "--role", "viewer"))
	asViewer := []string{envToken + "=" + viewer}
	require.Equal(t, 0, e.cli(n1, asViewer, "ps").code)
	e.fails(n1, asViewer, exitPermission, "permission denied: deploy needs role admin; the token's role is viewer", "deploy", echo)
	e.fails(n1, asViewer, exitPermission, "spawn needs role operator", "spawn", "Echo")

	bank := strings.TrimSpace(e.ok(nil, "token", "create", "--role", "operator", "--factory", "Echo", "--name", "bank/*", "--ttl", "1h"))
	asBank := []string{envToken + "=" + bank}
	r := e.cli(n1, asBank, "spawn", "Echo", "--name", "bank/alice")
	require.Equal(t, 0, r.code, r.stderr)
	r = e.cli(n1, asBank, "call", "bank/alice", `"hi"`)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "\"hi\"\n", r.stdout)
	e.fails(n1, asBank, exitPermission, "the token allows names bank/*", "spawn", "Echo", "--name", "shop/bob")
	e.ok(n1, "spawn", "Echo", "--name", "shop/bob")
	e.fails(n1, asBank, exitPermission, "holds no name the token allows", "kill", "shop/bob")

	// Moving code is deploy's privilege: an operator may not.
	operator := strings.TrimSpace(e.ok(nil, "token", "create", "--role", "operator"))
	asOperator := []string{envToken + "=" + operator}
	for _, args := range [][]string{
		{"upgrade", "shop/bob"},
		{"upgrade", "--factory", "Echo"},
		{"migrate", "shop/bob", "--to", "n1"},
		{"drain", "n1"},
		{"undeploy", "Echo"},
	} {
		e.fails(n1, asOperator, exitPermission, "needs role admin; the token's role is operator", args...)
	}

	// A token minted from another cookie: the node refuses the handshake.
	other := filepath.Join(e.dir, "other-cookie")
	require.NoError(t, os.WriteFile(other, []byte(strings.Repeat("ab", 32)), 0o600))
	foreign := strings.TrimSpace(e.ok(nil, "--cookie-file", other, "token", "create", "--role", "admin"))
	e.fails(n1, []string{envToken + "=" + foreign}, exitUnreachable, "refused token", "ps")
}
