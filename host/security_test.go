package host_test

import (
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// TestReplyCountsOnlyFromTheActorAsked: a guest that gets hold of another
// actor's pending ask (here handed to it on purpose) cannot answer it; the
// caller gets the answer of the actor it asked.
func TestReplyCountsOnlyFromTheActorAsked(t *testing.T) {
	n := newNode(t, host.Config{})
	deploy(t, n, guestbuildtest.Build(t, "testdata/guests/replier"))
	ctx := ctxT(t)
	asked, err := n.Spawn(ctx, "Replier", host.SpawnOptions{})
	require.NoError(t, err)
	forger, err := n.Spawn(ctx, "Replier", host.SpawnOptions{})
	require.NoError(t, err)

	type result struct {
		reply host.CBOR
		err   error
	}
	held := make(chan result, 1)
	go func() {
		r, err := n.Call(ctx, asked, map[string]any{"op": "hold"})
		held <- result{r, err}
	}()
	// Messages from one sender arrive in order, so "leak" sees the held ask
	// once the hold has been delivered; retry until it has.
	var leaked host.CBOR
	for {
		leaked, err = n.Call(ctx, asked, map[string]any{"op": "leak"})
		require.NoError(t, err)
		var probe struct{ Ref uint64 } // the SDK's Request, as the guest encodes it
		require.NoError(t, cbor.Unmarshal(leaked, &probe))
		if probe.Ref != 0 {
			break
		}
		require.NoError(t, ctx.Err())
	}

	done, err := n.Call(ctx, forger, map[string]any{"op": "forge", "req": cbor.RawMessage(leaked)})
	require.NoError(t, err)
	var s string
	require.NoError(t, done.Decode(&s))
	require.Equal(t, "done", s)
	// The forged reply was handled before "done": had it counted, the held
	// call would already be complete.
	select {
	case r := <-held:
		t.Fatalf("the held call was answered by another actor: %q, %v", r.reply, r.err)
	default:
	}

	require.NoError(t, n.Send(ctx, asked, map[string]any{"op": "answer"}))
	select {
	case r := <-held:
		require.NoError(t, r.err)
		require.NoError(t, r.reply.Decode(&s))
		require.Equal(t, "genuine", s)
	case <-ctx.Done():
		t.Fatal("the genuine answer never arrived")
	}
}
