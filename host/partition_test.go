package host_test

import (
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/internal/transporttest"
	"github.com/wasmactor/wasmactor/transport/quic"
)

// freeUDPAddr returns a loopback address with a port free right now.
func freeUDPAddr(t *testing.T) *net.UDPAddr {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	addr := c.LocalAddr().(*net.UDPAddr)
	require.NoError(t, c.Close())
	return addr
}

// TestProcessPartitionHeals cuts the network between this process (n1) and
// a node process (n2) with UDP proxies that carry all their traffic, then
// heals it: both sides see the other go down, names claimed on both sides
// meanwhile converge to one holder, and the same incarnations reconnect.
func TestProcessPartitionHeals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node process; skipped with -short")
	}
	dir := t.TempDir()
	cookieFile := filepath.Join(dir, "cookie")
	cookie, err := quic.LoadOrCreateCookie(cookieFile)
	require.NoError(t, err)

	// Each node advertises its proxy, so every packet between n1 and n2
	// goes through p1 (towards n1) or p2 (towards n2).
	real1, real2 := freeUDPAddr(t), freeUDPAddr(t)
	p1, p2 := transporttest.NewProxy(t), transporttest.NewProxy(t)
	p1.SetTarget(real1.String())
	p2.SetTarget(real2.String())
	n1 := newNode(t, host.Config{Name: "n1", Listen: real1.String(), Advertise: p1.Addr(), Cookie: cookie, IdleTimeout: procIdle})
	n2 := startProc(t, "n2", filepath.Join(dir, "n2"), cookieFile, p1.Addr(),
		"WASMACTOR_TEST_LISTEN="+real2.String(), "WASMACTOR_TEST_ADVERTISE="+p2.Addr())
	require.Eventually(t, func() bool { return len(n1.Members()) == 1 }, 30*time.Second, 20*time.Millisecond)

	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	remote, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"}) // n2 now holds the module
	require.NoError(t, err)
	require.Equal(t, int64(0), getCounter(t, n1, remote).Value)
	mon, err := n1.Monitor(ctx, remote)
	require.NoError(t, err)

	// Partition: both sides report the other down within the idle timeout.
	p1.Block(true)
	p2.Block(true)
	require.Equal(t, wasmactor.ReasonNoConnection, waitDown(t, mon, 3*procIdle).Reason)
	require.Empty(t, n1.Members())
	c2 := client(t, real2.String(), cookie) // the test reaches n2 directly, not through p2
	require.Eventually(t, func() bool { return procStatus(t, c2).Members == 0 }, 3*procIdle, 20*time.Millisecond)

	// Both sides claim the same name while they cannot see each other.
	_, err = n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n1", Name: "leader"})
	require.NoError(t, err)
	var rep proto.SpawnReply
	require.NoError(t, rpc(t, c2, proto.KindSpawnCLI, proto.Spawn{Factory: "Counter", Name: "leader", Node: "n2"}, &rep))

	// Heal: the same incarnations reconnect (redial backoff is at most 5s),
	// and every node agrees on one holder of "leader".
	p1.Block(false)
	p2.Block(false)
	require.Eventually(t, func() bool { return len(n1.Members()) == 1 }, 30*time.Second, 50*time.Millisecond)
	require.Equal(t, n2.incarnation, n1.Members()[0].Incarnation, "no duplicate identity")
	require.Eventually(t, func() bool {
		holder, err := n1.Whereis(ctx, "leader")
		if err != nil {
			return false
		}
		var ps proto.PsPage
		if rpc(t, c2, proto.KindPs, proto.PsRequest{}, &ps) != nil || len(ps.Errors) > 0 || ps.Next != nil {
			return false
		}
		var holders []wasmactor.PID // as n2 sees its own and n1's actors
		for _, a := range ps.Actors {
			if slices.Contains(a.Names, "leader") {
				holders = append(holders, a.PID)
			}
		}
		return len(holders) == 1 && holders[0] == holder
	}, 15*time.Second, 50*time.Millisecond)
	again, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	require.Equal(t, int64(0), getCounter(t, n1, again).Value, "messages flow again after the heal")
}
