package host

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

// TestCastsForAnEarlierRunAreStale: a kill, monitor or link that a peer
// addressed to an earlier run of this node (it restarted while the cast was
// on its way) never reaches the actor of this run that reuses the serial.
func TestCastsForAnEarlierRunAreStale(t *testing.T) {
	ctx, n, _, _ := echoAlone(t)
	pid, err := n.Spawn(ctx, "Echo", SpawnOptions{})
	require.NoError(t, err)
	a := n.actors.get(pid.Serial)
	require.NotNil(t, a)

	peer := transport.NodeInfo{Name: "n2", Incarnation: 7}
	earlier := n.incarnation + 1
	require.NoError(t, n.handleCast(peer, transport.Control{Kind: proto.KindKill,
		Body: proto.Marshal(proto.Exit{To: pid.Serial, Reason: "killed", ToIncarnation: earlier})}))
	require.NoError(t, n.handleCast(peer, transport.Control{Kind: proto.KindMonitor,
		Body: proto.Marshal(proto.Watch{Target: pid.Serial, Ref: 1, ToIncarnation: earlier})}))
	require.NoError(t, n.handleCast(peer, transport.Control{Kind: proto.KindLink,
		Body: proto.Marshal(proto.Link{From: 5, To: pid.Serial, ToIncarnation: earlier})}))
	require.True(t, a.alive(), "a stale kill must not reach this run's actor")
	a.mu.Lock()
	require.Empty(t, a.rels().watchers, "a stale monitor must not attach")
	require.Empty(t, a.rels().rlinks, "a stale link must not attach")
	a.mu.Unlock()

	// The same casts addressed to this run act.
	require.NoError(t, n.handleCast(peer, transport.Control{Kind: proto.KindMonitor,
		Body: proto.Marshal(proto.Watch{Target: pid.Serial, Ref: 1, ToIncarnation: n.incarnation})}))
	a.mu.Lock()
	require.Len(t, a.rels().watchers, 1)
	a.mu.Unlock()
	require.NoError(t, n.handleCast(peer, transport.Control{Kind: proto.KindKill,
		Body: proto.Marshal(proto.Exit{To: pid.Serial, Reason: "killed", ToIncarnation: n.incarnation})}))
	require.False(t, a.alive())
}
