package host

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/token"
	"github.com/wasmactor/wasmactor/transport"
)

// TestModuleDownloadIsAdminOnly: nodes pull module bytes; a client gets
// them only with the cookie or an admin token.
func TestModuleDownloadIsAdminOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := Start(ctx, Config{Name: "n1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer n.Close()
	wasm, err := os.ReadFile("../testdata/minimal_actor.wasm")
	require.NoError(t, err)
	info, err := n.Deploy(ctx, wasm)
	require.NoError(t, err)
	key := info.Hash.String()
	h := handler{n: n}
	node := transport.PeerInfo{NodeInfo: transport.NodeInfo{Name: "n2"}}
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
