package quic

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/transport"
)

// TestModuleSizedRequest: a call request larger than the frame cap (a
// deploy carries a whole module) fits the request cap, on a stream of its
// own. The rest of what two nodes exchange is checked by the conformance
// suite (TestConformance).
func TestModuleSizedRequest(t *testing.T) {
	ha, hb := newHandler(), newHandler()
	a := startNode(t, testConfig("a"), ha)
	b := startNode(t, testConfig("b"), hb)
	require.NoError(t, a.Join(joinCtx(t), []string{b.Self().Addr}))
	require.True(t, ha.nextEvent(t, 5*time.Second).up)

	module := make([]byte, 5<<20)
	module[len(module)-1] = 7
	hb.setCall(func(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error) {
		return []byte{byte(len(req.Body) >> 20), req.Body[len(req.Body)-1]}, nil
	})
	out, err := a.Call(joinCtx(t), "b", transport.Control{Kind: 2, Body: module})
	require.NoError(t, err)
	require.Equal(t, []byte{5, 7}, out)
}
