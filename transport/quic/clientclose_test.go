package quic

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/transport"
)

type closeHandler struct {
	*testHandler
	closed chan transport.PeerInfo
}

func (h closeHandler) ClientClosed(from transport.PeerInfo) { h.closed <- from }

// TestClientClosedReportsTheEndOfAClientConnection: a handler that
// implements transport.ClientCloser hears, once, that a client connection
// ended, naming the peer its calls came from.
func TestClientClosedReportsTheEndOfAClientConnection(t *testing.T) {
	h := closeHandler{newHandler(), make(chan transport.PeerInfo, 4)}
	calls := make(chan transport.PeerInfo, 1)
	h.setCall(func(_ context.Context, from transport.PeerInfo, _ transport.Control) ([]byte, error) {
		calls <- from
		return nil, nil
	})
	s := startNode(t, testConfig("s"), h)
	c, err := Dial(joinCtx(t), s.Self().Addr, ClientConfig{Name: "cli", Cookie: testCookie})
	require.NoError(t, err)
	_, err = c.Call(joinCtx(t), transport.Control{Kind: 1})
	require.NoError(t, err)
	from := <-calls
	require.True(t, from.Client)
	require.NoError(t, c.Close())
	select {
	case got := <-h.closed:
		require.Equal(t, from.NodeInfo, got.NodeInfo)
		require.True(t, got.Client)
	case <-time.After(20 * time.Second):
		t.Fatal("no ClientClosed")
	}
	select {
	case got := <-h.closed:
		t.Fatalf("a second ClientClosed: %+v", got)
	default:
	}
}
