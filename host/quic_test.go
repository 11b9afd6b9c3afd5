package host_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// TestQUICCluster runs three nodes in one process over real QUIC on
// loopback: the same path as separate processes, minus the process boundary.
func TestQUICCluster(t *testing.T) {
	cookie := make([]byte, 32)
	_, _ = rand.Read(cookie)
	cfg := func(name string, join ...string) host.Config {
		return host.Config{Name: name, Listen: "127.0.0.1:0", Cookie: cookie, Join: join, IdleTimeout: 2 * time.Second}
	}
	n1 := newNode(t, cfg("n1"))
	require.NotEmpty(t, n1.Addr())
	n2 := newNode(t, cfg("n2", n1.Addr()))
	n3 := newNode(t, cfg("n3", n1.Addr()))
	for _, n := range []*host.Node{n1, n2, n3} {
		require.Eventually(t, func() bool { return len(n.Members()) == 2 }, 10*time.Second, 10*time.Millisecond, n.Name())
	}
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, "examples/counter"))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 && len(n3.Modules()) == 1 }, 10*time.Second, 10*time.Millisecond)

	pid, err := n2.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n3", Name: "c"})
	require.NoError(t, err)
	require.Equal(t, uint64(1), n3.Pulls())
	require.Eventually(t, func() bool { _, err := n1.Whereis(ctx, "c"); return err == nil }, 10*time.Second, 10*time.Millisecond)
	for i := range 50 {
		require.NoError(t, n1.Send(ctx, pid, map[string]any{"op": "inc", "by": 1}))
		require.Equal(t, int64(i+1), getCounter(t, n1, pid).Value)
	}
	mon, err := n1.Monitor(ctx, pid)
	require.NoError(t, err)
	require.NoError(t, n3.Close()) // a clean leave: no need to wait for the idle timeout
	require.Equal(t, wasmactor.ReasonNoConnection, waitDown(t, mon, 10*time.Second).Reason)
	_, err = n1.Whereis(ctx, "c")
	require.ErrorIs(t, err, wasmactor.ErrNotFound)
}
