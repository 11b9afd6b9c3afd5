package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The end-to-end test drives the real binary the way a user does: three
// `wasmactor node` processes on loopback, then build, deploy, spawn, call,
// the listings, kill, and every error case with its exit code and message.
type e2e struct {
	t      *testing.T
	dir    string
	bin    string
	env    []string
	cookie string
}

func newE2E(t *testing.T) *e2e {
	if testing.Short() {
		t.Skip("builds the binary and starts node processes; skipped with -short")
	}
	needGo(t)
	dir := t.TempDir()
	e := &e2e{t: t, dir: dir, bin: filepath.Join(dir, "wasmactor"), cookie: filepath.Join(dir, "cookie")}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", e.bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	// A private data dir: the test never touches the user's cookie or node
	// data. HOME stays, so the go build and guest caches stay warm.
	e.env = append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(dir, "xdg"),
		envCookieFile+"="+e.cookie,
		envNode+"=",
	)
	return e
}

// freeAddr returns a loopback UDP address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := c.LocalAddr().String()
	require.NoError(t, c.Close())
	return addr
}

type nodeProc struct {
	name  string
	addr  string
	cmd   *exec.Cmd
	log   *syncBuffer
	done  chan struct{}
	err   error
	ready readyJSON
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startNode starts `wasmactor node` and waits for its ready line. The
// process is stopped at the end of the test whatever happens.
func (e *e2e) startNode(name string, join ...string) *nodeProc {
	t := e.t
	t.Helper()
	n := &nodeProc{name: name, addr: freeAddr(t), log: &syncBuffer{}, done: make(chan struct{})}
	args := []string{"node", "--name", name, "--listen", n.addr, "--data", filepath.Join(e.dir, "data", name), "-o", "json", "--log-level", "debug",
		// a cold compile of a Go guest on a loaded 2-core machine can pass the default minute
		"--compile-timeout", "4m"}
	if len(join) > 0 {
		args = append(args, "--join", strings.Join(join, ","))
	}
	n.cmd = exec.Command(e.bin, args...)
	n.cmd.Env = e.env
	n.cmd.Stderr = n.log
	stdout, err := n.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, n.cmd.Start())
	t.Cleanup(func() {
		n.stop(10 * time.Second)
		if t.Failed() {
			t.Logf("log of node %s:\n%s", name, n.log.String())
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() {
			n.log.Write([]byte("stdout: " + sc.Text() + "\n"))
		}
	}()
	go func() {
		n.err = n.cmd.Wait()
		close(n.done)
	}()
	select {
	case line, ok := <-lines:
		require.True(t, ok, "node %s exited before it was ready: %s", name, n.log.String())
		require.NoError(t, json.Unmarshal([]byte(line), &n.ready), "ready line %q", line)
		require.Equal(t, name, n.ready.Name)
		require.Equal(t, n.addr, n.ready.Addr)
		require.Len(t, n.ready.Incarnation, 16)
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s not ready after 30s: %s", name, n.log.String())
	}
	return n
}

// stop sends SIGTERM, and SIGKILL if the node has not exited within grace.
func (n *nodeProc) stop(grace time.Duration) {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(grace):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

// cli runs the binary against node (its address) and returns what a user
// sees.
func (e *e2e) cli(node *nodeProc, extraEnv []string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 90*time.Second)
	defer cancel()
	if node != nil {
		args = append([]string{"--node", node.addr}, args...)
	}
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = append(append([]string{}, e.env...), extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		e.t.Fatalf("wasmactor %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// ok runs a command that must succeed.
func (e *e2e) ok(node *nodeProc, args ...string) string {
	e.t.Helper()
	r := e.cli(node, nil, args...)
	require.Equal(e.t, 0, r.code, "wasmactor %s: %s", strings.Join(args, " "), r.stderr)
	return r.stdout
}

// fails runs a command that must fail with code and a one-line message
// containing want.
func (e *e2e) fails(node *nodeProc, extraEnv []string, code int, want string, args ...string) {
	e.t.Helper()
	r := e.cli(node, extraEnv, args...)
	require.Equal(e.t, code, r.code, "wasmactor %s: stdout %q stderr %q", strings.Join(args, " "), r.stdout, r.stderr)
	requireOneLine(e.t, r.stderr)
	require.Contains(e.t, r.stderr, want)
}

// eventually retries a command until it succeeds: names and modules
// replicate asynchronously.
func (e *e2e) eventually(node *nodeProc, limit time.Duration, args ...string) string {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		r := e.cli(node, nil, args...)
		if r.code == 0 {
			return r.stdout
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("wasmactor %s still failing after %s: exit %d: %s", strings.Join(args, " "), limit, r.code, r.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestEndToEnd(t *testing.T) {
	e := newE2E(t)

	// Build two example guests, as a user would.
	counterWasm := filepath.Join(e.dir, "counter.wasm")
	var built buildJSON
	require.NoError(t, json.Unmarshal([]byte(e.ok(nil, "build", "../../examples/counter", "-o", counterWasm, "--json")), &built))
	require.Equal(t, []string{"Counter"}, built.Factories)
	pingWasm := filepath.Join(e.dir, "pingpong.wasm")
	require.Contains(t, e.ok(nil, "build", "../../examples/pingpong", "-o", pingWasm), "factories: Ping, Pong")

	// Three nodes; the first creates the shared cookie file.
	n1 := e.startNode("n1")
	st, err := os.Stat(e.cookie)
	require.NoError(t, err, "the first node creates the cookie file")
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	n2 := e.startNode("n2", n1.addr)
	n3 := e.startNode("n3", n1.addr)

	// The cluster forms: every node lists all three, up.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var listing nodesListJSON
		require.NoError(t, json.Unmarshal([]byte(e.ok(n2, "nodes", "-o", "json")), &listing))
		nodes := listing.Nodes
		up := 0
		for _, n := range nodes {
			if n.Up {
				up++
			}
		}
		if up == 3 {
			require.Equal(t, []string{"n1", "n2", "n3"}, []string{nodes[0].Name, nodes[1].Name, nodes[2].Name})
			require.Equal(t, n3.addr, nodes[2].Addr)
			require.Equal(t, n3.ready.Incarnation, nodes[2].Incarnation)
			break
		}
		require.True(t, time.Now().Before(deadline), "cluster did not form: %+v", nodes)
		time.Sleep(100 * time.Millisecond)
	}
	text := e.ok(n1, "nodes")
	require.Regexp(t, `(?m)^NAME\s+ADDR\s+INCARNATION\s+STATUS\s+ACTORS\s+INSTANCES\s+MODULES$`, text)
	require.Regexp(t, `(?m)^n3\s+`+n3.addr+`\s+`+n3.ready.Incarnation+`\s+up\s+0\s+`, text)

	// Deploy on n1; the hash is the build's.
	var mod moduleJSON
	require.NoError(t, json.Unmarshal([]byte(e.ok(n1, "deploy", counterWasm, "-o", "json")), &mod))
	require.Equal(t, built.Hash, mod.Hash)
	require.Equal(t, built.Size, mod.Size)
	require.Equal(t, []string{"Counter"}, mod.Factories)
	require.Contains(t, e.ok(n1, "deploy", pingWasm), "factories: Ping, Pong")

	// Spawn on n3 through n1, by factory name.
	var sp spawnJSON
	require.NoError(t, json.Unmarshal([]byte(e.ok(n1, "spawn", "Counter", "--on", "n3", "--name", "counter", "--args", `{"start": 40}`, "-o", "json")), &sp))
	require.Equal(t, "n3", sp.Node)
	require.Equal(t, n3.ready.Incarnation, sp.Incarnation)
	pid := sp.PID

	// Call it from n2 by name (once the name has replicated), then by PID.
	require.Equal(t, "{\"value\":40}\n", e.eventually(n2, 10*time.Second, "call", "counter", `{"op":"get"}`))
	require.Empty(t, e.ok(n2, "send", "counter", `{"op":"inc","by":2}`))
	require.Equal(t, "{\"value\":42}\n", e.ok(n2, "call", "counter", `{"op":"get"}`))
	require.JSONEq(t, `{"target":"`+pid+`","reply":{"value":42}}`, e.ok(n1, "call", pid, `{"op":"get"}`, "-o", "json"))
	require.Equal(t, "{\"error\":\"unknown op fly\"}\n", e.ok(n3, "call", pid, `{"op":"fly"}`))

	// Listings, from any node.
	var listing psJSON
	require.NoError(t, json.Unmarshal([]byte(e.ok(n2, "ps", "-o", "json")), &listing))
	require.Empty(t, listing.Errors)
	ps := listing.Actors
	require.Len(t, ps, 1)
	require.Equal(t, pid, ps[0].PID)
	require.Equal(t, "Counter", ps[0].Factory)
	require.Equal(t, built.Hash, ps[0].Module)
	require.Equal(t, []string{"counter"}, ps[0].Names)
	require.Regexp(t, `(?m)^`+regexp.QuoteMeta(pid)+`\s+Counter\s+`+built.Hash[:12]+`\s+\d+\s+0\s+counter$`, e.ok(n1, "ps"))

	var mods []moduleStatusJSON
	require.NoError(t, json.Unmarshal([]byte(e.ok(n3, "modules", "-o", "json")), &mods))
	require.Len(t, mods, 2)
	var counterMod moduleStatusJSON
	for _, m := range mods {
		if m.Hash == built.Hash {
			counterMod = m
		}
	}
	require.Equal(t, []string{"Counter"}, counterMod.Factories)
	require.Contains(t, counterMod.Holders, "n1")
	require.Contains(t, counterMod.Holders, "n3", "n3 pulled the module to spawn")
	require.Regexp(t, `(?m)^`+built.Hash[:12]+`\s+\d+\.\d MiB\s+Counter\s+n1,n3`, e.ok(n1, "modules"))

	// Error cases, each with its exit code and one line.
	t.Run("errors", func(t *testing.T) {
		other := filepath.Join(e.dir, "other-cookie")
		require.NoError(t, os.WriteFile(other, []byte(strings.Repeat("ab", 32)+"\n"), 0o600))
		e.fails(n1, []string{envCookieFile + "=" + other}, exitUnreachable, "node at "+n1.addr+" refused the handshake (wrong cookie?", "ps")
		e.fails(n1, []string{envCookieFile + "=" + filepath.Join(e.dir, "missing")}, exitUnreachable, "no cookie file at", "ps")
		dead := freeAddr(t)
		e.fails(nil, nil, exitUnreachable, "cannot reach node at "+dead, "--node", dead, "--dial-timeout", "2s", "ps")

		e.fails(n1, nil, exitNotFound, `unknown factory`, "spawn", "Nope", "--on", "n2")
		e.fails(n1, nil, exitNotFound, "", "spawn", "Counter", "--on", "n9")
		e.fails(n1, nil, exitNotFound, `name not found`, "call", "nobody", `{}`)
		e.fails(n1, nil, exitNotFound, "no such actor", "call", "<n3."+n3.ready.Incarnation+".9999>", `{}`)
		e.fails(n1, nil, exitUsage, "has no incarnation: copy the PID as printed", "call", "<n3.9999>", `{}`)
		e.fails(n1, nil, exitRejected, "name already registered", "spawn", "Counter", "--name", "counter")

		e.fails(n1, nil, exitUsage, "invalid JSON in message at line 1, column 8 (byte 7)", "call", "counter", `{"op": get}`)
		e.fails(n1, nil, exitUsage, "malformed pid", "call", "<n3>", `{}`)

		notWasm := filepath.Join(e.dir, "notes.txt")
		require.NoError(t, os.WriteFile(notWasm, []byte("hello"), 0o644))
		e.fails(n1, nil, exitRejected, "is not a WebAssembly module", "deploy", notWasm)
		garbage := filepath.Join(e.dir, "garbage.wasm")
		require.NoError(t, os.WriteFile(garbage, append(append([]byte{}, wasmMagic...), "garbage"...), 0o644))
		e.fails(n1, nil, exitRejected, "bad module", "deploy", garbage)
		huge := filepath.Join(e.dir, "huge.wasm")
		require.NoError(t, os.WriteFile(huge, append(append([]byte{}, wasmMagic...), make([]byte, 65<<20)...), 0o644))
		e.fails(n1, nil, exitRejected, "too large", "deploy", huge)

		// A call the actor cannot answer in time: a Ping running forever.
		e.ok(n1, "spawn", "Ping", "--on", "n2", "--name", "ping")
		e.eventually(n1, 10*time.Second, "call", "ping", `{"op":"stats"}`)
		e.fails(n1, nil, exitTimeout, "call ping: no reply within 300ms", "call", "ping", `{"op":"run","rounds":1000000000000}`, "--timeout", "300ms")
		e.ok(n1, "kill", "ping")
	})

	// Kill: the actor is gone, its name with it.
	require.Empty(t, e.ok(n2, "kill", "counter"))
	deadline = time.Now().Add(10 * time.Second)
	for {
		r := e.cli(n1, nil, "call", pid, `{"op":"get"}`)
		if r.code == exitNotFound {
			requireOneLine(t, r.stderr)
			break
		}
		require.True(t, time.Now().Before(deadline), "call after kill: exit %d %s", r.code, r.stderr)
		time.Sleep(100 * time.Millisecond)
	}
	// Its name went with it. (A kill of a dead PID on another node is a
	// one-way exit signal, silently dropped as in Erlang, so it is not an
	// error case.)
	e.fails(n1, nil, exitNotFound, "name not found", "kill", "counter")

	// A node stopped with SIGTERM exits 0 and leaves the cluster.
	n3.stop(15 * time.Second)
	require.NoError(t, n3.err, "node n3 exit after SIGTERM; log:\n%s", n3.log.String())
	deadline = time.Now().Add(15 * time.Second)
	for {
		var listing nodesListJSON
		require.NoError(t, json.Unmarshal([]byte(e.ok(n1, "nodes", "-o", "json")), &listing))
		nodes := listing.Nodes
		gone := true
		for _, n := range nodes {
			if n.Name == "n3" && n.Up {
				gone = false
			}
		}
		if gone {
			break
		}
		require.True(t, time.Now().Before(deadline), "n1 still lists n3 up: %+v", nodes)
		time.Sleep(100 * time.Millisecond)
	}
	e.fails(n1, nil, exitUnreachable, "", "spawn", "Counter", "--on", "n3")

	// Issue 8: n3 restarted on the same data dir numbers its actors from 1
	// again. The PID of the earlier run, copied as printed, is stale (exit
	// 4) and never reaches the new actor with the same serial.
	n3b := e.startNode("n3", n1.addr)
	require.NotEqual(t, n3.ready.Incarnation, n3b.ready.Incarnation)
	var sp2 spawnJSON
	require.NoError(t, json.Unmarshal([]byte(e.eventually(n1, 20*time.Second, "spawn", "Counter", "--on", "n3", "-o", "json")), &sp2))
	require.Equal(t, sp.Serial, sp2.Serial, "the scenario needs a reused serial")
	require.Equal(t, n3b.ready.Incarnation, sp2.Incarnation)
	require.NotEqual(t, pid, sp2.PID)
	for _, via := range []*nodeProc{n1, n3b} {
		e.fails(via, nil, exitNotFound, "pid belongs to a previous incarnation of its node: "+pid, "call", pid, `{"op":"get"}`)
		e.fails(via, nil, exitNotFound, "pid belongs to a previous incarnation of its node", "send", pid, `{"op":"inc","by":1}`)
		e.fails(via, nil, exitNotFound, "pid belongs to a previous incarnation of its node", "kill", pid)
	}
	e.fails(n1, nil, exitUsage, "has no incarnation", "call", fmt.Sprintf("<n3.%d>", sp2.Serial), `{"op":"get"}`)
	require.Equal(t, "{\"value\":0}\n", e.ok(n1, "call", sp2.PID, `{"op":"get"}`), "the new actor got nothing meant for the old one")
}

func TestDemoEndToEnd(t *testing.T) {
	e := newE2E(t)
	r := e.cli(nil, nil, "demo")
	require.Equal(t, 0, r.code, "demo: stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	for i, l := range lines {
		require.True(t, strings.HasPrefix(l, fmt.Sprintf("%d. ", i+1)), "step line %q", l)
	}
	require.Contains(t, r.stdout, "spawned a Counter on n3")
	require.Contains(t, r.stdout, `reply {"value":42}`)
	// n3 leaves gracefully: its "shutdown" Down can beat the leave (a race
	// reported to host/); either way the monitor fires.
	require.Regexp(t, `is down, reason "(noconnection|shutdown)"`, r.stdout)
}

// TestNodesWatchEndToEnd: `nodes --watch` against real node processes
// prints a member coming up and leaving, and ends cleanly on SIGINT.
func TestNodesWatchEndToEnd(t *testing.T) {
	e := newE2E(t)
	n1 := e.startNode("n1")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	watch := exec.CommandContext(ctx, e.bin, "--node", n1.addr, "nodes", "--watch")
	watch.Env = e.env
	var errb syncBuffer
	watch.Stderr = &errb
	stdout, err := watch.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, watch.Start())
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case l, ok := <-lines:
			require.True(t, ok, "the watch ended before %s: %s", what, errb.String())
			return l
		case <-time.After(60 * time.Second):
			t.Fatalf("no line for %s: %s", what, errb.String())
			return ""
		}
	}
	require.Regexp(t, `^NAME\s+ADDR`, next("the header"))
	require.Regexp(t, `^n1\s`, next("n1"))

	n2 := e.startNode("n2", n1.addr)
	require.Regexp(t, `^\S+  n2  up  joined  `+n2.ready.Incarnation+`$`, next("n2 joining"))
	n2.stop(10 * time.Second)
	require.Regexp(t, `^\S+  n2  down  left  `+n2.ready.Incarnation+`$`, next("n2 leaving"))

	require.NoError(t, watch.Process.Signal(os.Interrupt))
	require.NoError(t, watch.Wait(), "an interrupted watch exits 0: %s", errb.String())
}
