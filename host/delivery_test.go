package host_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
	"github.com/wasmactor/wasmactor/internal/memtransport"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

func sameTransport(_ int, tr transport.Transport) transport.Transport { return tr }

func actorInfo(t *testing.T, n *host.Node, pid host.PID) host.ActorInfo {
	t.Helper()
	for _, a := range n.Actors() {
		if a.PID == pid {
			return a
		}
	}
	t.Fatalf("%s is not listed on %s", pid, n.Name())
	return host.ActorInfo{}
}

// A guest floods an actor on another node whose mailbox holds 4 messages.
// Every tell is either delivered or refused back to the sending node and
// counted against the sending actor: none is lost without its sender's
// node knowing. (On main the receiver dropped and counted them itself: the
// reported run had 1,950 of 2,000 dropped and 0 failed at the sender.)
func TestRemoteTellsIntoAFullMailboxAreCountedAgainstTheSender(t *testing.T) {
	c := newHookedCluster(t, 2, func(i int) host.Config {
		if i == 1 {
			return host.Config{MailboxSize: 4}
		}
		return host.Config{}
	}, sameTransport)
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	sink, src := spawnPair(t, c, "testdata/guests/bench", "Sink", "Source")

	const total = 2000
	require.NoError(t, n1.Send(ctx, src, []any{abiPID(sink), total}))
	var sent struct {
		Sent   uint64 `cbor:"sent"`
		Failed uint64 `cbor:"failed"`
	}
	require.Eventually(t, func() bool {
		r, err := n1.Call(ctx, src, "stats")
		require.NoError(t, err)
		require.NoError(t, r.Decode(&sent))
		return sent.Sent+sent.Failed == total
	}, 20*time.Second, 5*time.Millisecond)
	require.Zero(t, sent.Failed, "the send queue to n2 holds 2000 tells: the guest sees every send succeed")

	var received, refused uint64
	require.Eventually(t, func() bool {
		r, err := n2.Call(ctx, sink, "count")
		if errors.Is(err, wasmactor.ErrMailboxFull) {
			return false // the ask met the flood: the sink's mailbox is full still
		}
		require.NoError(t, err)
		var s struct {
			Count uint64 `cbor:"count"`
		}
		require.NoError(t, r.Decode(&s))
		received, refused = s.Count, actorInfo(t, n1, src).Refused
		return received+refused == total
	}, 20*time.Second, 5*time.Millisecond, "every tell is delivered or refused")
	t.Logf("%d delivered, %d refused", received, refused)
	require.NotZero(t, refused, "a mailbox of 4 cannot take a burst of 2000")
	require.Equal(t, refused, n1.Stats().RemoteRefused)
	require.GreaterOrEqual(t, n2.Stats().MailboxFull, refused, "the receiver counts them too (and any of the asks above it refused)")
	require.Zero(t, n2.Stats().RefusalsLost)
	require.Zero(t, actorInfo(t, n2, sink).Refused)
}

// A tell from the Go API to an actor that does not exist on another node
// returns before the far node looks; its refusal comes back and is
// counted in the sending node's Stats.
func TestRemoteTellToNoActorIsCountedInStats(t *testing.T) {
	c := newCluster(t, 2, host.Config{})
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	ghost := host.PID{Node: "n2", Incarnation: n2.Incarnation(), Serial: 999}
	for range 3 {
		require.NoError(t, n1.Send(ctx, ghost, "hello?"))
	}
	require.Eventually(t, func() bool { return n1.Stats().RemoteRefused == 3 }, 10*time.Second, time.Millisecond)
}

// rawPeer is a bare transport node in a memtransport network, recording
// what it receives: a test speaks the wire protocol to a host through it.
type rawPeer struct {
	tr   transport.Transport
	envs chan transport.Envelope
}

func newRawPeer(t *testing.T, net *memtransport.Network, name string, incarnation uint64) *rawPeer {
	t.Helper()
	p := &rawPeer{tr: net.NewNode(name, incarnation), envs: make(chan transport.Envelope, 64)}
	require.NoError(t, p.tr.Start(context.Background(), rawHandler{p}))
	t.Cleanup(func() { _ = p.tr.Close() })
	return p
}

type rawHandler struct{ p *rawPeer }

func (h rawHandler) HandleEnvelopes(_ transport.NodeInfo, envs []transport.Envelope) {
	for _, e := range envs {
		h.p.envs <- e
	}
}
func (rawHandler) HandleCast(transport.NodeInfo, transport.Control) {}
func (rawHandler) HandleCall(context.Context, transport.PeerInfo, transport.Control) ([]byte, error) {
	return nil, wasmactor.ErrBadArgument
}
func (rawHandler) ServeBlob(context.Context, transport.PeerInfo, string) ([]byte, error) {
	return nil, wasmactor.ErrNotFound
}
func (rawHandler) NodeUp(transport.NodeInfo)          {}
func (rawHandler) NodeDown(transport.NodeInfo, error) {}

func (p *rawPeer) next(t *testing.T) transport.Envelope {
	t.Helper()
	select {
	case e := <-p.envs:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no envelope within 10s")
		return transport.Envelope{}
	}
}

// The wire side of refusals: a tell for a stale incarnation or a missing
// actor comes back as a REFUSED envelope (kind 64) naming the sender, the
// target and the reason.
func TestRefusedEnvelopesOnTheWire(t *testing.T) {
	c := newCluster(t, 1, host.Config{})
	n1 := c.nodes[0]
	peer := newRawPeer(t, c.net, "x", 77)
	require.NoError(t, peer.tr.Join(ctxT(t), []string{"n1"}))
	require.Eventually(t, func() bool { return len(n1.Members()) == 1 }, 10*time.Second, time.Millisecond)

	require.NoError(t, peer.tr.Send("n1",
		transport.Envelope{Kind: uint8(abi.KindTell), ToIncarnation: n1.Incarnation() + 1, To: 5, From: 7, Payload: []byte{0xf6}},
		transport.Envelope{Kind: uint8(abi.KindTell), ToIncarnation: n1.Incarnation(), To: 999, From: 8, Payload: []byte{0xf6}},
	))
	got := []transport.Envelope{peer.next(t), peer.next(t)}
	require.ElementsMatch(t, []transport.Envelope{
		{Kind: 64, Status: uint16(abi.StaleIncarnation), ToIncarnation: 77, To: 7, From: 5},
		{Kind: 64, Status: uint16(abi.NoProc), ToIncarnation: 77, To: 8, From: 999},
	}, got)
}

// castHookOn wraps node i's transport so that f may fail each of its casts
// (nil: sent).
func castHookOn(node int, f func(msg transport.Control) error) func(i int, tr transport.Transport) transport.Transport {
	return func(i int, tr transport.Transport) transport.Transport {
		if i != node {
			return tr
		}
		return &hookTransport{Transport: tr, castErr: func(_ string, msg transport.Control) error { return f(msg) }}
	}
}

// failCasts makes n1's transport refuse casts of the given kinds while on
// is set, as a full control queue would.
func failCasts(on *atomic.Bool, kinds ...uint16) func(i int, tr transport.Transport) transport.Transport {
	return castHookOn(0, func(msg transport.Control) error {
		if on.Load() && slices.Contains(kinds, msg.Kind) {
			return transport.ErrQueueFull
		}
		return nil
	})
}

// spawnPair deploys a guest from n1 and spawns factory remote on n2 and
// factory local on n1.
func spawnPair(t *testing.T, c *testCluster, guest, remote, local string) (onN2, onN1 host.PID) {
	t.Helper()
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	deploy(t, n1, guestbuildtest.Build(t, guest))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	onN2, err := n1.Spawn(ctx, remote, host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	onN1, err = n1.Spawn(ctx, local, host.SpawnOptions{Node: "n1"})
	require.NoError(t, err)
	return onN2, onN1
}

// probesOn spawns a Probe on n2 (the target) and one on n1.
func probesOn(t *testing.T, c *testCluster) (target, local host.PID) {
	return spawnPair(t, c, "testdata/guests/probe", "Probe", "Probe")
}

// probeDo has a probe run one command (testdata/guests/probe) and returns
// the error text it answered ("" for none).
func probeDo(t *testing.T, n *host.Node, pid host.PID, cmd map[string]any) string {
	t.Helper()
	r, err := n.Call(ctxT(t), pid, cmd)
	require.NoError(t, err)
	var res struct {
		Err string `cbor:"err"`
	}
	require.NoError(t, r.Decode(&res))
	return res.Err
}

// probeEvents waits until a probe has recorded at least k events (downs,
// exits...) and returns them all, as "kind: reason".
func probeEvents(t *testing.T, n *host.Node, pid host.PID, k int) []string {
	t.Helper()
	r, err := n.Call(ctxT(t), pid, map[string]any{"op": "events", "n": k})
	require.NoError(t, err)
	var res struct {
		Events []struct {
			Kind   string `cbor:"kind"`
			Reason string `cbor:"reason"`
		} `cbor:"events"`
	}
	require.NoError(t, r.Decode(&res))
	var out []string
	for _, e := range res.Events {
		out = append(out, e.Kind+": "+e.Reason)
	}
	return out
}

// Monitor and link requests that n1 cannot send to n2 (its control queue is
// full) fail to whoever asked: a monitor fires at once with "noconnection",
// as Erlang's does for an unreachable node; a link, kill or stop is an
// error. Later events on the target do not fire the monitor a second time.
// Before d1922a5 (main, in parallel with this test) the requests were
// dropped: no Down ever came and Link returned nil. Stop is checked here
// as the remote Stop's own message (KindStop) is new.
func TestMonitorAndLinkThatCannotBeSentFailToTheCaller(t *testing.T) {
	var failing atomic.Bool
	c := newHookedCluster(t, 2, func(int) host.Config { return host.Config{} },
		failCasts(&failing, proto.KindMonitor, proto.KindLink, proto.KindKill, proto.KindStop))
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	target, local := probesOn(t, c)
	anchor, err := n1.Spawn(ctx, "Probe", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)

	failing.Store(true)
	// The Go API.
	mon, err := n1.Monitor(ctx, target)
	require.NoError(t, err)
	require.Equal(t, host.Down{PID: target, Reason: wasmactor.ReasonNoConnection}, waitDown(t, mon, 10*time.Second))
	require.ErrorIs(t, n1.Link(ctx, local, target), wasmactor.ErrMailboxFull)
	require.ErrorIs(t, n1.Kill(ctx, target, "bye"), wasmactor.ErrMailboxFull)
	require.ErrorIs(t, n1.Stop(ctx, target), wasmactor.ErrMailboxFull)

	// A guest.
	require.Empty(t, probeDo(t, n1, local, map[string]any{"op": "monitor", "pid": abiPID(target)}))
	require.Equal(t, []string{"down: " + wasmactor.ReasonNoConnection}, probeEvents(t, n1, local, 1))
	require.Contains(t, probeDo(t, n1, local, map[string]any{"op": "link", "pid": abiPID(target)}), "mailbox full")

	// Nothing was set up on n2: the target's death fires nothing more.
	failing.Store(false)
	require.NoError(t, n1.Kill(ctx, target, "bye"))
	syncCasts(t, n2, n1, anchor, "after-kill") // n2 → n1 casts handled
	noDown(t, mon)
	require.Equal(t, []string{"down: " + wasmactor.ReasonNoConnection}, probeEvents(t, n1, local, 1), "no second down, no exit")
}

// A transport may reset the connection instead of refusing a cast: then
// node-down fires the monitor, and the failed send must not fire it again.
func TestMonitorWhoseSendResetsTheConnectionFiresOnce(t *testing.T) {
	var c *testCluster
	var reset atomic.Bool
	c = newHookedCluster(t, 2, func(int) host.Config { return host.Config{} }, castHookOn(0, func(msg transport.Control) error {
		if msg.Kind == proto.KindMonitor && reset.Load() {
			c.net.Partition("n1", "n2") // returns once both sides handled NodeDown
			return transport.ErrNodeDown
		}
		return nil
	}))
	n1 := c.nodes[0]
	target, local := probesOn(t, c)

	reset.Store(true)
	require.Empty(t, probeDo(t, n1, local, map[string]any{"op": "monitor", "pid": abiPID(target)}))
	// Every would-be Down was queued during the monitoring turn, so the
	// turn that answers this sees them all.
	require.Equal(t, []string{"down: " + wasmactor.ReasonNoConnection}, probeEvents(t, n1, local, 1))
}

// A Down that finds the control queue to the watcher's node full is sent
// again, not lost: an accepted monitor fires. Before d1922a5 (main) it
// was dropped and the monitor never fired.
func TestDownThatFindsAFullQueueIsRetried(t *testing.T) {
	var first atomic.Bool
	first.Store(true)
	c := newHookedCluster(t, 2, func(int) host.Config { return host.Config{} }, castHookOn(1, func(msg transport.Control) error {
		if msg.Kind == proto.KindDown && first.CompareAndSwap(true, false) {
			return transport.ErrQueueFull
		}
		return nil
	}))
	n1, n2 := c.nodes[0], c.nodes[1]
	ctx := ctxT(t)
	target, local := probesOn(t, c)
	mon, err := n1.Monitor(ctx, target)
	require.NoError(t, err)
	syncCasts(t, n1, n2, local, "monitored") // the monitor reached n2
	require.NoError(t, n2.Kill(ctx, target, "bye"))
	require.Equal(t, "bye", waitDown(t, mon, 10*time.Second).Reason)
	require.False(t, first.Load(), "the first Down was refused")
}

// Posted tells (the SDK's batched sends, one send_batch call for many)
// flood a SeqCheck whose mailbox holds 16: every one is delivered in
// order or refused to its sender, which counts it, and a refused one
// shows as a gap, never as a reordering or a silent loss. Posts to an
// actor that does not exist are all refused and counted.
func TestPostedTellsKeepTheirOrderAndRefusalsReachTheSender(t *testing.T) {
	n := newNode(t, host.Config{MailboxSize: 16})
	ctx := ctxT(t)
	deploy(t, n, guestbuildtest.Build(t, "testdata/guests/bench"))
	check, err := n.Spawn(ctx, "SeqCheck", host.SpawnOptions{Isolated: true})
	require.NoError(t, err)
	send, err := n.Spawn(ctx, "SeqSend", host.SpawnOptions{Isolated: true})
	require.NoError(t, err)

	type sendStats struct {
		Sent   uint64 `cbor:"sent"`
		Failed uint64 `cbor:"failed"`
	}
	stats := func() sendStats {
		r, err := n.Call(ctx, send, "stats")
		require.NoError(t, err)
		var s sendStats
		require.NoError(t, r.Decode(&s))
		return s
	}
	const total = 5000
	require.NoError(t, n.Send(ctx, send, []any{abiPID(check), 1, total, 1}))
	s := stats() // after the posting turn: every post was sent or refused
	require.Equal(t, uint64(total), s.Sent+s.Failed)

	var got struct {
		Received uint64 `cbor:"received"`
		Gaps     uint64 `cbor:"gaps"`
		Dups     uint64 `cbor:"dups"`
		Reorders uint64 `cbor:"reorders"`
	}
	require.Eventually(t, func() bool {
		r, err := n.Call(ctx, check, "stats")
		if errors.Is(err, wasmactor.ErrMailboxFull) {
			return false // behind the flood still
		}
		require.NoError(t, err)
		require.NoError(t, r.Decode(&got))
		return got.Received == s.Sent
	}, 60*time.Second, time.Millisecond, "every post the host took is delivered")
	t.Logf("%d delivered, %d refused", s.Sent, s.Failed)
	require.Zero(t, got.Dups)
	require.Zero(t, got.Reorders)
	// A refusal is a hole in the seqs, unless it was the last ones.
	require.LessOrEqual(t, got.Gaps, s.Failed)

	// To nobody: every post refused, every refusal counted.
	nobody := host.PID{Node: n.Name(), Incarnation: check.Incarnation, Serial: 1 << 40}
	require.NoError(t, n.Send(ctx, send, []any{abiPID(nobody), 2, 100, 1}))
	require.Equal(t, sendStats{Sent: s.Sent, Failed: s.Failed + 100}, stats())
}

// Posted tells to an actor on another node leave in runs, one transport
// send per run: in order, and each one delivered, refused to the guest
// (the send queue was full: the run then goes one by one) or refused by
// the far node's full mailbox and counted against the sending actor.
// Nothing is lost without its sender's knowing.
func TestPostedRemoteTellsAreDeliveredInOrderOrRefused(t *testing.T) {
	for _, queue := range []int{0, 64} {
		t.Run(fmt.Sprintf("queue=%d", queue), func(t *testing.T) {
			c := newHookedCluster(t, 2, func(i int) host.Config {
				if i == 1 {
					return host.Config{MailboxSize: 256}
				}
				return host.Config{}
			}, sameTransport)
			if queue > 0 {
				c.net.SetQueueLimit(queue) // runs of posts meet a full queue: they go one by one
			}
			n1, n2 := c.nodes[0], c.nodes[1]
			ctx := ctxT(t)
			check, send := spawnPair(t, c, "testdata/guests/bench", "SeqCheck", "SeqSend")

			const total = 5000
			require.NoError(t, n1.Send(ctx, send, []any{abiPID(check), 1, total, 1}))
			var s struct {
				Sent   uint64 `cbor:"sent"`
				Failed uint64 `cbor:"failed"`
			}
			r, err := n1.Call(ctx, send, "stats")
			require.NoError(t, err)
			require.NoError(t, r.Decode(&s))
			require.Equal(t, uint64(total), s.Sent+s.Failed, "every post was sent or refused to the guest")

			var got struct {
				Received uint64 `cbor:"received"`
				Dups     uint64 `cbor:"dups"`
				Reorders uint64 `cbor:"reorders"`
			}
			var refused uint64
			require.Eventually(t, func() bool {
				r, err := n2.Call(ctx, check, "stats")
				if errors.Is(err, wasmactor.ErrMailboxFull) {
					return false
				}
				require.NoError(t, err)
				require.NoError(t, r.Decode(&got))
				refused = actorInfo(t, n1, send).Refused
				return got.Received+refused == s.Sent
			}, 60*time.Second, time.Millisecond, "every post the transport took is delivered or refused back")
			t.Logf("%d delivered, %d refused by n2, %d refused at n1", got.Received, refused, s.Failed)
			// With a queue of 64, refusals find n2's queue back to n1 full:
			// their counts wait in the control backlog instead of being lost.
			require.Zero(t, n2.Stats().RefusalsLost)
			require.Zero(t, got.Dups)
			require.Zero(t, got.Reorders)
		})
	}
}
