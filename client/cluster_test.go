package client_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/client"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// TestClientWatchesNodesAndGroups: the long poll of node events, and
// groups listed and sent to, over QUIC from a client.
func TestClientWatchesNodesAndGroups(t *testing.T) {
	n1, n2, cookie := twoNodes(t)
	ctx := ctxT(t)
	c := dial(t, n1.Addr(), cookie)

	_, err := c.Deploy(ctx, guestbuildtest.Build(t, "examples/counter"))
	require.NoError(t, err)
	a, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n1"})
	require.NoError(t, err)
	b, err := n1.Spawn(ctx, "Counter", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	require.NoError(t, n1.JoinGroup(ctx, "counters", a))
	require.NoError(t, n1.JoinGroup(ctx, "counters", b)) // made by n2, told to n1

	require.Eventually(t, func() bool {
		ms, err := c.GroupMembers(ctx, "counters")
		return err == nil && len(ms) == 2
	}, 10*time.Second, 10*time.Millisecond)
	gs, err := c.Groups(ctx)
	require.NoError(t, err)
	require.Equal(t, []client.Group{{Name: "counters", Members: []client.PID{a, b}}}, gs)
	ms, err := c.GroupMembers(ctx, "nobody")
	require.NoError(t, err)
	require.Empty(t, ms)

	r, err := c.SendGroup(ctx, "counters", map[string]any{"op": "inc", "by": 5})
	require.NoError(t, err)
	require.Equal(t, client.GroupSendResult{Members: 2, Sent: 2}, r)
	for _, p := range []client.PID{a, b} {
		require.Eventually(t, func() bool {
			reply, err := c.Call(ctx, p.String(), map[string]any{"op": "get"})
			var v counter
			return err == nil && reply.Decode(&v) == nil && v.Value == 5
		}, 10*time.Second, 10*time.Millisecond, "%s got the group's message", p)
	}

	// The node still holds n2's arrival; a watcher takes the cursor after
	// it and waits for what comes next.
	page, err := c.NodeEvents(ctx, 0, 0)
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
	require.Equal(t, client.NodeEvent{Seq: 1, Node: "n2", Incarnation: n2.Incarnation(), Addr: n2.Addr(), Up: true, Reason: "joined",
		At: page.Events[0].At}, page.Events[0])
	require.Equal(t, uint64(1), page.Next)
	done := make(chan client.NodeEventsPage, 1)
	go func() {
		p, err := c.NodeEvents(ctx, page.Next, 30*time.Second)
		if err == nil {
			done <- p
		}
		close(done)
	}()
	require.NoError(t, n2.Close())
	select {
	case p := <-done:
		require.Len(t, p.Events, 1)
		ev := p.Events[0]
		require.Equal(t, []any{uint64(2), "n2", false, host.ReasonLeft}, []any{ev.Seq, ev.Node, ev.Up, ev.Reason})
		require.Equal(t, uint64(2), p.Next)
	case <-time.After(20 * time.Second):
		t.Fatal("the long poll did not return n2's departure")
	}
	_, err = c.NodeEvents(ctx, 0, 2*time.Minute)
	require.Error(t, err, "a wait over a minute is refused")
}
