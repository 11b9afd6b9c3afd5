package quic

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/transport"
)

// TestFenceComesAfterEverythingBefore: envelopes for many pairs (so on
// every lane), then a fence: the receiver gets one copy per lane, each
// copy after everything its lane carried before, so once it has all the
// copies it has everything sent before the Fence.
func TestFenceComesAfterEverythingBefore(t *testing.T) {
	const pairs, per = 64, 50
	hb := newHandler()
	var mu sync.Mutex
	seen := 0
	copies, status := 0, 0
	early := false
	hb.onEnvelopes = func(_ transport.NodeInfo, envs []transport.Envelope) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range envs {
			if e.Kind == 201 {
				copies++
				status = int(e.Status)
				continue
			}
			if copies > 0 && copies == status {
				early = true // a message after the last copy: the fence overtook it
			}
			seen++
		}
	}
	a := startNode(t, testConfig("a"), newHandler())
	b := startNode(t, testConfig("b"), hb)
	require.NoError(t, a.Join(joinCtx(t), []string{b.Self().Addr}))
	waitFor(t, 5*time.Second, "membership", func() bool { return len(a.Members()) == 1 })
	for i := range per {
		for p := range pairs {
			require.NoError(t, a.Send("b", transport.Envelope{From: uint64(p + 1), To: 7, Ref: uint64(i), Payload: []byte("x")}))
		}
	}
	require.NoError(t, a.Fence("b", transport.Envelope{Kind: 201, To: 7, Ref: 1}))
	waitFor(t, 10*time.Second, "every copy of the fence", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return copies > 0 && copies == status
	})
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, a.cfg.Lanes, status, "one copy per lane")
	require.Equal(t, pairs*per, seen, "everything sent before the fence came before its last copy")
	require.False(t, early)
	require.Error(t, a.Fence("nobody", transport.Envelope{Kind: 201}))
}
