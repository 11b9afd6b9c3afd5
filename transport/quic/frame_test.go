package quic

import (
	"runtime"
	"testing"
	"time"

	qgo "github.com/quic-go/quic-go"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/wire"
	"github.com/wasmactor/wasmactor/transport"
)

// authedRaw completes a genuine handshake on a raw connection, so the test
// can then misbehave as an authenticated peer.
func authedRaw(t *testing.T, addr string, name string) *qgo.Conn {
	t.Helper()
	conn := rawDial(t, addr)
	ekm, err := exporter(conn)
	require.NoError(t, err)
	str, err := conn.OpenStreamSync(joinCtx(t))
	require.NoError(t, err)
	h := newHandshaker(testCookie, hello{Version: protocolVersion, Role: roleNode, Name: name, Incarnation: 77, Addr: "127.0.0.1:9", MaxFrame: 1 << 20}, str, ekm)
	peer, err := h.client(nil)
	require.NoError(t, err)
	rawActivate(t, str, name, peer.Name)
	return conn
}

func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

func TestOverCapFrame(t *testing.T) {
	cfg := testConfig("s")
	cfg.MaxFrame = 64 << 10
	hs := newHandler()
	s := startNode(t, cfg, hs)
	conn := authedRaw(t, s.Self().Addr, "raw")
	require.True(t, hs.nextEvent(t, 5*time.Second).up)
	const claimed = 1 << 30 // what a trusting reader would allocate

	before := totalAlloc()
	// A call stream claiming a 1 GiB request: that stream is reset with
	// StreamFrameTooLarge, the connection lives on.
	for i := 0; i < 5; i++ {
		str, err := conn.OpenStreamSync(joinCtx(t))
		require.NoError(t, err)
		_, err = str.Write(wire.AppendHeader([]byte{streamCall}, claimed))
		require.NoError(t, err)
		str.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = str.Read(make([]byte, 1))
		var se *qgo.StreamError
		require.ErrorAs(t, err, &se)
		require.EqualValues(t, StreamFrameTooLarge, se.ErrorCode)
		require.True(t, se.Remote)
	}
	require.NoError(t, conn.Context().Err())
	require.Len(t, s.Members(), 1)

	// A lane frame over the cap ends the connection: a lane cannot skip a
	// frame and stay in order.
	lane, err := conn.OpenUniStream()
	require.NoError(t, err)
	_, err = lane.Write(wire.AppendHeader([]byte{streamLane, 0}, claimed))
	require.NoError(t, err)
	requireClosedWith(t, conn, CodeFrameTooLarge)
	ev := hs.nextEvent(t, 5*time.Second)
	require.False(t, ev.up)
	require.ErrorIs(t, ev.reason, transport.ErrNodeDown)
	require.Less(t, totalAlloc()-before, uint64(64<<20), "memory stays far below what the frames claimed")
}

func TestFrameCapsEnforcedLocally(t *testing.T) {
	cfg := testConfig("s")
	cfg.MaxFrame = 4096
	cfg.MaxRequest = 8192
	hs := newHandler()
	s := startNode(t, cfg, hs)
	a := startNode(t, testConfig("a"), newHandler())
	require.NoError(t, a.Join(joinCtx(t), []string{s.Self().Addr}))
	waitFor(t, 5*time.Second, "membership", func() bool { return len(a.Members()) == 1 })

	// The peer's cap was announced in its hello: a sender refuses what the
	// peer would reject, with the same typed error.
	big := transport.Envelope{To: 1, Payload: make([]byte, 5000)}
	err := a.Send("s", big)
	require.ErrorIs(t, err, transport.ErrFrameTooLarge)
	var tooLarge *wire.FrameTooLargeError
	require.ErrorAs(t, err, &tooLarge)
	require.Equal(t, 4096, tooLarge.Max)
	// Call requests from nodes have their own cap (a migration carries a
	// snapshot).
	_, err = a.Call(joinCtx(t), "s", transport.Control{Body: make([]byte, 5000)})
	require.NoError(t, err)
	_, err = a.Call(joinCtx(t), "s", transport.Control{Body: make([]byte, 9000)})
	require.ErrorIs(t, err, transport.ErrFrameTooLarge)

	// Many small envelopes that add up to more than the cap are split.
	envs := make([]transport.Envelope, 200)
	for i := range envs {
		envs[i] = transport.Envelope{To: 1, From: 1, Ref: uint64(i), Payload: make([]byte, 100)}
	}
	require.NoError(t, a.Send("s", envs...))
	got := 0
	for got < len(envs) {
		select {
		case b := <-hs.envs:
			for _, e := range b {
				require.EqualValues(t, got, e.Ref)
				got++
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d of %d envelopes", got, len(envs))
		}
	}
	require.NoError(t, a.Send("s", transport.Envelope{Payload: make([]byte, 3000)}))
	select {
	case b := <-hs.envs:
		require.Len(t, b[0].Payload, 3000)
	case <-time.After(5 * time.Second):
		t.Fatal("envelope under the cap not delivered")
	}
	require.Len(t, a.Members(), 1, "nothing broke the connection")
}
