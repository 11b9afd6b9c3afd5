package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/transport"
)

// fakeNode stands in for a node: it records what the CLI dials and sends,
// and answers with handle.
type fakeNode struct {
	mu        sync.Mutex
	env       map[string]string
	home      string
	dialed    []string
	creds     []credentials
	cookieRd  []string
	dialErr   error
	cookieErr error
	reqs      []transport.Control
	handle    func(ctx context.Context, req transport.Control) ([]byte, error)
	closed    int
	// partialListing expects listings that lack some nodes: a line each.
	partialListing bool
}

func newFake(t *testing.T) *fakeNode {
	return &fakeNode{
		env:  map[string]string{"XDG_DATA_HOME": "/xdg"},
		home: "/home/u",
		handle: func(context.Context, transport.Control) ([]byte, error) {
			t.Errorf("unexpected request")
			return nil, errors.New("unexpected")
		},
	}
}

func (f *fakeNode) deps() deps {
	return deps{
		getenv: func(k string) string { return f.env[k] },
		home:   func() (string, error) { return f.home, nil },
		dial: func(ctx context.Context, addr string, cred credentials) (transport.Client, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.dialed = append(f.dialed, addr)
			f.creds = append(f.creds, cred)
			if f.dialErr != nil {
				return nil, f.dialErr
			}
			return fakeClient{f}, nil
		},
		readCookie: func(path string) ([]byte, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.cookieRd = append(f.cookieRd, path)
			if f.cookieErr != nil {
				return nil, f.cookieErr
			}
			return []byte("0123456789abcdef0123456789abcdef"), nil
		},
	}
}

type fakeClient struct{ f *fakeNode }

func (c fakeClient) Peer() transport.NodeInfo { return transport.NodeInfo{Name: "n1"} }
func (c fakeClient) Call(ctx context.Context, req transport.Control) ([]byte, error) {
	c.f.mu.Lock()
	c.f.reqs = append(c.f.reqs, req)
	h := c.f.handle
	c.f.mu.Unlock()
	return h(ctx, req)
}
func (c fakeClient) Close() error {
	c.f.mu.Lock()
	c.f.closed++
	c.f.mu.Unlock()
	return nil
}

type result struct {
	code           int
	stdout, stderr string
}

func (f *fakeNode) run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	// Generous: build compiles a guest, slow under the race detector.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code := runWith(ctx, args, &out, &errb, f.deps())
	r := result{code: code, stdout: out.String(), stderr: errb.String()}
	switch {
	case code == exitUnreachable && f.partialListing:
		// One line per node that did not answer, each by the contract.
		for _, l := range strings.SplitAfter(r.stderr, "\n") {
			if l != "" {
				requireOneLine(t, l)
			}
		}
	case code != 0:
		requireOneLine(t, r.stderr)
	}
	return r
}

// requireOneLine checks the CLI's error contract: exactly one line,
// "wasmactor: ...", with the prefix once.
func requireOneLine(t *testing.T, stderr string) {
	t.Helper()
	require.True(t, strings.HasSuffix(stderr, "\n"), "stderr %q", stderr)
	require.Equal(t, 1, strings.Count(stderr, "\n"), "stderr %q", stderr)
	require.True(t, strings.HasPrefix(stderr, "wasmactor: "), "stderr %q", stderr)
	require.NotContains(t, stderr, "wasmactor: wasmactor:")
	require.NotContains(t, stderr, ": wasmactor: ")
}

// reply answers every request of kind with v.
func reply(t *testing.T, kind uint16, v any) func(context.Context, transport.Control) ([]byte, error) {
	return func(_ context.Context, req transport.Control) ([]byte, error) {
		require.Equal(t, kind, req.Kind)
		return proto.Marshal(v), nil
	}
}

func TestCommonFlagPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name       string
		env        map[string]string
		args       []string
		wantAddr   string
		wantCookie string
	}{
		{"defaults", map[string]string{"XDG_DATA_HOME": "/xdg"}, nil, "127.0.0.1:7946", "/xdg/wasmactor/cookie"},
		{"no XDG_DATA_HOME", map[string]string{}, nil, "127.0.0.1:7946", "/home/u/.local/share/wasmactor/cookie"},
		{"relative XDG_DATA_HOME is ignored", map[string]string{"XDG_DATA_HOME": "rel"}, nil, "127.0.0.1:7946", "/home/u/.local/share/wasmactor/cookie"},
		{"env", map[string]string{envNode: "127.0.0.1:9000", envCookieFile: "/env/cookie", "XDG_DATA_HOME": "/xdg"}, nil, "127.0.0.1:9000", "/env/cookie"},
		{"flags beat env", map[string]string{envNode: "127.0.0.1:9000", envCookieFile: "/env/cookie"},
			[]string{"--node", "127.0.0.1:9100", "--cookie-file", "/flag/cookie"}, "127.0.0.1:9100", "/flag/cookie"},
		{"flag after the command", map[string]string{envNode: "127.0.0.1:9000"},
			[]string{"--node=127.0.0.1:9200"}, "127.0.0.1:9200", "/home/u/.local/share/wasmactor/cookie"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.env = tc.env
			f.handle = reply(t, proto.KindPs, proto.PsPage{})
			args := []string{"ps"}
			if tc.name == "flag after the command" {
				args = append(args, tc.args...)
			} else {
				args = append(tc.args, args...)
			}
			r := f.run(t, args...)
			require.Equal(t, 0, r.code, r.stderr)
			require.Equal(t, []string{tc.wantAddr}, f.dialed)
			require.Equal(t, []string{tc.wantCookie}, f.cookieRd)
			require.Equal(t, 1, f.closed, "the connection is closed at exit")
		})
	}
}

func TestConnectFailures(t *testing.T) {
	t.Run("no cookie file", func(t *testing.T) {
		f := newFake(t)
		f.cookieErr = fmt.Errorf("open: %w", fs.ErrNotExist)
		r := f.run(t, "ps")
		require.Equal(t, exitUnreachable, r.code)
		require.Equal(t, "wasmactor: no cookie file at /xdg/wasmactor/cookie: start a node first, or pass --cookie-file or set WASMACTOR_COOKIE_FILE\n", r.stderr)
		require.Empty(t, f.dialed)
	})
	t.Run("wrong cookie", func(t *testing.T) {
		f := newFake(t)
		f.dialErr = fmt.Errorf("%w: peer proof does not match", transport.ErrHandshake)
		r := f.run(t, "--node", "127.0.0.1:7000", "ps")
		require.Equal(t, exitUnreachable, r.code)
		require.Equal(t, "wasmactor: node at 127.0.0.1:7000 refused the handshake (wrong cookie? using /xdg/wasmactor/cookie): handshake failed: peer proof does not match\n", r.stderr)
	})
	t.Run("unreachable", func(t *testing.T) {
		f := newFake(t)
		f.dialErr = errors.New("timeout: no recent network activity")
		r := f.run(t, "--node", "127.0.0.1:7001", "nodes")
		require.Equal(t, exitUnreachable, r.code)
		require.Equal(t, "wasmactor: cannot reach node at 127.0.0.1:7001: timeout: no recent network activity\n", r.stderr)
	})
	t.Run("connection lost mid-request", func(t *testing.T) {
		f := newFake(t)
		f.handle = func(context.Context, transport.Control) ([]byte, error) {
			return nil, errors.New("connection closed\nby peer")
		}
		r := f.run(t, "modules")
		require.Equal(t, exitUnreachable, r.code)
		require.Equal(t, "wasmactor: modules: node at 127.0.0.1:7946: connection closed; by peer\n", r.stderr)
	})
	t.Run("malformed reply", func(t *testing.T) {
		f := newFake(t)
		f.handle = func(context.Context, transport.Control) ([]byte, error) { return []byte{0xff}, nil }
		r := f.run(t, "ps")
		require.Equal(t, exitFailure, r.code)
		require.Contains(t, r.stderr, "wasmactor: node at 127.0.0.1:7946 sent a malformed reply: ")
	})
}

var (
	pidA = wasmactor.PID{Node: "n1", Incarnation: 0xabc, Serial: 7}
	pidB = wasmactor.PID{Node: "n3", Incarnation: 0x1234567890abcdef, Serial: 12}
	hash = registry.HashOf([]byte("module"))
)

func TestPs(t *testing.T) {
	f := newFake(t)
	// Out of order on purpose: the CLI sorts.
	f.handle = reply(t, proto.KindPs, proto.PsPage{Actors: []proto.ActorInfo{
		{PID: pidB, Factory: "Counter", Module: hash.String(), Instance: 3, Names: []string{"counter", "c2"}},
		{PID: pidA, Factory: "Pinger", Module: hash.String(), Instance: 10, Refused: 1950},
	}})
	r := f.run(t, "ps")
	require.Equal(t, 0, r.code, r.stderr)
	short := hash.String()[:12]
	require.Equal(t, ""+
		"PID                       FACTORY  MODULE        INSTANCE  REFUSED  NAMES\n"+
		"<n1.0000000000000abc.7>   Pinger   "+short+"  10        1950     -\n"+
		"<n3.1234567890abcdef.12>  Counter  "+short+"  3         0        counter,c2\n", r.stdout)

	r = f.run(t, "ps", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	require.JSONEq(t, `{"actors": [
		{"pid":"<n1.0000000000000abc.7>","node":"n1","incarnation":"0000000000000abc","serial":7,"factory":"Pinger","module":"`+hash.String()+`","instance":10,"names":[],"names_total":0,"refused":1950},
		{"pid":"<n3.1234567890abcdef.12>","node":"n3","incarnation":"1234567890abcdef","serial":12,"factory":"Counter","module":"`+hash.String()+`","instance":3,"names":["counter","c2"],"names_total":2,"refused":0}
	], "errors": []}`, r.stdout)

	f.handle = reply(t, proto.KindPs, proto.PsPage{})
	r = f.run(t, "ps", "-o", "json")
	require.JSONEq(t, `{"actors": [], "errors": []}`, r.stdout, "an empty cluster is empty arrays, not null")
	r = f.run(t, "ps")
	require.Equal(t, "PID  FACTORY  MODULE  INSTANCE  REFUSED  NAMES\n", r.stdout)
}

// ps follows the node's pages to the end, and a listing that lacks some
// nodes prints what it has, names each missing node on stderr and exits 3.
func TestPsPagesAndNodesThatDidNotAnswer(t *testing.T) {
	many := make([]string, 32)
	for i := range many {
		many[i] = fmt.Sprintf("name-%02d", i)
	}
	pages := map[proto.PsCursor]proto.PsPage{
		{}: {Actors: []proto.ActorInfo{{PID: pidA, Factory: "Pinger", Module: hash.String(), Instance: 10, Names: many, NamesTotal: 10000}},
			Errors: []proto.NodeError{{Node: "n2", Code: uint16(abi.CodeOf(wasmactor.ErrTimeout)), Message: "wasmactor: timeout: context deadline exceeded"}},
			Next:   &proto.PsCursor{Node: "n1", Serial: 7}},
		{Node: "n1", Serial: 7}: {Actors: []proto.ActorInfo{{PID: pidB, Factory: "Counter", Module: hash.String(), Instance: 3}},
			Errors: []proto.NodeError{{Node: "n4", Message: "reply of 2000000 bytes exceeds the caller's frame cap of 1048576"}}},
	}
	f := newFake(t)
	f.partialListing = true
	var asked []proto.PsCursor
	f.handle = func(_ context.Context, req transport.Control) ([]byte, error) {
		require.Equal(t, proto.KindPs, req.Kind)
		var r proto.PsRequest
		require.NoError(t, proto.Unmarshal(req.Body, &r))
		asked = append(asked, r.After)
		return proto.Marshal(pages[r.After]), nil
	}
	r := f.run(t, "ps")
	require.Equal(t, exitUnreachable, r.code)
	require.Equal(t, []proto.PsCursor{{}, {Node: "n1", Serial: 7}}, asked)
	short := hash.String()[:12]
	require.Equal(t, ""+
		"PID                       FACTORY  MODULE        INSTANCE  REFUSED  NAMES\n"+
		"<n1.0000000000000abc.7>   Pinger   "+short+"  10        0        "+strings.Join(many, ",")+",... (10000 in all)\n"+
		"<n3.1234567890abcdef.12>  Counter  "+short+"  3         0        -\n", r.stdout)
	require.Equal(t, ""+
		"wasmactor: node n2 did not answer: timeout: context deadline exceeded\n"+
		"wasmactor: node n4 did not answer: reply of 2000000 bytes exceeds the caller's frame cap of 1048576\n", r.stderr)

	r = f.run(t, "ps", "-o", "json")
	require.Equal(t, exitUnreachable, r.code)
	var js psJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &js))
	require.Len(t, js.Actors, 2)
	require.Equal(t, 10000, js.Actors[0].NamesTotal)
	require.Equal(t, []nodeErrorJSON{
		{Node: "n2", Error: "timeout: context deadline exceeded"},
		{Node: "n4", Error: "reply of 2000000 bytes exceeds the caller's frame cap of 1048576"},
	}, js.Errors)
	require.Len(t, strings.Split(strings.TrimSpace(r.stderr), "\n"), 2, "the same lines on stderr")

	// A node whose pages do not advance is not followed forever.
	f.handle = reply(t, proto.KindPs, proto.PsPage{Next: &proto.PsCursor{}})
	r = f.run(t, "ps")
	require.Equal(t, exitFailure, r.code)
	require.Equal(t, "wasmactor: node at 127.0.0.1:7946 sent a malformed reply: the listing does not advance\n", r.stderr)
}

func TestNodes(t *testing.T) {
	f := newFake(t)
	f.handle = reply(t, proto.KindNodes, proto.NodesReply{Nodes: []proto.NodeStatus{
		{Name: "n2", Incarnation: 2, Addr: "127.0.0.1:7947", Actors: 0, Instances: 0, Modules: 1, Up: false},
		{Name: "n1", Incarnation: 1, Addr: "127.0.0.1:7946", Actors: 12, Instances: 2, Modules: 1, Up: true},
	}})
	r := f.run(t, "nodes")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, ""+
		"NAME  ADDR            INCARNATION       STATUS  ACTORS  INSTANCES  MODULES\n"+
		"n1    127.0.0.1:7946  0000000000000001  up      12      2          1\n"+
		"n2    127.0.0.1:7947  0000000000000002  down    0       0          1\n", r.stdout)
	r = f.run(t, "nodes", "--output=json")
	require.JSONEq(t, `{"nodes": [
		{"name":"n1","addr":"127.0.0.1:7946","incarnation":"0000000000000001","up":true,"actors":12,"instances":2,"modules":1},
		{"name":"n2","addr":"127.0.0.1:7947","incarnation":"0000000000000002","up":false,"actors":0,"instances":0,"modules":1}
	], "errors": []}`, r.stdout)

	f.handle = reply(t, proto.KindNodes, proto.NodesReply{
		Nodes:  []proto.NodeStatus{{Name: "n1", Incarnation: 1, Addr: "127.0.0.1:7946", Up: true}},
		Errors: []proto.NodeError{{Node: "n3", Message: "wasmactor: node down: n3"}},
	})
	r = f.run(t, "nodes")
	require.Equal(t, exitUnreachable, r.code)
	require.Contains(t, r.stdout, "n1    127.0.0.1:7946")
	require.Equal(t, "wasmactor: node n3 did not answer: node down: n3\n", r.stderr)
	r = f.run(t, "nodes", "-o", "json")
	require.Equal(t, exitUnreachable, r.code)
	require.Contains(t, r.stdout, `"errors": [
    {
      "node": "n3",
      "error": "node down: n3"
    }
  ]`)
}

func TestModules(t *testing.T) {
	f := newFake(t)
	old := registry.HashOf([]byte("old"))
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.handle = reply(t, proto.KindModules, []proto.ModuleStatus{
		{Info: registry.ModuleInfo{Hash: old, Size: 900, Factories: []string{"Counter"}, DeployedAt: at.Add(-time.Hour).UnixNano()}, Holders: []string{"n1"},
			Actors: map[string]int{"n1": 2, "n3": 1}},
		{Info: registry.ModuleInfo{Hash: hash, Size: 3 << 20, Factories: []string{"Counter", "Pinger"}, DeployedAt: at.UnixNano()}, Holders: []string{"n1", "n3"},
			Newest: []string{"Counter", "Pinger"}},
	})
	r := f.run(t, "modules", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	require.JSONEq(t, `[
		{"hash":"`+hash.String()+`","size":3145728,"factories":["Counter","Pinger"],"deployed_at":"2026-03-01T12:00:00Z","holders":["n1","n3"],
		 "newest":["Counter","Pinger"],"actors":{}},
		{"hash":"`+old.String()+`","size":900,"factories":["Counter"],"deployed_at":"2026-03-01T11:00:00Z","holders":["n1"],
		 "newest":[],"actors":{"n1":2,"n3":1}}
	]`, r.stdout)
	r = f.run(t, "modules")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3)
	require.Regexp(t, `^MODULE\s+SIZE\s+FACTORIES\s+HOLDERS\s+DEPLOYED\s+NEWEST\s+ACTORS$`, lines[0])
	require.Regexp(t, `^`+hash.String()[:12]+`\s+3\.0 MiB\s+Counter,Pinger\s+n1,n3\s+2026-03-01 \d\d:00:00\s+Counter,Pinger\s+0$`, lines[1])
	require.Regexp(t, `^`+old.String()[:12]+`\s+900 B\s+Counter\s+n1\s+.*\s+-\s+3$`, lines[2])
}

func TestDeploy(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.wasm")
	body := append(append([]byte{}, wasmMagic...), 1, 2, 3)
	require.NoError(t, os.WriteFile(good, body, 0o644))

	f := newFake(t)
	info := registry.ModuleInfo{Hash: registry.HashOf(body), Size: int64(len(body)), Factories: []string{"Counter"}, DeployedAt: 1}
	f.handle = chunkedDeploy(t, func(wasm []byte) ([]byte, error) {
		require.Equal(t, body, wasm, "the chunks are the module's bytes")
		return proto.Marshal(info), nil
	})
	r := f.run(t, "deploy", good)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, fmt.Sprintf("deployed %s (11 B)\nfactories: Counter\n", info.Hash), r.stdout)
	r = f.run(t, "deploy", good, "-o", "json")
	require.JSONEq(t, `{"hash":"`+info.Hash.String()+`","size":11,"factories":["Counter"],"deployed_at":"1970-01-01T00:00:00.000000001Z"}`, r.stdout)

	t.Run("node refuses", func(t *testing.T) {
		f := newFake(t)
		f.handle = func(context.Context, transport.Control) ([]byte, error) {
			return nil, &transport.RemoteError{Code: uint16(abi.BadModule), Message: "wasmactor: bad module: missing export wasmactor_deliver"}
		}
		r := f.run(t, "deploy", good)
		require.Equal(t, exitRejected, r.code)
		require.Equal(t, "wasmactor: deploy "+good+": bad module: missing export wasmactor_deliver\n", r.stderr)
	})
	t.Run("too large", func(t *testing.T) {
		f := newFake(t)
		f.handle = func(context.Context, transport.Control) ([]byte, error) {
			return nil, &transport.RemoteError{Code: 9, Message: "wasmactor: too large: module is 70000000 bytes, the cap is 67108864"}
		}
		r := f.run(t, "deploy", good)
		require.Equal(t, exitRejected, r.code)
		require.Contains(t, r.stderr, "too large: module is 70000000 bytes")
	})

	// Local checks: the node is never contacted.
	for _, tc := range []struct {
		name    string
		content []byte
		code    int
		msg     string
	}{
		{"missing", nil, exitUsage, "no such file or directory"},
		{"empty", []byte{}, exitRejected, "is not a WebAssembly module (it does not start with \\0asm)"},
		{"text", []byte("#!/bin/sh\necho hi\n"), exitRejected, "is not a WebAssembly module"},
		{"version 2", []byte{0, 'a', 's', 'm', 2, 0, 0, 0}, exitRejected, "is WebAssembly binary version 02000000, only version 1 is supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".wasm")
			if tc.content != nil {
				require.NoError(t, os.WriteFile(path, tc.content, 0o644))
			}
			f := newFake(t)
			r := f.run(t, "deploy", path)
			require.Equal(t, tc.code, r.code)
			require.Contains(t, r.stderr, tc.msg)
			require.Empty(t, f.dialed)
		})
	}
}

func TestSpawn(t *testing.T) {
	f := newFake(t)
	var got proto.Spawn
	f.handle = func(_ context.Context, req transport.Control) ([]byte, error) {
		require.Equal(t, proto.KindSpawnCLI, req.Kind)
		got = proto.Spawn{}
		require.NoError(t, proto.Unmarshal(req.Body, &got))
		return proto.Marshal(proto.SpawnReply{PID: pidB}), nil
	}
	r := f.run(t, "spawn", "Counter@ab12", "--on", "n3", "--name", "counter", "--args", `{"start": 10}`,
		"--isolated", "--restart", "permanent", "--max-restarts", "5", "--restart-period", "10s")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "<n3.1234567890abcdef.12>\n", r.stdout)
	require.Equal(t, proto.Spawn{
		Factory: "Counter@ab12", Args: []byte{0xa1, 0x65, 's', 't', 'a', 'r', 't', 0x0a}, Name: "counter", Isolated: true,
		Restart: wasmactor.Restart{Policy: wasmactor.Permanent, MaxRestarts: 5, Period: 10 * time.Second}, Node: "n3",
	}, got)

	r = f.run(t, "spawn", "Counter", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, proto.Spawn{Factory: "Counter"}, got, "no --args means no init argument, not null")
	require.JSONEq(t, `{"pid":"<n3.1234567890abcdef.12>","node":"n3","incarnation":"1234567890abcdef","serial":12,"factory":"Counter"}`, r.stdout)

	f.handle = func(context.Context, transport.Control) ([]byte, error) {
		return nil, &transport.RemoteError{Code: 3, Message: `wasmactor: unknown factory: "Nope"`}
	}
	r = f.run(t, "spawn", "Nope", "--on", "n2")
	require.Equal(t, exitNotFound, r.code)
	require.Equal(t, "wasmactor: spawn Nope on n2: unknown factory: \"Nope\"\n", r.stderr)

	f.handle = func(context.Context, transport.Control) ([]byte, error) {
		return nil, &transport.RemoteError{Code: uint16(abi.UnknownNode), Message: `wasmactor: unknown node: "n9"`}
	}
	r = f.run(t, "spawn", "Counter", "--on", "n9")
	require.Equal(t, exitNotFound, r.code, "an unknown node is not found")
}

func TestSendCallKill(t *testing.T) {
	f := newFake(t)
	var msg proto.Message
	f.handle = func(_ context.Context, req transport.Control) ([]byte, error) {
		msg = proto.Message{}
		switch req.Kind {
		case proto.KindSend:
			require.NoError(t, proto.Unmarshal(req.Body, &msg))
			return proto.Marshal(proto.Empty{}), nil
		case proto.KindCall:
			require.NoError(t, proto.Unmarshal(req.Body, &msg))
			return proto.Marshal(proto.CallReply{Payload: []byte{0xa1, 0x65, 'v', 'a', 'l', 'u', 'e', 0x18, 42}}), nil
		}
		return nil, errors.New("unexpected kind")
	}
	r := f.run(t, "send", "counter", `{"op":"inc","by":2}`)
	require.Equal(t, 0, r.code, r.stderr)
	require.Empty(t, r.stdout)
	want, err := JSONToCBOR("message", []byte(`{"op":"inc","by":2}`))
	require.NoError(t, err)
	require.Equal(t, proto.Message{Target: "counter", Payload: want}, msg)

	r = f.run(t, "call", pidB.String(), `{"op":"get"}`, "--timeout", "2s")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "{\"value\":42}\n", r.stdout)
	require.Equal(t, "<n3.1234567890abcdef.12>", msg.Target)
	require.Equal(t, int64(2000), msg.TimeoutMs)

	r = f.run(t, "call", "counter", `{"op":"get"}`, "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	require.JSONEq(t, `{"target":"counter","reply":{"value":42}}`, r.stdout)
	require.Equal(t, int64(5000), msg.TimeoutMs, "the default timeout is 5s")

	f.handle = func(_ context.Context, req transport.Control) ([]byte, error) {
		require.Equal(t, proto.KindKillActor, req.Kind)
		var tg proto.Target
		require.NoError(t, proto.Unmarshal(req.Body, &tg))
		require.Equal(t, proto.Target{Target: "<n1.0000000000000abc.7>", Reason: "maintenance"}, tg)
		return proto.Marshal(proto.Empty{}), nil
	}
	r = f.run(t, "kill", pidA.String(), "--reason", "maintenance")
	require.Equal(t, 0, r.code, r.stderr)
	require.Empty(t, r.stdout)
}

func TestCallTimeouts(t *testing.T) {
	t.Run("node reports the timeout", func(t *testing.T) {
		f := newFake(t)
		f.handle = func(context.Context, transport.Control) ([]byte, error) {
			return nil, &transport.RemoteError{Code: 8, Message: "wasmactor: timeout: no reply from <n3.1234567890abcdef.1>: context deadline exceeded"}
		}
		r := f.run(t, "call", "counter", `{}`, "--timeout", "1s")
		require.Equal(t, exitTimeout, r.code)
		require.Equal(t, "wasmactor: call counter: no reply within 1s\n", r.stderr)
	})
	t.Run("node does not answer at all", func(t *testing.T) {
		defer func(g time.Duration) { callGrace = g }(callGrace)
		callGrace = 10 * time.Millisecond
		f := newFake(t)
		f.handle = func(ctx context.Context, _ transport.Control) ([]byte, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		start := time.Now()
		r := f.run(t, "call", "counter", `{}`, "--timeout", "50ms")
		require.Equal(t, exitTimeout, r.code)
		require.Equal(t, "wasmactor: call counter: no reply within 50ms\n", r.stderr)
		require.Less(t, time.Since(start), 10*time.Second)
	})
}

// Each error code a node answers with (internal/abi) maps to a documented
// exit code.
func TestRemoteErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		code abi.Errno
		exit int
		msg  string
	}{
		{abi.NoProc, exitNotFound, "wasmactor: no such actor: <n3.1234567890abcdef.4>"},
		{abi.MailboxFull, exitRejected, "wasmactor: mailbox full: sending to <n3.1234567890abcdef.4>"},
		{abi.UnknownFactory, exitNotFound, `wasmactor: unknown factory: "X"`},
		{abi.BadArgument, exitRejected, "wasmactor: bad argument: malformed *proto.Message"},
		{abi.NameTaken, exitRejected, `wasmactor: name already registered: "c"`},
		{abi.NotFound, exitNotFound, `wasmactor: name not found: "nobody"`},
		{abi.NodeDown, exitUnreachable, "wasmactor: node down: <n3.1234567890abcdef.4> (node n3)"},
		{abi.Timeout, exitTimeout, "wasmactor: timeout: no reply"},
		{abi.TooLarge, exitRejected, "wasmactor: too large: message of 2000000 bytes"},
		{abi.Internal, exitFailure, "something broke\nbadly"},
		{abi.StaleIncarnation, exitNotFound, "wasmactor: pid belongs to a previous incarnation of its node: <n3.1234567890abcdef.4>"},
		{99, exitFailure, "from the future"},
		{abi.BadModule, exitRejected, "wasmactor: bad module: missing export"},
		{abi.UnknownNode, exitNotFound, `wasmactor: unknown node: "n9"`},
		{abi.AmbiguousFactory, exitUsage, "wasmactor: ambiguous factory version: C@ab"},
		{abi.Crashed, exitFailure, "wasmactor: actor crashed: trap"},
		{abi.ModuleUnavailable, exitNotFound, "wasmactor: module unavailable: 539f5fed5aaf"},
		{abi.Closed, exitUnreachable, "wasmactor: closed"},
		{abi.BadPID, exitUsage, `wasmactor: malformed pid: "<n3.4>" has no incarnation`},
		{abi.Permission, exitPermission, "wasmactor: permission denied: send needs role operator; the token's role is viewer"},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			f := newFake(t)
			f.handle = func(context.Context, transport.Control) ([]byte, error) {
				return nil, &transport.RemoteError{Code: uint16(tc.code), Message: tc.msg}
			}
			r := f.run(t, "send", "target", `null`)
			require.Equal(t, tc.exit, r.code, r.stderr)
			require.Equal(t, oneLine("send to target: "+tc.msg)+"\n", r.stderr)
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"frobnicate"}, `wasmactor: unknown command "frobnicate" for "wasmactor" (see 'wasmactor --help')`},
		{[]string{"ps", "--bogus"}, "wasmactor: unknown flag: --bogus (see 'wasmactor ps --help')"},
		{[]string{"ps", "extra"}, "wasmactor: ps takes no arguments, got 1 argument(s) (see 'wasmactor ps --help')"},
		{[]string{"ps", "-o", "yaml"}, `wasmactor: invalid argument "yaml" for "-o, --output" flag: output format must be text or json, not "yaml" (see 'wasmactor ps --help')`},
		{[]string{"call", "counter"}, "wasmactor: call takes TARGET and JSON, got 1 argument(s)"},
		{[]string{"call", "counter", `{"op": get}`}, "wasmactor: invalid JSON in message at line 1, column 8 (byte 7): invalid character 'g' looking for beginning of value"},
		{[]string{"send", "counter", `{"a":1,"a":2}`}, `wasmactor: invalid JSON in message at line 1, column 8 (byte 7): duplicate key "a"`},
		{[]string{"spawn", "Counter", "--args", `{start: 1}`}, "wasmactor: invalid JSON in --args at line 1, column 2 (byte 1)"},
		{[]string{"spawn", "Counter", "--restart", "always"}, `wasmactor: --restart must be permanent, transient or temporary, not "always"`},
		{[]string{"spawn", "Bad Name"}, `wasmactor: bad argument: factory name "Bad Name" has ' ' at byte 3`},
		{[]string{"send", "<n3>", "{}"}, `wasmactor: malformed pid: "<n3>" is not of the form <node.incarnation.serial>: copy the PID as printed`},
		// Issue 8: a serial alone could name an actor of a later run of n3.
		{[]string{"call", "<n3.12>", "{}"}, `wasmactor: malformed pid: "<n3.12>" has no incarnation: copy the PID as printed (<node.incarnation.serial>, as spawn and ps print it) or use a registered name`},
		{[]string{"kill", "<n3.3f9a.12>"}, `wasmactor: malformed pid: "<n3.3f9a.12>": the incarnation must be 16 lowercase hex digits, not "3f9a"`},
		{[]string{"kill", ""}, "wasmactor: empty target"},
		{[]string{"call", "c", "{}", "--timeout", "0s"}, "wasmactor: --timeout must be positive, not 0s"},
		{[]string{"--dial-timeout", "0s", "ps"}, "wasmactor: --dial-timeout must be positive"},
		{[]string{"build", "a", "b"}, "wasmactor: build takes at most one PKG_DIR, got 2 arguments"},
		{[]string{"build", "/does/not/exist"}, "wasmactor: build: /does/not/exist is not a directory holding a Go package"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			f := newFake(t)
			r := f.run(t, tc.args...)
			require.Equal(t, exitUsage, r.code, r.stderr)
			require.True(t, strings.HasPrefix(r.stderr, tc.msg), "stderr %q\nwant prefix %q", r.stderr, tc.msg)
			require.Empty(t, f.dialed, "usage errors never reach the node")
			require.Empty(t, r.stdout)
		})
	}
}

// Every command documents itself with an example, and help exits 0.
func TestHelp(t *testing.T) {
	f := newFake(t)
	root := (&app{deps: f.deps()}).rootCmd()
	var walk func(c *cobra.Command)
	seen := map[string]bool{}
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" || sub.Parent().Name() == "completion" {
				continue
			}
			seen[sub.Name()] = true
			require.NotEmpty(t, sub.Example, "command %s has no example", sub.Name())
			require.NotEmpty(t, sub.Short, "command %s has no summary", sub.Name())
			walk(sub)
		}
	}
	walk(root)
	for _, name := range []string{"node", "build", "deploy", "spawn", "send", "call", "ps", "nodes", "modules", "kill", "demo"} {
		require.True(t, seen[name], "command %s is missing", name)
	}

	r := f.run(t, "--help")
	require.Equal(t, 0, r.code)
	require.Contains(t, r.stdout, "Exit codes:")
	require.Contains(t, r.stdout, "WASMACTOR_COOKIE_FILE")
	r = f.run(t, "spawn", "--help")
	require.Equal(t, 0, r.code)
	require.Contains(t, r.stdout, "wasmactor spawn Counter --on n3")
	require.Contains(t, r.stdout, "--node string")
}

func TestOneLine(t *testing.T) {
	require.Equal(t, "wasmactor: a: b", oneLine("wasmactor: a: wasmactor: b"))
	require.Equal(t, "wasmactor: a; b", oneLine("wasmactor: wasmactor: a\n\n  b\n"))
	require.Equal(t, "wasmactor: failed", oneLine(" \n "))
}

// chunkedDeploy answers a deploy in chunks (open, chunks, commit) as a
// node would, checking the offsets and the hash, and answers the commit
// with commit of the module's bytes.
func chunkedDeploy(t *testing.T, commit func(wasm []byte) ([]byte, error)) func(context.Context, transport.Control) ([]byte, error) {
	var buf []byte
	return func(_ context.Context, req transport.Control) ([]byte, error) {
		switch req.Kind {
		case proto.KindDeployOpen:
			buf = nil
			return proto.Marshal(proto.DeployOpened{ID: 1, ChunkSize: proto.ChunkSize}), nil
		case proto.KindDeployChunk:
			var c proto.DeployChunk
			require.NoError(t, proto.Unmarshal(req.Body, &c))
			require.Equal(t, int64(len(buf)), c.Offset)
			buf = append(buf, c.Data...)
			return proto.Marshal(proto.Empty{}), nil
		case proto.KindDeployCommit:
			var c proto.DeployCommit
			require.NoError(t, proto.Unmarshal(req.Body, &c))
			require.Equal(t, registry.HashOf(buf), c.Hash)
			return commit(buf)
		}
		t.Errorf("a deploy sent request kind %d", req.Kind)
		return nil, errors.New("unexpected request")
	}
}
