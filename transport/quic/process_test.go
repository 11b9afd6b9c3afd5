package quic

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/transport"
)

// Environment of a child node process (the test binary re-executed).
const (
	childEnv       = "WASMACTOR_QUIC_CHILD"
	childListenEnv = "WASMACTOR_QUIC_CHILD_LISTEN"
	childJoinEnv   = "WASMACTOR_QUIC_CHILD_JOIN"
)

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(runChild(name))
	}
	os.Exit(m.Run())
}

// echoHandler sends every envelope back to its sender, From and To swapped.
type echoHandler struct {
	*testHandler
	tr *Transport
}

func (h *echoHandler) HandleEnvelopes(from transport.NodeInfo, envs []transport.Envelope) {
	for i := range envs {
		envs[i].From, envs[i].To = envs[i].To, envs[i].From
	}
	h.tr.Send(from.Name, envs...)
}

// runChild runs a node until its stdin closes (so it never outlives the
// test) or it is killed.
func runChild(name string) int {
	cfg := testConfig(name)
	cfg.Listen = os.Getenv(childListenEnv)
	cfg.IdleTimeout = time.Second
	cfg.Logger = nil
	tr, err := New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	h := &echoHandler{testHandler: newHandler(), tr: tr}
	go func() {
		for range h.events {
		}
	}()
	if err := tr.Start(context.Background(), h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if seed := os.Getenv(childJoinEnv); seed != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := tr.Join(ctx, []string{seed})
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Printf("READY %d\n", tr.Self().Incarnation)
	io.Copy(io.Discard, os.Stdin)
	tr.Close()
	return 0
}

type child struct {
	cmd         *exec.Cmd
	stdin       io.WriteCloser
	incarnation uint64
}

// startChild starts a node named name in a new OS process listening on
// listen and joining seed.
func startChild(t *testing.T, name, listen, seed string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+name, childListenEnv+"="+listen, childJoinEnv+"="+seed)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &child{cmd: cmd, stdin: stdin}
	t.Cleanup(func() {
		c.stdin.Close()
		c.cmd.Process.Kill()
		c.cmd.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-ready:
		f := strings.Fields(line)
		require.Len(t, f, 2, "child said %q", line)
		require.Equal(t, "READY", f[0])
		c.incarnation, err = strconv.ParseUint(f[1], 10, 64)
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("child not ready")
	}
	return c
}

// kill9 kills the child with SIGKILL: no goodbye reaches its peers.
func (c *child) kill9(t *testing.T) {
	require.NoError(t, c.cmd.Process.Kill())
	c.cmd.Wait()
}

func freeUDPPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// expectEcho sends one envelope to the child and waits for it to come back.
func expectEcho(t *testing.T, a *Transport, h *testHandler, node string, ref uint64) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		require.NoError(t, a.Send(node, transport.Envelope{From: 1, To: 2, Ref: ref}))
		select {
		case envs := <-h.envs:
			for _, e := range envs {
				if e.Ref == ref {
					require.EqualValues(t, 2, e.From)
					return
				}
			}
		case <-deadline:
			t.Fatalf("no echo of %d from %s", ref, node)
		}
	}
}

// TestKilledPeerProcess kills a peer node's OS process with SIGKILL and
// checks that it is reported down within the idle timeout (with a
// generous 3x bound) and that, restarted with a new incarnation, it is
// reconnected and reported up.
func TestKilledPeerProcess(t *testing.T) {
	const idle = time.Second
	cfg := testConfig("a")
	cfg.IdleTimeout = idle
	h := newHandler()
	a := startNode(t, cfg, h)
	listen := freeUDPPort(t)

	b1 := startChild(t, "b", listen, a.Self().Addr)
	ev := h.nextEvent(t, 10*time.Second)
	require.True(t, ev.up)
	require.Equal(t, b1.incarnation, ev.peer.Incarnation)
	expectEcho(t, a, h, "b", 1)

	{
		// Phase 1: down within the idle timeout, up again after a restart.
		killed := time.Now()
		b1.kill9(t)
		ev := h.nextEvent(t, 3*idle)
		require.False(t, ev.up)
		require.Equal(t, b1.incarnation, ev.peer.Incarnation)
		require.ErrorIs(t, ev.reason, transport.ErrPeerTimeout)
		t.Logf("down reported %v after kill -9 (idle timeout %v)", time.Since(killed).Round(time.Millisecond), idle)
		require.ErrorIs(t, a.Send("b", transport.Envelope{}), transport.ErrNodeDown)

		// Restarted on the same address without a seed: a keeps redialling
		// the lost member and finds the new incarnation.
		b2 := startChild(t, "b", listen, "")
		ev = h.nextEvent(t, 10*time.Second)
		require.True(t, ev.up)
		require.Equal(t, b2.incarnation, ev.peer.Incarnation)
		require.NotEqual(t, b1.incarnation, b2.incarnation)
		expectEcho(t, a, h, "b", 2)
		b1 = b2
	}
	{
		// Phase 2: restarted before the timeout.
		// Killed and back at once: the new incarnation (or its stateless
		// reset of the old connection) replaces the old one; NodeDown for
		// the old incarnation comes before NodeUp for the new one.
		b1.kill9(t)
		b3 := startChild(t, "b", listen, a.Self().Addr)
		ev := h.nextEvent(t, 10*time.Second)
		require.False(t, ev.up)
		require.Equal(t, b1.incarnation, ev.peer.Incarnation)
		t.Logf("old incarnation reported down with: %v", ev.reason)
		ev = h.nextEvent(t, 10*time.Second)
		require.True(t, ev.up)
		require.Equal(t, b3.incarnation, ev.peer.Incarnation)
		expectEcho(t, a, h, "b", 3)
	}
}
