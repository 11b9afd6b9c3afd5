package host_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	// Aliased: process_test.go has a helper named client.
	wac "github.com/wasmactor/wasmactor/client"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/token"
	"github.com/wasmactor/wasmactor/transport"
)

// clientAs connects a client to node as if it had proved a token with
// grant's authority (the handshake itself is transport/quic's, tested
// there).
func (c *testCluster) clientAs(t *testing.T, node string, g token.Grant) *wac.Client {
	t.Helper()
	conn, err := c.net.DialAs(ctxT(t), node, g)
	require.NoError(t, err)
	cl := wac.New(conn)
	t.Cleanup(func() { cl.Close() })
	return cl
}

// requireAllowed checks that err is not a refusal; what the request does
// otherwise is tested elsewhere.
func requireAllowed(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		require.NotErrorIs(t, err, wasmactor.ErrPermission, what)
	}
}

func requireRefused(t *testing.T, err error, what string) {
	t.Helper()
	require.ErrorIs(t, err, wasmactor.ErrPermission, what)
	require.NotContains(t, err.Error(), "\n", what)
}

// TestClientRolesPerRequestKind: every request kind a client makes,
// against each role. Viewers list; operators also spawn, send, call and
// kill; only admins (and the cookie) deploy and join.
func TestClientRolesPerRequestKind(t *testing.T) {
	c := newEchoCluster(t, 2)
	n1 := c.nodes[0]
	echoWasm := fixture(t, "minimal_actor.wasm")
	type op struct {
		name string
		need token.Role
		do   func(ctx context.Context, cl *wac.Client) error
	}
	ops := []op{
		{"ps", token.Viewer, func(ctx context.Context, cl *wac.Client) error { _, err := cl.Ps(ctx); return err }},
		{"nodes", token.Viewer, func(ctx context.Context, cl *wac.Client) error { _, err := cl.Nodes(ctx); return err }},
		{"modules", token.Viewer, func(ctx context.Context, cl *wac.Client) error { _, err := cl.Modules(ctx); return err }},
		{"nodes --watch", token.Viewer, func(ctx context.Context, cl *wac.Client) error { _, err := cl.NodeEvents(ctx, 0, 0); return err }},
		{"groups", token.Viewer, func(ctx context.Context, cl *wac.Client) error { _, err := cl.Groups(ctx); return err }},
		{"send to a group", token.Operator, func(ctx context.Context, cl *wac.Client) error {
			_, err := cl.SendGroup(ctx, "nobody", "hi")
			return err
		}},
		{"spawn", token.Operator, func(ctx context.Context, cl *wac.Client) error {
			_, err := cl.Spawn(ctx, "Echo", wac.SpawnOptions{})
			return err
		}},
		{"send", token.Operator, func(ctx context.Context, cl *wac.Client) error {
			return cl.Send(ctx, c.echoNamed(t, 1, "victim-send").String(), "hi")
		}},
		{"call", token.Operator, func(ctx context.Context, cl *wac.Client) error {
			_, err := cl.Call(ctx, c.echoNamed(t, 1, "victim-call").String(), "hi")
			return err
		}},
		{"kill", token.Operator, func(ctx context.Context, cl *wac.Client) error {
			pid, err := n1.Spawn(ctx, "Echo", host.SpawnOptions{})
			require.NoError(t, err)
			return cl.Kill(ctx, pid.String(), "")
		}},
		{"deploy", token.Admin, func(ctx context.Context, cl *wac.Client) error { _, err := cl.Deploy(ctx, echoWasm); return err }},
		{"join", token.Admin, func(ctx context.Context, cl *wac.Client) error { return cl.Join(ctx, "n2") }},
	}
	for _, role := range []token.Role{0, token.Viewer, token.Operator, token.Admin} {
		cl := c.clientAs(t, "n1", token.Grant{Role: role})
		for _, o := range ops {
			what := o.name + " as " + role.String()
			err := o.do(ctxT(t), cl)
			if role >= o.need {
				requireAllowed(t, err, what)
				require.NoError(t, err, what)
			} else {
				requireRefused(t, err, what)
				require.Contains(t, err.Error(), "needs role "+o.need.String(), what)
			}
		}
		for _, name := range []string{"victim-send", "victim-call"} {
			if pid, err := n1.Whereis(ctxT(t), name); err == nil {
				require.NoError(t, n1.Stop(ctxT(t), pid))
				require.Eventually(t, func() bool { _, err := n1.Whereis(ctxT(t), name); return err != nil }, 10*time.Second, time.Millisecond)
			}
		}
	}
}

// TestMobilityRequestsNeedAdmin: upgrade (one actor or a factory's
// plan), migrate, drain and undeploy change what code runs and where, so
// a client needs the role deploy needs; a viewer or an operator is
// refused before anything is looked up. An admin's requests here name
// nothing that exists, so they fail, but not for want of a role.
func TestMobilityRequestsNeedAdmin(t *testing.T) {
	c := newEchoCluster(t, 2)
	ops := []struct {
		name string
		do   func(ctx context.Context, cl *wac.Client) error
	}{
		{"upgrade", func(ctx context.Context, cl *wac.Client) error { _, err := cl.Upgrade(ctx, "nobody", ""); return err }},
		{"upgrade --factory", func(ctx context.Context, cl *wac.Client) error { _, err := cl.UpgradePlan(ctx, "Echo", ""); return err }},
		{"migrate", func(ctx context.Context, cl *wac.Client) error { _, err := cl.Migrate(ctx, "nobody", "n2"); return err }},
		{"drain", func(ctx context.Context, cl *wac.Client) error { _, err := cl.Drain(ctx, "n9", false, 0); return err }},
		{"undeploy", func(ctx context.Context, cl *wac.Client) error {
			_, err := cl.Undeploy(ctx, "0123abcd", false)
			return err
		}},
	}
	for _, role := range []token.Role{token.Viewer, token.Operator, token.Admin} {
		cl := c.clientAs(t, "n1", token.Grant{Role: role})
		for _, o := range ops {
			what := o.name + " as " + role.String()
			err := o.do(ctxT(t), cl)
			if role == token.Admin {
				requireAllowed(t, err, what)
				continue
			}
			requireRefused(t, err, what)
			require.Contains(t, err.Error(), o.name+" needs role admin", what)
		}
	}
	require.Len(t, c.nodes[0].Modules(), 1, "nothing was undeployed")
}

// TestClientCannotMakeNodeRequests: requests nodes make of each other
// (spawn with a module hint, a factory lookup) and unknown kinds need
// admin from a client.
func TestClientCannotMakeNodeRequests(t *testing.T) {
	c := newEchoCluster(t, 1)
	conn, err := c.net.DialAs(ctxT(t), "n1", token.Grant{Role: token.Operator})
	require.NoError(t, err)
	defer conn.Close()
	for _, kind := range []uint16{proto.KindSpawn, proto.KindFactoryOf, proto.KindGroupChange, 999} {
		_, err := conn.Call(ctxT(t), transport.Control{Kind: kind, Body: proto.Marshal(proto.Empty{})})
		var re *transport.RemoteError
		require.ErrorAs(t, err, &re, "kind %d", kind)
		require.Equal(t, uint16(abi.Permission), re.Code, "kind %d: %v", kind, err)
	}
}

// TestTokenFactoryAndNameNarrowing: an operator token narrowed to
// factories and names spawns only those, named as allowed, and reaches
// only actors that hold an allowed name and are of an allowed factory,
// by name or by PID, on its node or another.
func TestTokenFactoryAndNameNarrowing(t *testing.T) {
	c := newEchoCluster(t, 2)
	ctx := ctxT(t)
	bank := c.clientAs(t, "n1", token.Grant{Role: token.Operator, Factories: [][]string{{"Echo"}}, Names: [][]string{{"bank/*"}}})

	// Spawn: the factory and the name must be allowed, and a name given.
	alice, err := bank.Spawn(ctx, "Echo", wac.SpawnOptions{Name: "bank/alice", Node: "n2"})
	require.NoError(t, err)
	c.waitName(t, "bank/alice", alice)
	_, err = bank.Spawn(ctx, "Echo", wac.SpawnOptions{})
	requireRefused(t, err, "unnamed spawn")
	require.Contains(t, err.Error(), "only named actors")
	_, err = bank.Spawn(ctx, "Echo", wac.SpawnOptions{Name: "shop/alice"})
	requireRefused(t, err, "spawn outside the names")
	_, err = bank.Spawn(ctx, "Echo", wac.SpawnOptions{Name: "bank/x/y"})
	requireRefused(t, err, "'*' does not cross '/'")

	// Targets in reach, by name and by PID, on n2 while the client is on n1.
	for _, target := range []string{"bank/alice", alice.String()} {
		require.NoError(t, bank.Send(ctx, target, "hi"), target)
		reply, err := bank.Call(ctx, target, "ping")
		require.NoError(t, err, target)
		var s string
		require.NoError(t, reply.Decode(&s))
		require.Equal(t, "ping", s)
	}
	// Out of reach: another name, and an unnamed actor, by name and PID.
	shop := c.echoNamed(t, 0, "shop/bob")
	unnamed, err := c.nodes[1].Spawn(ctx, "Echo", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	for _, target := range []string{"shop/bob", shop.String(), unnamed.String()} {
		requireRefused(t, bank.Send(ctx, target, "hi"), "send "+target)
		_, err := bank.Call(ctx, target, "hi")
		requireRefused(t, err, "call "+target)
		requireRefused(t, bank.Kill(ctx, target, ""), "kill "+target)
	}
	// An actor that also holds an allowed name is in reach by any of them.
	require.NoError(t, c.nodes[0].Register(ctx, "bank/bob", shop))
	c.waitName(t, "bank/bob", shop)
	require.NoError(t, bank.Send(ctx, "shop/bob", "hi"))

	// Factories: a token for other factories reaches no Echo actor, here
	// or on n2 (whose node is asked for the factory), and spawns none.
	other := c.clientAs(t, "n1", token.Grant{Role: token.Operator, Factories: [][]string{{"Ledger", "Acc*"}}})
	for _, target := range []string{"bank/alice", alice.String(), shop.String()} {
		err := other.Send(ctx, target, "hi")
		requireRefused(t, err, "send "+target)
		require.Contains(t, err.Error(), "a Echo actor")
	}
	_, err = other.Spawn(ctx, "Echo", wac.SpawnOptions{})
	requireRefused(t, err, "spawn of another factory")
	_, err = other.Spawn(ctx, "Echo@"+strings.Repeat("0", 8), wac.SpawnOptions{})
	requireRefused(t, err, "a pinned version is the same factory")
	echo := c.clientAs(t, "n1", token.Grant{Role: token.Operator, Factories: [][]string{{"Ech?"}}})
	require.NoError(t, echo.Send(ctx, unnamed.String(), "hi"), "no names caveat: unnamed actors are in reach")

	// A group may hold anything: a narrowed token does not send to one.
	_, err = bank.SendGroup(ctx, "bank", "hi")
	requireRefused(t, err, "send to a group")
	_, err = c.clientAs(t, "n1", token.Grant{Role: token.Operator}).SendGroup(ctx, "bank", "hi")
	require.NoError(t, err, "an unscoped operator may")

	// Kill in reach last.
	require.NoError(t, bank.Kill(ctx, "bank/alice", ""))
}

// TestExpiredGrantRefusedOnEveryRequest: a token that expires while its
// client is connected stops working at once.
func TestExpiredGrantRefusedOnEveryRequest(t *testing.T) {
	c := newEchoCluster(t, 1)
	cl := c.clientAs(t, "n1", token.Grant{Role: token.Admin, ID: "0123", Expires: time.Now().Add(-time.Second)})
	_, err := cl.Ps(ctxT(t))
	requireRefused(t, err, "ps")
	require.Contains(t, err.Error(), "token 0123 expired at")
	fresh := c.clientAs(t, "n1", token.Grant{Role: token.Viewer, Expires: time.Now().Add(time.Hour)})
	_, err = fresh.Ps(ctxT(t))
	require.NoError(t, err)
}
