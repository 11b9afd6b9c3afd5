package quic

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/transport"
)

func TestTwoNodesTalk(t *testing.T) {
	ha, hb := newHandler(), newHandler()
	a := startNode(t, testConfig("a"), ha)
	b := startNode(t, testConfig("b"), hb)
	require.NoError(t, a.Join(joinCtx(t), []string{b.Self().Addr}))

	ev := ha.nextEvent(t, 5*time.Second)
	require.True(t, ev.up)
	require.Equal(t, b.Self(), ev.peer)
	ev = hb.nextEvent(t, 5*time.Second)
	require.True(t, ev.up)
	require.Equal(t, a.Self(), ev.peer)
	require.Equal(t, []transport.NodeInfo{b.Self()}, a.Members())
	require.Equal(t, []transport.NodeInfo{a.Self()}, b.Members())

	require.NoError(t, a.Send("b", transport.Envelope{Kind: 1, To: 2, From: 3, Payload: []byte("hi")}))
	select {
	case envs := <-hb.envs:
		require.Len(t, envs, 1)
		require.Equal(t, []byte("hi"), envs[0].Payload)
		require.EqualValues(t, 2, envs[0].To)
	case <-time.After(5 * time.Second):
		t.Fatal("envelope not delivered")
	}

	require.NoError(t, b.Cast("a", transport.Control{Kind: 9, Body: []byte("cast")}))
	select {
	case c := <-ha.casts:
		require.Equal(t, transport.Control{Kind: 9, Body: []byte("cast")}, c)
	case <-time.After(5 * time.Second):
		t.Fatal("cast not delivered")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := a.Call(ctx, "b", transport.Control{Kind: 1, Body: []byte("q")})
	require.NoError(t, err)
	require.Equal(t, "echo:q", string(out))

	// A module-sized request fits the default request cap.
	module := make([]byte, 5<<20)
	module[len(module)-1] = 7
	hb.setCall(func(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error) {
		return []byte{byte(len(req.Body) >> 20), req.Body[len(req.Body)-1]}, nil
	})
	out, err = a.Call(ctx, "b", transport.Control{Kind: 2, Body: module})
	require.NoError(t, err)
	require.Equal(t, []byte{5, 7}, out)

	hb.setCall(func(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error) {
		return nil, &transport.RemoteError{Code: 42, Message: "nope"}
	})
	_, err = a.Call(ctx, "b", transport.Control{Kind: 1})
	var re *transport.RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, uint16(42), re.Code)

	blob := make([]byte, 3<<20)
	for i := range blob {
		blob[i] = byte(i)
	}
	hb.mu.Lock()
	hb.blobs["m1"] = blob
	hb.mu.Unlock()
	got, err := a.FetchBlob(ctx, "b", "m1", 4<<20)
	require.NoError(t, err)
	require.Equal(t, blob, got)
	_, err = a.FetchBlob(ctx, "b", "m1", 1<<20)
	require.ErrorIs(t, err, wasmactor.ErrTooLarge)
	_, err = a.FetchBlob(ctx, "b", "nope", 1<<20)
	require.ErrorAs(t, err, &re)

	require.ErrorIs(t, a.Send("zz", transport.Envelope{}), transport.ErrNodeDown)

	// A clean close is reported as a leave, at once.
	require.NoError(t, b.Close())
	ev = ha.nextEvent(t, 5*time.Second)
	require.False(t, ev.up)
	require.ErrorIs(t, ev.reason, transport.ErrPeerLeft)
	ev = hb.nextEvent(t, 5*time.Second)
	require.False(t, ev.up)
	require.ErrorIs(t, b.Send("a", transport.Envelope{}), wasmactor.ErrClosed)
	require.ErrorIs(t, b.Send("a", transport.Envelope{}), net.ErrClosed)
	require.ErrorIs(t, b.Start(context.Background(), hb), net.ErrClosed)
	require.ErrorIs(t, b.Join(context.Background(), []string{a.Self().Addr}), net.ErrClosed)
	require.NoError(t, b.Close())
}
