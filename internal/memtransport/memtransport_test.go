package memtransport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/transporttest"
	"github.com/wasmactor/wasmactor/transport"
)

var bg = context.Background()

func TestJoinErrors(t *testing.T) {
	c := newCluster(t, "n1")
	err := c.tr["n1"].Join(bg, []string{"ghost"})
	require.ErrorIs(t, err, transport.ErrNodeDown)
	require.ErrorContains(t, err, "ghost")
	require.NoError(t, c.tr["n1"].Join(bg, nil))
	require.NoError(t, c.tr["n1"].Join(bg, []string{"n1"}), "a node among its own seeds")

	unstarted := c.nw.NewNode("n2", 1)
	require.ErrorIs(t, unstarted.Join(bg, []string{"n1"}), errNotStarted)
	require.ErrorIs(t, c.tr["n1"].Join(bg, []string{"n2"}), transport.ErrNodeDown, "a node that has not started does not listen")
	require.ErrorIs(t, unstarted.Send("n1"), errNotStarted)

	ctx, cancel := context.WithCancel(bg)
	cancel()
	require.ErrorIs(t, c.tr["n1"].Join(ctx, []string{"n1"}), context.Canceled)

	require.Error(t, c.tr["n1"].Start(bg, transporttest.NewRecorder(t, "again")), "Start twice")
	require.Panics(t, func() { c.nw.NewNode("n1", 2) }, "duplicate live name")
}

// TestPayloadCopied: the receiver sees the bytes as they were at Send, and
// the sender's buffer is not touched by the receiver's writes.
func TestPayloadCopied(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	require.NoError(t, c.tr["n1"].Join(bg, []string{"n2"}))
	got := make(chan []byte, 1)
	payload := []byte("hello")
	c.recs["n2"].OnEnvelopes = func(_ transport.NodeInfo, envs []transport.Envelope) {
		got <- bytes.Clone(envs[0].Payload)
		for i := range envs[0].Payload { // the handler owns the payload
			envs[0].Payload[i] = 0xEE
		}
	}
	require.NoError(t, c.tr["n1"].Send("n2", transport.Envelope{Payload: payload}))
	copy(payload, "XXXXX")
	require.Equal(t, []byte("hello"), <-got)
	c.recs["n2"].Wait("envelope recorded", func() bool { return len(c.recs["n2"].Envelopes("n1")) == 1 })
	require.Equal(t, []byte("XXXXX"), payload, "the receiver scribbled on its own copy only")

	body := []byte("cast body")
	require.NoError(t, c.tr["n1"].Cast("n2", transport.Control{Kind: 1, Body: body}))
	copy(body, "zzzz")
	c.recs["n2"].Wait("cast", func() bool { return len(c.recs["n2"].Casts("n1")) == 1 })
	require.Equal(t, "cast body", string(c.recs["n2"].Casts("n1")[0].Body))
}

func TestSendErrors(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	err := c.tr["n1"].Send("n2", transport.Envelope{})
	require.ErrorIs(t, err, transport.ErrNodeDown, "not connected")
	require.ErrorIs(t, err, wasmactor.ErrNodeDown)
	require.ErrorIs(t, c.tr["n1"].Cast("n2", transport.Control{}), transport.ErrNodeDown)
	require.ErrorIs(t, c.tr["n1"].Send("n1", transport.Envelope{}), transport.ErrNodeDown, "self is not a member")
	require.NoError(t, c.tr["n1"].Join(bg, []string{"n2"}))
	require.NoError(t, c.tr["n1"].Send("n2"), "nothing to send")
	// A link cut before NodeUp was delivered is never reported at all, so
	// wait for it before testing the leave.
	c.recs["n2"].Wait("n1 up", func() bool { return c.recs["n2"].Up("n1") })

	require.NoError(t, c.tr["n1"].Close())
	require.NoError(t, c.tr["n1"].Close(), "idempotent")
	err = c.tr["n1"].Send("n2", transport.Envelope{})
	require.ErrorIs(t, err, wasmactor.ErrClosed)
	require.ErrorIs(t, err, net.ErrClosed)
	require.ErrorIs(t, c.tr["n1"].Start(bg, transporttest.NewRecorder(t, "x")), net.ErrClosed)
	_, err = c.tr["n1"].Call(bg, "n2", transport.Control{})
	require.ErrorIs(t, err, net.ErrClosed)
	require.Empty(t, c.tr["n1"].Members())
	c.recs["n2"].Wait("n1 left", func() bool { return len(c.recs["n2"].Events()) == 2 })
	require.Contains(t, eventStrings(c.recs["n2"])[1], "peer left")
	require.Empty(t, c.tr["n2"].Members())
}

func TestQueueFull(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	c.nw.SetQueueLimit(4)
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	c.recs["n2"].OnEnvelopes = func(transport.NodeInfo, []transport.Envelope) {
		once.Do(func() { close(entered); <-release })
	}
	require.NoError(t, c.tr["n1"].Join(bg, []string{"n2"}))
	tr := c.tr["n1"]
	env := func(i int) transport.Envelope { return transport.Envelope{From: 1, To: uint64(i)} }

	require.NoError(t, tr.Send("n2", env(0)))
	<-entered // the receiver holds envelope 0; the queue is empty again
	require.NoError(t, tr.Send("n2", env(1), env(2)))
	err := tr.Send("n2", env(3), env(4), env(5))
	require.ErrorIs(t, err, transport.ErrQueueFull, "3 more do not fit in 4")
	require.NoError(t, tr.Send("n2", env(3), env(4)), "nothing of the refused batch was queued")
	require.ErrorIs(t, tr.Send("n2", env(5)), transport.ErrQueueFull)
	close(release)
	r := c.recs["n2"]
	r.Wait("5 envelopes", func() bool { return len(r.Envelopes("n1")) == 5 })
	for i, e := range r.Envelopes("n1") {
		require.EqualValues(t, i, e.To)
	}
	require.NoError(t, tr.Send("n2", env(5)), "room again")
}

// TestCallEndsWithTheLink: a call whose link is cut fails with the NodeDown
// reason and its handler's context ends.
func TestCallEndsWithTheLink(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	require.NoError(t, c.tr["n1"].Join(bg, []string{"n2"}))
	entered := make(chan struct{}, 1)
	c.recs["n2"].OnCall = func(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error) {
		entered <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	go func() {
		<-entered
		c.nw.Partition("n1", "n2")
	}()
	_, err := c.tr["n1"].Call(bg, "n2", transport.Control{})
	require.ErrorIs(t, err, ErrPartitioned)
	require.ErrorIs(t, err, transport.ErrNodeDown)
}

// TestKilledNodeHearsNothing: Kill returns once the peers' NodeDown
// returned; the killed node gets no NodeDown of its own, its methods fail
// as closed, and its name can be used again by a new incarnation.
func TestKilledNodeHearsNothing(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	require.NoError(t, c.tr["n2"].Join(bg, []string{"n1"}))
	c.recs["n2"].Wait("n1 up", func() bool { return c.recs["n2"].Up("n1") })
	c.recs["n1"].Wait("n2 up", func() bool { return c.recs["n1"].Up("n2") })
	c.nw.Kill("n2")
	require.Equal(t, []string{"up n2/1", "down n2/1 " + ErrPeerKilled.Error()}, eventStrings(c.recs["n1"]))
	require.Equal(t, []string{"up n1/1"}, eventStrings(c.recs["n2"]), "the killed node hears nothing")
	require.ErrorIs(t, c.tr["n2"].Send("n1", transport.Envelope{}), net.ErrClosed)
	c.nw.Kill("n2") // unknown now: ignored
	require.NoError(t, c.tr["n2"].Close())
	c.add(t, "n2", 2)
	require.NoError(t, c.tr["n2"].Join(bg, []string{"n1"}))
	c.recs["n1"].Wait("n2 back", func() bool { return c.recs["n1"].Up("n2") })
	require.Equal(t, "up n2/2", eventStrings(c.recs["n1"])[2])
}

func TestPartitionHeal(t *testing.T) {
	c := newCluster(t, "n1", "n2", "n3")
	require.NoError(t, c.tr["n1"].Join(bg, []string{"n2"}))
	r1, r2, r3 := c.recs["n1"], c.recs["n2"], c.recs["n3"]
	r1.Wait("n2 up", func() bool { return r1.Up("n2") })
	r2.Wait("n1 up", func() bool { return r2.Up("n1") })

	c.nw.Partition("n1", "n2")
	require.Equal(t, []string{"up n2/1", "down n2/1 " + ErrPartitioned.Error()}, eventStrings(r1))
	require.Equal(t, []string{"up n1/1", "down n1/1 " + ErrPartitioned.Error()}, eventStrings(r2))
	require.ErrorIs(t, c.tr["n1"].Send("n2", transport.Envelope{}), transport.ErrNodeDown)
	require.ErrorIs(t, c.tr["n1"].Join(bg, []string{"n2"}), ErrPartitioned, "a partition refuses dials")
	c.nw.Partition("n1", "n2") // twice: nothing more happens

	// n3 joins both sides; the mesh does not cross the partition.
	require.NoError(t, c.tr["n3"].Join(bg, []string{"n1", "n2"}))
	require.Equal(t, []string{"n3"}, memberNames(c.tr["n1"]))
	require.Equal(t, []string{"n1", "n2"}, memberNames(c.tr["n3"]))

	c.nw.Heal("n1", "n2")
	require.Equal(t, []string{"n2", "n3"}, memberNames(c.tr["n1"]))
	r1.Wait("n2 up again", func() bool { return r1.Up("n2") })
	r2.Wait("n1 up again", func() bool { return r2.Up("n1") })
	r3.Wait("both", func() bool { return r3.Up("n1") && r3.Up("n2") })
	require.NoError(t, c.tr["n1"].Send("n2", transport.Envelope{From: 9}))
	r2.Wait("envelope after heal", func() bool { return len(r2.Envelopes("n1")) == 1 })

	// Healing a pair of strangers connects nothing.
	c.add(t, "loner", 1)
	c.nw.Heal("loner", "n1")
	require.Empty(t, c.tr["loner"].Members())
}

// TestFlappingLinkKeepsEventOrder partitions and heals a pair over and over
// while both sides send. The recorders check, per peer, that NodeUp and
// NodeDown alternate and that nothing is delivered outside an up period.
func TestFlappingLinkKeepsEventOrder(t *testing.T) {
	c := newCluster(t, "a", "b")
	require.NoError(t, c.tr["a"].Join(bg, []string{"b"}))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, pair := range [][2]string{{"a", "b"}, {"b", "a"}} {
		wg.Go(func() {
			for i := uint64(0); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_ = c.tr[pair[0]].Send(pair[1], transport.Envelope{From: 1, To: i})
				_ = c.tr[pair[0]].Cast(pair[1], transport.Control{Kind: uint16(i)})
			}
		})
	}
	for range 50 {
		c.nw.Partition("a", "b")
		c.nw.Heal("a", "b")
	}
	close(stop)
	wg.Wait()
	// A call waits until the callee heard NodeUp on the current link, so
	// after one call each way both final NodeUps were delivered.
	_, err := c.tr["a"].Call(bg, "b", transport.Control{})
	require.NoError(t, err)
	_, err = c.tr["b"].Call(bg, "a", transport.Control{})
	require.NoError(t, err)
	for _, name := range []string{"a", "b"} {
		r := c.recs[name]
		require.Empty(t, r.Violations())
		ev := eventStrings(r)
		require.Contains(t, ev[len(ev)-1], "up ")
		// Per sender actor the envelopes that arrived are increasing: loss on
		// a cut link is allowed, reordering is not.
		last := int64(-1)
		for _, e := range r.Envelopes(map[string]string{"a": "b", "b": "a"}[name]) {
			require.Greater(t, int64(e.To), last)
			last = int64(e.To)
		}
	}
}

func TestDial(t *testing.T) {
	c := newCluster(t, "n1")
	froms := make(chan transport.PeerInfo, 1)
	c.recs["n1"].OnCall = func(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error) {
		froms <- from
		if string(req.Body) == "block" {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return []byte("pong"), nil
	}
	cl, err := c.nw.Dial(bg, "n1")
	require.NoError(t, err)
	require.Equal(t, c.tr["n1"].Self(), cl.Peer())
	b, err := cl.Call(bg, transport.Control{Body: []byte("ping")})
	require.NoError(t, err)
	require.Equal(t, "pong", string(b))
	from := <-froms
	require.True(t, from.Client)
	require.Equal(t, "client-1", from.Name)
	require.Empty(t, c.tr["n1"].Members(), "clients are not members")

	ctx, cancel := context.WithCancel(bg)
	go func() { <-froms; cancel() }()
	_, err = cl.Call(ctx, transport.Control{Body: []byte("block")})
	require.ErrorIs(t, err, context.Canceled)

	require.NoError(t, cl.Close())
	require.NoError(t, cl.Close())
	_, err = cl.Call(bg, transport.Control{})
	require.ErrorIs(t, err, net.ErrClosed)

	_, err = c.nw.Dial(bg, "ghost")
	require.ErrorIs(t, err, transport.ErrNodeDown)

	cl2, err := c.nw.Dial(bg, "n1")
	require.NoError(t, err)
	go func() {
		<-froms
		c.nw.Kill("n1")
	}()
	_, err = cl2.Call(bg, transport.Control{Body: []byte("block")})
	require.ErrorIs(t, err, transport.ErrNodeDown)
	_, err = cl2.Call(bg, transport.Control{})
	require.ErrorIs(t, err, transport.ErrNodeDown)
}

// TestNoGoroutineLeak runs a busy network inside a synctest bubble, which
// fails if any goroutine started in it outlives the test function: both
// closing every node one by one and closing the network must leave nothing.
func TestNoGoroutineLeak(t *testing.T) {
	for _, mode := range []string{"network close", "node close"} {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := NewNetwork()
				var trs []transport.Transport
				for i := range 4 {
					tr := nw.NewNode(fmt.Sprintf("n%d", i), 1)
					require.NoError(t, tr.Start(bg, transporttest.NewRecorder(t, "x")))
					require.NoError(t, tr.Join(bg, []string{"n0"}))
					trs = append(trs, tr)
				}
				for _, tr := range trs {
					for _, m := range tr.Members() {
						require.NoError(t, tr.Send(m.Name, transport.Envelope{Payload: []byte("x")}))
						require.NoError(t, tr.Cast(m.Name, transport.Control{Kind: 1}))
						_, err := tr.Call(bg, m.Name, transport.Control{})
						require.NoError(t, err)
					}
				}
				cl, err := nw.Dial(bg, "n1")
				require.NoError(t, err)
				_, err = cl.Call(bg, transport.Control{})
				require.NoError(t, err)
				nw.Partition("n1", "n2")
				nw.Heal("n1", "n2")
				nw.Kill("n3")
				if mode == "node close" {
					for _, tr := range trs {
						require.NoError(t, tr.Close())
					}
					require.NoError(t, cl.Close())
					synctest.Wait() // peers finish their NodeDown deliveries
				} else {
					require.NoError(t, nw.Close())
					require.NoError(t, nw.Close())
				}
			})
		})
	}
}

// TestDeafenIsOneSided: n1 stops hearing n2 while n2 notices nothing; only
// n1 reports the other down, n2's traffic is lost (not refused) and its
// calls wait. On Heal the pair reconnects and n2 too sees the old session
// end before the new one starts, so both rebuild the same state.
func TestDeafenIsOneSided(t *testing.T) {
	synctest.Test(t, testDeafenIsOneSided)
}

func testDeafenIsOneSided(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	require.NoError(t, c.tr["n1"].Join(bg, []string{"n2"}))
	r1, r2 := c.recs["n1"], c.recs["n2"]
	r1.Wait("n2 up", func() bool { return r1.Up("n2") })
	r2.Wait("n1 up", func() bool { return r2.Up("n1") })

	c.nw.Deafen("n1", "n2")
	require.Equal(t, []string{"up n2/1", "down n2/1 " + ErrPeerSilent.Error()}, eventStrings(r1), "Deafen waited for n1's NodeDown")
	require.True(t, errors.Is(ErrPeerSilent, transport.ErrPeerTimeout))
	require.Empty(t, c.tr["n1"].Members())
	require.ErrorIs(t, c.tr["n1"].Send("n2", transport.Envelope{}), transport.ErrNodeDown)
	require.ErrorIs(t, c.tr["n1"].Join(bg, []string{"n2"}), ErrPeerSilent, "no reconnection before Heal")

	require.Equal(t, []string{"up n1/1"}, eventStrings(r2), "n2 noticed nothing")
	require.Equal(t, []string{"n1"}, memberNames(c.tr["n2"]))
	require.NoError(t, c.tr["n2"].Send("n1", transport.Envelope{From: 1}), "accepted and lost")
	require.NoError(t, c.tr["n2"].Cast("n1", transport.Control{Kind: 1}), "accepted and lost")
	callErr := make(chan error, 1)
	go func() {
		_, err := c.tr["n2"].Call(bg, "n1", transport.Control{})
		callErr <- err
	}()
	synctest.Wait() // the call is waiting

	c.nw.Heal("n1", "n2")
	require.ErrorIs(t, <-callErr, transport.ErrPeerReconnected, "the call waited until n2 found the session replaced")
	r1.Wait("n2 up again", func() bool { return r1.Up("n2") })
	r2.Wait("n1 down and up", func() bool { return len(r2.Events()) == 3 && r2.Up("n1") })
	require.Equal(t, []string{"up n1/1", "down n1/1 " + ErrPeerReconnected.Error(), "up n1/1"}, eventStrings(r2))
	require.NoError(t, c.tr["n2"].Send("n1", transport.Envelope{From: 2}))
	r1.Wait("envelope in the new session", func() bool { return len(r1.Envelopes("n2")) == 1 })
	require.EqualValues(t, 2, r1.Envelopes("n2")[0].From, "nothing sent into the lost session arrives")
	require.Empty(t, r1.Casts("n2"))
}
