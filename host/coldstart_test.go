package host_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
)

// With InterpretPulledModules, a cold remote spawn of a snapshotting
// factory answers from the interpreter before the compiler is done; once
// it is, the actor moves to the compiled code with its state (the bench
// guest's Blob counts its restores) and the interpreted instance closes.
// A factory that does not snapshot (Echo) waits for the compiler and never
// runs interpreted.
func TestColdModuleRunsOnTheInterpreterUntilCompiled(t *testing.T) {
	c := newCluster(t, 2, host.Config{InterpretPulledModules: true})
	n1, n2 := c.nodes[0], c.nodes[1]
	release := host.HoldBackgroundCompiles(n2)
	defer release()
	ctx := ctxT(t)
	hash := deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/bench"))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)

	blob, err := n1.Spawn(ctx, "Blob@"+hash, host.SpawnOptions{Node: "n2", Args: host.CBOR{0x19, 0x03, 0xe8}}) // 1000
	require.NoError(t, err)
	before := blobState(t, n1, blob)
	require.Equal(t, uint64(1000), before[0])
	require.Zero(t, before[2], "restores")
	require.True(t, host.Interpreted(n2, blob), "the compiler is held: Blob can only run interpreted")

	// Echo has no snapshots: its spawn waits for the compiler.
	type spawned struct {
		pid host.PID
		err error
	}
	echoDone := make(chan spawned, 1)
	go func() {
		pid, err := n1.Spawn(ctx, "Echo@"+hash, host.SpawnOptions{Node: "n2"})
		echoDone <- spawned{pid, err}
	}()
	// Blob still answers meanwhile, interpreted.
	require.Equal(t, before, blobState(t, n1, blob))
	select {
	case r := <-echoDone:
		t.Fatalf("a spawn of Echo, which does not snapshot, returned before the compile: %v %v", r.pid, r.err)
	default:
	}

	release()
	r := <-echoDone
	require.NoError(t, r.err)
	require.False(t, host.Interpreted(n2, r.pid), "Echo ran interpreted")
	echo, err := n1.Call(ctx, r.pid, host.CBOR{0x63, 'h', 'e', 'y'})
	require.NoError(t, err)
	require.Equal(t, host.CBOR{0x63, 'h', 'e', 'y'}, echo)

	require.Eventually(t, func() bool { return !host.Interpreted(n2, blob) }, 30*time.Second, 5*time.Millisecond, "Blob left the interpreter")
	after := blobState(t, n1, blob)
	require.Equal(t, before[:2], after[:2], "Blob's state moved with it")
	require.Equal(t, uint64(1), after[2], "Blob was restored once, in the compiled instance")
	require.Eventually(t, func() bool {
		inst, builds := host.InterpreterInstances(n2)
		return inst == 0 && builds == 0
	}, 30*time.Second, 5*time.Millisecond, "the interpreted instance and build were closed")
	require.Equal(t, uint64(1), n2.Pulls())
}

// An actor that leaves the interpreter while a sender floods it loses,
// duplicates and reorders nothing: its queued messages follow it to the
// compiled instance in order, and it is restored once.
func TestColdModuleHandOverKeepsOrder(t *testing.T) {
	c := newCluster(t, 2, host.Config{InterpretPulledModules: true, MailboxSize: 1 << 16})
	n1, n2 := c.nodes[0], c.nodes[1]
	release := host.HoldBackgroundCompiles(n2)
	defer release()
	ctx := ctxT(t)
	hash := deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/bench"))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	check, err := n1.Spawn(ctx, "SeqCheck@"+hash, host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	require.True(t, host.Interpreted(n2, check))
	send, err := n1.Spawn(ctx, "SeqSend@"+hash, host.SpawnOptions{Node: "n1"})
	require.NoError(t, err)

	// Rounds go on until the actor has left the interpreter, and a few
	// more; each waits for the checker's answer, which keeps the backlog
	// to about a round.
	const per, after, most = 50, 5, 5000
	rounds, extra := 0, -1
	for ; rounds < most && extra < after; rounds++ {
		require.NoError(t, n1.Send(ctx, send, []any{abiPID(check), 1, per}))
		if rounds == 3 {
			release()
		}
		seqOf(t, n1, check)
		if extra >= 0 || !host.Interpreted(n2, check) {
			extra++
		}
	}
	require.Equal(t, after, extra, "the actor did not leave the interpreter in %d rounds", most)
	require.Eventually(t, func() bool { return seqOf(t, n1, check).Received == uint64(rounds*per) }, 30*time.Second, 5*time.Millisecond)
	var st seqStatsR
	r, err := n1.Call(ctx, check, "stats")
	require.NoError(t, err)
	require.NoError(t, r.Decode(&st))
	require.Zero(t, st.Gaps)
	require.Zero(t, st.Dups)
	require.Zero(t, st.Reorders)
	require.Equal(t, uint64(1), st.Restores)
	require.Zero(t, seqOf(t, n1, send).Failed)
}

// A node that closes while a pulled module still compiles in the
// background closes cleanly: the compile is abandoned and the interpreted
// instances close with the node.
func TestCloseDuringBackgroundCompile(t *testing.T) {
	c := newCluster(t, 2, host.Config{InterpretPulledModules: true})
	n1, n2 := c.nodes[0], c.nodes[1]
	host.HoldBackgroundCompiles(n2) // never released
	ctx := ctxT(t)
	hash := deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/bench"))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	blob, err := n1.Spawn(ctx, "Blob@"+hash, host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	require.True(t, host.Interpreted(n2, blob))
	require.NoError(t, n2.Close())
	inst, _ := host.InterpreterInstances(n2)
	require.Zero(t, inst)
}

// blobState asks a bench guest Blob for [len, sum, restores].
func blobState(t *testing.T, n *host.Node, pid host.PID) [3]uint64 {
	t.Helper()
	r, err := n.Call(ctxT(t), pid, host.CBOR{0xf6})
	require.NoError(t, err)
	var out [3]uint64
	require.NoError(t, r.Decode(&out), "Blob replied %x", []byte(r))
	return out
}
