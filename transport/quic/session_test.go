package quic

import (
	"testing"

	qgo "github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/wire"
)

// rawActivate makes the authenticated raw connection of node self to node
// peer its active session, as a transport would right after the
// handshake: the leader of the pair activates it, the other offers it.
func rawActivate(t *testing.T, ctrl *qgo.Stream, self, peer string) {
	t.Helper()
	m := ctrlMsg{Type: ctrlOffer}
	if self < peer {
		m = ctrlMsg{Type: ctrlActive, Gen: 1}
	}
	b, err := wire.Marshal(m)
	require.NoError(t, err)
	_, err = ctrl.Write(wire.AppendFrame(nil, b))
	require.NoError(t, err)
}
