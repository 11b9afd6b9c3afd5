package host

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/token"
	"github.com/wasmactor/wasmactor/transport"
)

// TestModuleDownloadIsAdminOnly: nodes pull module bytes; a client gets
// them only with the cookie or an admin token.
func TestModuleDownloadIsAdminOnly(t *testing.T) {
	ctx, n, wasm, info := echoAlone(t)
	key := info.Hash.String()
	h := handler{n: n}
	node := transport.PeerInfo{NodeInfo: transport.NodeInfo{Name: "n2"}}
	var err error
	for _, from := range []transport.PeerInfo{
		node,
		{Client: true, Grant: token.AdminGrant()},
	} {
		b, err := h.ServeBlob(ctx, from, key)
		require.NoError(t, err)
		require.Equal(t, wasm, b)
	}
	_, err = h.ServeBlob(ctx, transport.PeerInfo{Client: true, Grant: token.Grant{Role: token.Operator}}, key)
	require.ErrorIs(t, fromRemote(err), wasmactor.ErrPermission)

	// And the factory lookup nodes make of each other answers nodes only.
	pid, err := n.Spawn(ctx, "Echo", SpawnOptions{})
	require.NoError(t, err)
	body := proto.Marshal(proto.ActorRef{Serial: pid.Serial, ToIncarnation: n.incarnation})
	b, err := n.serve(ctx, node, transport.Control{Kind: proto.KindFactoryOf, Body: body})
	require.NoError(t, err)
	var rep proto.FactoryReply
	require.NoError(t, proto.Unmarshal(b, &rep))
	require.Equal(t, "Echo", rep.Factory)
	_, err = n.serve(ctx, node, transport.Control{Kind: proto.KindFactoryOf, Body: proto.Marshal(proto.ActorRef{Serial: pid.Serial, ToIncarnation: n.incarnation + 1})})
	require.ErrorIs(t, err, wasmactor.ErrStaleIncarnation)
	_, err = n.serve(ctx, node, transport.Control{Kind: proto.KindFactoryOf, Body: proto.Marshal(proto.ActorRef{Serial: 999, ToIncarnation: n.incarnation})})
	require.ErrorIs(t, err, wasmactor.ErrNoProc)
}
