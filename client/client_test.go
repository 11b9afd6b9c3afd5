package client_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/client"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
	"github.com/wasmactor/wasmactor/token"
	"github.com/wasmactor/wasmactor/transport"
)

// coldCompile bounds a node's compile in these tests: a cold compile of a
// Go guest under the race detector on a loaded 2-core machine can pass the
// default minute.
const coldCompile = 4 * time.Minute

func TestMain(m *testing.M) {
	guestbuildtest.ShareCompileCache()
	os.Exit(m.Run())
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// exampleNode starts a node on loopback that creates its cookie file, for
// Example; stop closes it and removes its data dir.
func exampleNode() (addr, cookieFile string, wasm []byte, stop func()) {
	dir, err := os.MkdirTemp("", "wasmactor-client-example")
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := host.Start(ctx, host.Config{Name: "n1", Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "n1"), Logger: quiet(), CompileTimeout: coldCompile})
	if err != nil {
		panic(err)
	}
	root, err := guestbuild.RepoRoot()
	if err != nil {
		panic(err)
	}
	if wasm, err = os.ReadFile(filepath.Join(root, "testdata", "minimal_actor.wasm")); err != nil {
		panic(err)
	}
	return n.Addr(), filepath.Join(dir, "n1", "cookie"), wasm, func() {
		_ = n.Close()
		_ = os.RemoveAll(dir)
	}
}

func ctxT(t *testing.T) context.Context {
	// Generous: a first compile of a Go guest under the race detector on a
	// loaded machine takes half a minute.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// twoNodes starts n1 and n2 over QUIC on loopback, joined, and returns
// them with their cookie.
func twoNodes(t *testing.T) (n1, n2 *host.Node, cookie []byte) {
	t.Helper()
	// Hex, as nodes write it: a raw random cookie that began or ended with a
	// white-space byte would not survive a cookie file (ReadCookieFile
	// trims it), and TestDialCookie failed about one run in twenty.
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	cookie = []byte(hex.EncodeToString(raw))
	start := func(name string, join ...string) *host.Node {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		n, err := host.Start(ctx, host.Config{Name: name, Listen: "127.0.0.1:0", Cookie: cookie, Join: join,
			DataDir: t.TempDir(), IdleTimeout: 2 * time.Second, Logger: quiet(), CompileTimeout: coldCompile})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, n.Close()) })
		return n
	}
	n1 = start("n1")
	n2 = start("n2", n1.Addr())
	for _, n := range []*host.Node{n1, n2} {
		require.Eventually(t, func() bool { return len(n.Members()) == 1 }, 10*time.Second, 10*time.Millisecond, n.Name())
	}
	return n1, n2, cookie
}

func dial(t *testing.T, addr string, cookie []byte) *client.Client {
	t.Helper()
	c, err := client.Dial(ctxT(t), addr, client.Options{Cookie: cookie})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

type counter struct {
	Value int64 `cbor:"value"`
}

// TestClientDoesWhatTheCLIDoes drives a two-node cluster through every
// request of the client, connected to n1, acting on n2.
func TestClientDoesWhatTheCLIDoes(t *testing.T) {
	n1, n2, cookie := twoNodes(t)
	ctx := ctxT(t)
	c := dial(t, n1.Addr(), cookie)
	require.Equal(t, "n1", c.Peer().Name)

	wasm := guestbuildtest.Build(t, "examples/counter")
	mod, err := c.Deploy(ctx, wasm)
	require.NoError(t, err)
	require.Equal(t, []string{"Counter"}, mod.Factories)
	require.Equal(t, int64(len(wasm)), mod.Size)

	pid, err := c.Spawn(ctx, "Counter", client.SpawnOptions{Node: "n2", Name: "counter", Args: map[string]int{"start": 40}})
	require.NoError(t, err)
	require.Equal(t, "n2", pid.Node)
	require.Equal(t, n2.Incarnation(), pid.Incarnation)

	// By name and by PID text; the name is n2's and reaches n1 by a cast.
	require.Eventually(t, func() bool { return c.Send(ctx, "counter", map[string]any{"op": "inc", "by": 1}) == nil },
		10*time.Second, 10*time.Millisecond)
	require.NoError(t, c.Send(ctx, pid.String(), map[string]any{"op": "inc", "by": 1}))
	reply, err := c.Call(ctx, "counter", map[string]any{"op": "get"})
	require.NoError(t, err)
	var v counter
	require.NoError(t, reply.Decode(&v))
	require.Equal(t, int64(42), v.Value)
	// A CBOR value passes as is.
	reply, err = c.CallTimeout(ctx, pid.String(), client.CBOR{0xa1, 0x62, 'o', 'p', 0x63, 'g', 'e', 't'}, time.Second)
	require.NoError(t, err)
	require.NoError(t, reply.Decode(&v))
	require.Equal(t, int64(42), v.Value)

	ps, err := c.Ps(ctx)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	require.Equal(t, client.ActorInfo{PID: pid, Factory: "Counter", Module: mod.Hash.String(), Instance: ps[0].Instance, Names: []string{"counter"}, NamesTotal: 1}, ps[0])

	nodes, err := c.Nodes(ctx)
	require.NoError(t, err)
	require.Len(t, nodes, 2)
	require.Equal(t, "n1", nodes[0].Name)
	require.Equal(t, n1.Incarnation(), nodes[0].Incarnation)
	require.Equal(t, "n2", nodes[1].Name)
	require.True(t, nodes[1].Up)
	require.Equal(t, 1, nodes[1].Actors)
	require.Equal(t, uint64(1), nodes[1].Pulls, "n2 pulled the module to spawn")

	mods, err := c.Modules(ctx)
	require.NoError(t, err)
	require.Len(t, mods, 1)
	require.Equal(t, mod.Hash, mods[0].Hash)
	require.Equal(t, []string{"n1", "n2"}, mods[0].Holders)

	mon, err := n1.Monitor(ctx, pid)
	require.NoError(t, err)
	require.NoError(t, c.Kill(ctx, "counter", "maintenance"))
	select {
	case d := <-mon.C:
		require.Equal(t, "maintenance", d.Reason)
	case <-time.After(10 * time.Second):
		t.Fatal("the killed actor's monitor did not fire")
	}
	_, err = c.Call(ctx, pid.String(), map[string]any{"op": "get"})
	require.ErrorIs(t, err, wasmactor.ErrNoProc)
}

// TestClientErrorsMatchSentinels: the node's errors keep its text, match
// the wasmactor sentinels and carry their code.
func TestClientErrorsMatchSentinels(t *testing.T) {
	n1, _, cookie := twoNodes(t)
	ctx := ctxT(t)
	c := dial(t, n1.Addr(), cookie)

	_, err := c.Spawn(ctx, "Nope", client.SpawnOptions{})
	require.ErrorIs(t, err, wasmactor.ErrUnknownFactory)
	var re *transport.RemoteError
	require.ErrorAs(t, err, &re)
	require.NotZero(t, re.Code)
	require.Equal(t, re.Message, err.Error())

	err = c.Send(ctx, "nobody", "x")
	require.ErrorIs(t, err, wasmactor.ErrNotFound)
	_, err = c.Deploy(ctx, []byte("\x00asm\x01\x00\x00\x00garbage"))
	require.ErrorIs(t, err, wasmactor.ErrBadModule)
	_, err = c.Spawn(ctx, "Echo", client.SpawnOptions{Node: "n9"})
	require.ErrorIs(t, err, wasmactor.ErrUnknownNode)

	// Checked before anything is sent.
	require.ErrorIs(t, c.Send(ctx, "<n1.x>", "x"), wasmactor.ErrBadPID)
	require.ErrorIs(t, c.Kill(ctx, "", ""), wasmactor.ErrBadArgument)
	require.ErrorIs(t, c.Send(ctx, "x", make(chan int)), wasmactor.ErrBadArgument)

	// A call whose ctx ends before any answer is a timeout too.
	short, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-short.Done()
	_, err = c.Call(short, "nobody", "x")
	require.ErrorIs(t, err, wasmactor.ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close twice")
	_, err = c.Ps(ctx)
	require.Error(t, err, "a closed client fails its requests")
}

func TestDialCookie(t *testing.T) {
	n1, _, cookie := twoNodes(t)
	ctx := ctxT(t)

	t.Run("wrong cookie", func(t *testing.T) {
		_, err := client.Dial(ctx, n1.Addr(), client.Options{Cookie: []byte(strings.Repeat("w", 32))})
		require.ErrorIs(t, err, transport.ErrHandshake)
	})
	t.Run("cookie file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "cookie")
		require.NoError(t, os.WriteFile(f, cookie, 0o600))
		c, err := client.Dial(ctx, n1.Addr(), client.Options{CookieFile: f})
		require.NoError(t, err)
		_, err = c.Nodes(ctx)
		require.NoError(t, err)
		require.NoError(t, c.Close())
	})
	t.Run("no cookie file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "cookie")
		_, err := client.Dial(ctx, n1.Addr(), client.Options{CookieFile: f})
		require.ErrorIs(t, err, os.ErrNotExist)
		_, err = os.Stat(f)
		require.ErrorIs(t, err, os.ErrNotExist, "a client never creates a cookie")
	})
	t.Run("cookie file readable by others", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "cookie")
		require.NoError(t, os.WriteFile(f, cookie, 0o644))
		_, err := client.Dial(ctx, n1.Addr(), client.Options{CookieFile: f})
		require.ErrorIs(t, err, wasmactor.ErrBadArgument)
	})
	t.Run("default cookie file", func(t *testing.T) {
		t.Setenv(client.EnvCookieFile, "")
		t.Setenv("XDG_DATA_HOME", "/xdg")
		f, err := client.DefaultCookieFile()
		require.NoError(t, err)
		require.Equal(t, "/xdg/wasmactor/cookie", f)
		t.Setenv(client.EnvCookieFile, "/etc/cookie")
		f, err = client.DefaultCookieFile()
		require.NoError(t, err)
		require.Equal(t, "/etc/cookie", f)
	})
}

// TestDialToken: a client proves a token instead of the cookie, from
// Options.Token or $WASMACTOR_TOKEN, and may do what its role allows.
func TestDialToken(t *testing.T) {
	n1, _, cookie := twoNodes(t)
	ctx := ctxT(t)
	auth, err := token.NewAuthority(cookie)
	require.NoError(t, err)
	viewer, err := auth.Mint(token.Caveat{Role: token.Viewer})
	require.NoError(t, err)

	c, err := client.Dial(ctx, n1.Addr(), client.Options{Token: viewer.String()})
	require.NoError(t, err)
	defer c.Close()
	nodes, err := c.Nodes(ctx)
	require.NoError(t, err)
	require.Len(t, nodes, 2)
	_, err = c.Deploy(ctx, []byte("\x00asm\x01\x00\x00\x00"))
	require.ErrorIs(t, err, wasmactor.ErrPermission)
	require.Equal(t, "wasmactor: permission denied: deploy needs role admin; the token's role is viewer", err.Error())

	t.Setenv(client.EnvToken, viewer.String())
	t.Setenv(client.EnvCookieFile, filepath.Join(t.TempDir(), "none"))
	c2, err := client.Dial(ctx, n1.Addr(), client.Options{})
	require.NoError(t, err, "the token of the environment, and no cookie file needed")
	_, err = c2.Spawn(ctx, "Echo", client.SpawnOptions{})
	require.ErrorIs(t, err, wasmactor.ErrPermission)
	require.NoError(t, c2.Close())

	_, err = client.Dial(ctx, n1.Addr(), client.Options{Token: viewer.String(), Cookie: cookie})
	require.ErrorIs(t, err, wasmactor.ErrBadArgument)
	other, err := token.NewAuthority([]byte(strings.Repeat("o", 32)))
	require.NoError(t, err)
	foreign, err := other.Mint(token.Caveat{Role: token.Admin})
	require.NoError(t, err)
	_, err = client.Dial(ctx, n1.Addr(), client.Options{Token: foreign.String()})
	require.ErrorIs(t, err, transport.ErrHandshake)
}

// TestClientDoesNotLinkWazero keeps the client light: a program that only
// talks to a cluster must not carry the WebAssembly runtime.
func TestClientDoesNotLinkWazero(t *testing.T) {
	root, err := guestbuild.RepoRoot()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-f", "{{.ImportPath}}", "./client")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/wasmactor/wasmactor/client")
	for _, d := range deps {
		if strings.Contains(d, "tetratelabs/wazero") || d == "github.com/wasmactor/wasmactor/internal/engine" || d == "github.com/wasmactor/wasmactor/host" {
			t.Errorf("package client depends on %s", d)
		}
	}
}
