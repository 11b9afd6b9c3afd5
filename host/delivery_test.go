package host_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/host"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/guestbuild/guestbuildtest"
	"github.com/wasmactor/wasmactor/internal/memtransport"
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
	deploy(t, n1, guestbuildtest.Build(t, "testdata/guests/bench"))
	require.Eventually(t, func() bool { return len(n2.Modules()) == 1 }, 5*time.Second, 5*time.Millisecond)
	sink, err := n1.Spawn(ctx, "Sink", host.SpawnOptions{Node: "n2"})
	require.NoError(t, err)
	src, err := n1.Spawn(ctx, "Source", host.SpawnOptions{Node: "n1"})
	require.NoError(t, err)

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
	require.Equal(t, refused, n2.Stats().MailboxFull, "the receiver counts them too")
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
