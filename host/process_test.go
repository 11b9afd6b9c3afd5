package host_test

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
	"github.com/wasmactor/wasmactor/transport/quic"
)

// The tests below run real node processes: the test binary re-executes
// itself with WASMACTOR_TEST_NODE set and becomes a node (see runTestNode).

func TestMain(m *testing.M) {
	guestbuildtest.ShareCompileCache()
	if os.Getenv("WASMACTOR_TEST_NODE") != "" {
		os.Exit(runTestNode())
	}
	os.Exit(m.Run())
}

// runTestNode is the child: a node configured from the environment, which
// prints its address and serves until SIGTERM.
func runTestNode() int {
	idle, _ := time.ParseDuration(os.Getenv("WASMACTOR_TEST_IDLE"))
	cfg := host.Config{
		Name:        os.Getenv("WASMACTOR_TEST_NODE"),
		Listen:      cmp.Or(os.Getenv("WASMACTOR_TEST_LISTEN"), "127.0.0.1:0"),
		Advertise:   os.Getenv("WASMACTOR_TEST_ADVERTISE"),
		DataDir:     os.Getenv("WASMACTOR_TEST_DATA"),
		CookieFile:  os.Getenv("WASMACTOR_TEST_COOKIE"),
		IdleTimeout: idle,
		Logger:      quietLogger(),
	}
	if j := os.Getenv("WASMACTOR_TEST_JOIN"); j != "" {
		cfg.Join = strings.Split(j, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	n, err := host.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		return 1
	}
	fmt.Printf("READY %s %d\n", n.Addr(), n.Incarnation())
	<-ctx.Done()
	_ = n.Close()
	return 0
}

type nodeProc struct {
	name, dataDir, addr string
	incarnation         uint64
	cmd                 *exec.Cmd
}

const procIdle = 2 * time.Second

// startProc starts a node process and waits until it serves; env adds
// settings such as WASMACTOR_TEST_LISTEN and WASMACTOR_TEST_ADVERTISE.
func startProc(t *testing.T, name, dataDir, cookieFile, join string, env ...string) *nodeProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"WASMACTOR_TEST_NODE="+name, "WASMACTOR_TEST_DATA="+dataDir, "WASMACTOR_TEST_COOKIE="+cookieFile,
		"WASMACTOR_TEST_JOIN="+join, "WASMACTOR_TEST_IDLE="+procIdle.String())
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &nodeProc{name: name, dataDir: dataDir, cmd: cmd}
	t.Cleanup(func() { p.kill() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") {
				ready <- sc.Text()
			}
		}
	}()
	select {
	case line := <-ready:
		_, err := fmt.Sscanf(line, "READY %s %d", &p.addr, &p.incarnation)
		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		t.Fatalf("node %s did not start", name)
	}
	return p
}

func (p *nodeProc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// client talks to a node process the way the CLI does.
func client(t *testing.T, addr string, cookie []byte) transport.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := quic.Dial(ctx, addr, quic.ClientConfig{Cookie: cookie})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func rpc(t *testing.T, c transport.Client, kind uint16, req, resp any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b, err := c.Call(ctx, transport.Control{Kind: kind, Body: proto.Marshal(req)})
	if err != nil {
		return err
	}
	if resp == nil {
		return nil
	}
	return proto.Unmarshal(b, resp)
}

func procStatus(t *testing.T, c transport.Client) proto.NodeStatus {
	t.Helper()
	var all proto.NodesReply
	require.NoError(t, rpc(t, c, proto.KindNodes, proto.Empty{}, &all))
	peer := c.Peer().Name
	for _, st := range all.Nodes {
		if st.Name == peer {
			return st
		}
	}
	t.Fatalf("node %s missing from its own listing", peer)
	return proto.NodeStatus{}
}

// procCluster is n1 in this process (so the test can monitor) plus node
// processes n2 and n3 with data dirs of their own.
type procCluster struct {
	n1         *host.Node
	cookie     []byte
	cookieFile string
	dir        string
}

func newProcCluster(t *testing.T) *procCluster {
	if testing.Short() {
		t.Skip("starts node processes; skipped with -short")
	}
	dir := t.TempDir()
	pc := &procCluster{dir: dir, cookieFile: filepath.Join(dir, "cookie")}
	var err error
	pc.cookie, err = quic.LoadOrCreateCookie(pc.cookieFile)
	require.NoError(t, err)
	pc.n1 = newNode(t, host.Config{Name: "n1", Listen: "127.0.0.1:0", Cookie: pc.cookie, IdleTimeout: procIdle})
	return pc
}

func (pc *procCluster) start(t *testing.T, name string) *nodeProc {
	return startProc(t, name, filepath.Join(pc.dir, name), pc.cookieFile, pc.n1.Addr())
}

func (pc *procCluster) waitMembers(t *testing.T, names ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		var got []string
		for _, m := range pc.n1.Members() {
			got = append(got, m.Name)
		}
		return strings.Join(got, ",") == strings.Join(names, ",")
	}, 30*time.Second, 20*time.Millisecond, "members %v", names)
}

func TestProcessClusterKillAndRestart(t *testing.T) {
	pc := newProcCluster(t)
	n2 := pc.start(t, "n2")
	n3 := pc.start(t, "n3")
	pc.waitMembers(t, "n2", "n3")
	ctx := ctxT(t)
	n1 := pc.n1

	// Deploy on n1, spawn on n3 by factory name, call from n2 by name.
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	pid, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n3", Name: "counter", Args: map[string]int{"start": 41}})
	require.NoError(t, err)
	c2 := client(t, n2.addr, pc.cookie)
	require.Eventually(t, func() bool {
		return rpc(t, c2, proto.KindSend, proto.Message{Target: "counter", Payload: cborOf(t, map[string]any{"op": "inc", "by": 1})}, nil) == nil
	}, 10*time.Second, 20*time.Millisecond)
	var reply proto.CallReply
	require.NoError(t, rpc(t, c2, proto.KindCall, proto.Message{Target: "counter", Payload: cborOf(t, map[string]any{"op": "get"})}, &reply))
	var v counterReply
	require.NoError(t, host.CBOR(reply.Payload).Decode(&v))
	require.Equal(t, int64(42), v.Value)
	c3 := client(t, n3.addr, pc.cookie)
	require.Equal(t, uint64(1), procStatus(t, c3).Pulls, "the module crossed to n3 once")
	require.Equal(t, uint64(0), procStatus(t, c2).Pulls, "n2 never needed it")

	// kill -9 n3: the monitor on n1 fires with noconnection within the idle
	// timeout (bounded generously here: 3x), and the name is gone.
	mon, err := n1.Monitor(ctx, pid)
	require.NoError(t, err)
	require.NoError(t, n3.cmd.Process.Signal(syscall.SIGKILL))
	d := waitDown(t, mon, 3*procIdle)
	require.Equal(t, wasmactor.ReasonNoConnection, d.Reason)
	_, err = n1.Whereis(ctx, "counter")
	require.ErrorIs(t, err, wasmactor.ErrNotFound)
	require.Eventually(t, func() bool {
		return rpc(t, c2, proto.KindCall, proto.Message{Target: "counter", Payload: cborOf(t, "x")}, nil) != nil
	}, 3*procIdle, 20*time.Millisecond, "n2 forgets the name too")

	// Restart n3 on the same data dir: a new incarnation, old PIDs fail
	// fast, and the module is already there (no second transfer).
	n3b := pc.start(t, "n3")
	require.NotEqual(t, n3.incarnation, n3b.incarnation)
	pc.waitMembers(t, "n2", "n3")
	err = n1.Send(ctx, pid, map[string]any{"op": "get"})
	require.ErrorIs(t, err, wasmactor.ErrStaleIncarnation)
	fresh, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n3"})
	require.NoError(t, err)
	require.Equal(t, n3b.incarnation, fresh.Incarnation)
	require.Equal(t, int64(0), getCounter(t, n1, fresh).Value)
	require.Equal(t, uint64(0), procStatus(t, client(t, n3b.addr, pc.cookie)).Pulls, "the data dir kept the module")
}

func TestProcessPausedNodeRejoins(t *testing.T) {
	pc := newProcCluster(t)
	n2 := pc.start(t, "n2")
	pc.waitMembers(t, "n2")
	ctx := ctxT(t)
	deploy(t, pc.n1, guestbuildtest.Build(t, "examples/counter"))
	pid, err := pc.n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	mon, err := pc.n1.Monitor(ctx, pid)
	require.NoError(t, err)

	require.NoError(t, n2.cmd.Process.Signal(syscall.SIGSTOP))
	require.Equal(t, wasmactor.ReasonNoConnection, waitDown(t, mon, 3*procIdle).Reason)
	pc.waitMembers(t)
	require.NoError(t, n2.cmd.Process.Signal(syscall.SIGCONT))

	// It comes back as itself (same incarnation), once, and works.
	pc.waitMembers(t, "n2")
	members := pc.n1.Members()
	require.Len(t, members, 1)
	require.Equal(t, n2.incarnation, members[0].Incarnation)
	c2 := client(t, n2.addr, pc.cookie)
	require.Eventually(t, func() bool { return procStatus(t, c2).Members == 1 }, 10*time.Second, 20*time.Millisecond)
	again, err := pc.n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	require.Equal(t, int64(0), getCounter(t, pc.n1, again).Value)
}

// TestProcessSustainedLoad runs many sequenced actor pairs across three
// nodes for a bounded time and checks that nothing was lost, duplicated or
// reordered per pair, and that memory and goroutines stay flat.
func TestProcessSustainedLoad(t *testing.T) {
	pc := newProcCluster(t)
	n2 := pc.start(t, "n2")
	n3 := pc.start(t, "n3")
	pc.waitMembers(t, "n2", "n3")
	ctx := ctxT(t)
	n1 := pc.n1
	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/bench"))

	const pairs, per = 12, 200
	nodes := []string{"n1", "n2", "n3"}
	type pair struct{ send, check host.PID }
	var ps []pair
	for i := range pairs {
		check, err := n1.Spawn(ctx, "SeqCheck", host.SpawnOptions{Node: nodes[(i+1)%3]})
		require.NoError(t, err)
		send, err := n1.Spawn(ctx, "SeqSend", host.SpawnOptions{Node: nodes[i%3]})
		require.NoError(t, err)
		ps = append(ps, pair{send, check})
	}
	procs := []transport.Client{client(t, n2.addr, pc.cookie), client(t, n3.addr, pc.cookie)}
	sample := func() (g, heap int) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		g, heap = runtime.NumGoroutine(), int(ms.HeapAlloc)
		for _, c := range procs {
			st := procStatus(t, c)
			g += st.Goroutines
			heap += int(st.HeapBytes)
		}
		return g, heap
	}

	run := func(rounds int) {
		for range rounds {
			for i, p := range ps {
				require.NoError(t, n1.Send(ctx, p.send, []any{abiPID(p.check), i + 1, per}))
			}
		}
	}
	expect := 0
	settle := func() {
		require.Eventually(t, func() bool {
			for _, p := range ps {
				if seqOf(t, n1, p.check).Received+seqOf(t, n1, p.send).Failed != uint64(expect) {
					return false
				}
			}
			return true
		}, 30*time.Second, 50*time.Millisecond)
	}
	run(3) // warm up: instances, lanes, buffers
	expect = 3 * per
	settle()
	g0, heap0 := sample()

	deadline := time.Now().Add(8 * time.Second)
	rounds := 3
	for time.Now().Before(deadline) {
		run(2)
		rounds += 2
		expect = rounds * per
		settle()
	}
	g1, heap1 := sample()
	for i, p := range ps {
		s, c := seqOf(t, n1, p.send), seqOf(t, n1, p.check)
		require.Zero(t, s.Failed, "pair %d: sends refused", i)
		require.Equal(t, uint64(rounds*per), c.Received, "pair %d", i)
		require.Zero(t, c.Gaps, "pair %d", i)
		require.Zero(t, c.Dups, "pair %d", i)
		require.Zero(t, c.Reorders, "pair %d", i)
	}
	t.Logf("%d pairs, %d messages each; goroutines %d→%d, heap %d→%d KiB", pairs, rounds*per, g0, g1, heap0>>10, heap1>>10)
	require.InDelta(t, g0, g1, 30, "goroutines flat")
	require.Less(t, heap1, heap0+64<<20, "heap flat (within 64 MiB of noise)")
}

func cborOf(t *testing.T, v any) []byte {
	t.Helper()
	b, err := proto.EncodeValue(v)
	require.NoError(t, err)
	return b
}
