package transporttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/transport"
)

// Network creates the nodes of one transport implementation and injects
// faults between them. Nodes are closed when the test ends.
type Network interface {
	// Start creates and starts a node named name with a new incarnation,
	// delivering to h. Other nodes join it at its Self().Addr. A name may
	// be started again after Crash: a restarted node.
	Start(t *testing.T, name string, h transport.Handler) transport.Transport
	// Crash makes tr vanish as a killed process would, without a goodbye;
	// its peers notice on their own (at the idle timeout). The suite does
	// not use tr again.
	Crash(t *testing.T, tr transport.Transport)
	// LoseOneWay makes a stop hearing b on their current connection while
	// b still hears a, and calls during before a can reconnect; then a
	// notices on its own and reconnects, which new connections let it do.
	LoseOneWay(t *testing.T, a, b transport.Transport, during func())
}

// Options are the settings a check needs from the nodes it starts.
type Options struct {
	// SendQueue bounds the envelopes queued for one peer (0: the default).
	SendQueue int
	// ControlQueue bounds the casts queued for one peer (0: the default).
	ControlQueue int
}

// Run runs the conformance suite. newNetwork is called once per check,
// with the options that check needs.
func Run(t *testing.T, newNetwork func(t *testing.T, opts Options) Network) {
	checks := []struct {
		name string
		opts Options
		run  func(t *testing.T, c *cluster)
	}{
		{"JoinMakesFullMesh", Options{}, testJoin},
		{"SendKeepsPerPairOrder", Options{SendQueue: 512}, testSendOrder},
		{"CastsKeepOrder", Options{}, testCastOrder},
		{"FullCastQueueIsTheCastersError", Options{ControlQueue: 16}, testCastQueueFull},
		{"Call", Options{}, testCall},
		{"FetchBlob", Options{}, testBlob},
		{"LeaveDeliversQueuedThenNodeDown", Options{}, testLeave},
		{"CrashAndRestart", Options{}, testCrashAndRestart},
		{"RestartBeforeCrashNoticed", Options{}, testRestartBeforeNoticed},
		{"SimultaneousJoinIsOneSession", Options{}, testSimultaneousJoin},
		{"ConcurrentJoinsMakeOneSessionPerPair", Options{}, testConcurrentMesh},
		{"OneWayLossHealsOnBothSides", Options{}, testOneWayLoss},
		{"PeerStatsCountMessages", Options{}, testPeerStats},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, &cluster{t: t, nw: newNetwork(t, c.opts), tr: map[string]transport.Transport{}, rec: map[string]*Recorder{}})
		})
	}
}

// cluster is the nodes a check started, by name.
type cluster struct {
	t   *testing.T
	nw  Network
	tr  map[string]transport.Transport
	rec map[string]*Recorder
}

// start starts nodes with fresh recorders (a restart if the name ran before).
func (c *cluster) start(names ...string) {
	for _, name := range names {
		c.startWith(name, NewRecorder(c.t, name))
	}
}

func (c *cluster) startWith(name string, r *Recorder) {
	c.rec[name] = r
	c.tr[name] = c.nw.Start(c.t, name, r)
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// join makes node join the given seeds and waits for the sessions.
func (c *cluster) join(node string, seeds ...string) {
	c.t.Helper()
	var addrs []string
	for _, s := range seeds {
		addrs = append(addrs, c.tr[s].Self().Addr)
	}
	require.NoError(c.t, c.tr[node].Join(ctxFor(c.t), addrs))
	for _, s := range seeds {
		c.waitUp(node, s)
		c.waitUp(s, node)
	}
}

// waitUp waits until node has a session with the current run of peer.
func (c *cluster) waitUp(node, peer string) {
	c.t.Helper()
	r, inc := c.rec[node], c.tr[peer].Self().Incarnation
	r.Wait(node+" up with "+peer, func() bool {
		p, ok := r.Session(peer)
		return ok && p.Incarnation == inc
	})
}

func names(infos []transport.NodeInfo) []string {
	var out []string
	for _, i := range infos {
		out = append(out, i.Name)
	}
	return out
}

func testJoin(t *testing.T, c *cluster) {
	c.start("n1", "n2", "n3")
	c.join("n2", "n1")
	c.join("n3", "n1") // the member lists connect n3 and n2
	c.waitUp("n2", "n3")
	c.waitUp("n3", "n2")
	for name, tr := range c.tr {
		var want []transport.NodeInfo
		for _, other := range []string{"n1", "n2", "n3"} {
			if other != name {
				want = append(want, c.tr[other].Self())
				require.Equal(t, []Event{{Up: true, Peer: c.tr[other].Self()}}, c.rec[name].EventsAbout(other))
			}
		}
		require.Equal(t, want, tr.Members(), "%s: sorted by name, the peers' own Self", name)
	}
	// Joining members again makes no new session.
	require.NoError(t, c.tr["n1"].Join(ctxFor(t), []string{c.tr["n3"].Self().Addr, c.tr["n1"].Self().Addr}))
	require.NoError(t, c.tr["n3"].Join(ctxFor(t), []string{c.tr["n1"].Self().Addr}))
	for _, pair := range [][2]string{{"n1", "n3"}, {"n3", "n1"}} {
		_, err := c.tr[pair[0]].Call(ctxFor(t), pair[1], transport.Control{})
		require.NoError(t, err)
		require.Len(t, c.rec[pair[0]].EventsAbout(pair[1]), 1)
	}
	require.ErrorIs(t, c.tr["n1"].Send("ghost", transport.Envelope{}), transport.ErrNodeDown)
	require.ErrorIs(t, c.tr["n1"].Cast("ghost", transport.Control{}), transport.ErrNodeDown)
}

// sendRetrying sends envs, retrying while the queue is full: pushing back
// is the transport's right, retrying the sender's choice.
func sendRetrying(tr transport.Transport, to string, envs ...transport.Envelope) error {
	for {
		err := tr.Send(to, envs...)
		if !errors.Is(err, transport.ErrQueueFull) {
			return err
		}
		runtime.Gosched()
	}
}

func testSendOrder(t *testing.T, c *cluster) {
	const senders, receivers, perPair = 8, 4, 500
	c.start("a", "b")
	c.join("a", "b")
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(s), 1))
			seq := make([]uint64, receivers)
			for remaining := receivers * perPair; remaining > 0; {
				n := min(1+rng.IntN(16), remaining)
				batch := make([]transport.Envelope, 0, n)
				for len(batch) < n {
					to := rng.IntN(receivers)
					if seq[to] == perPair {
						continue
					}
					batch = append(batch, transport.Envelope{Kind: 1, From: uint64(s + 1), To: uint64(to + 1), Ref: seq[to], Payload: []byte{byte(s), byte(to)}})
					seq[to]++
				}
				if err := sendRetrying(c.tr["a"], "b", batch...); err != nil {
					t.Errorf("send: %v", err)
					return
				}
				remaining -= n
			}
		})
	}
	wg.Wait()
	r := c.rec["b"]
	r.Wait("every envelope", func() bool { return len(r.Envelopes("a")) == senders*receivers*perPair })
	next := map[[2]uint64]uint64{}
	for _, e := range r.Envelopes("a") {
		k := [2]uint64{e.From, e.To}
		require.Equal(t, next[k], e.Ref, "pair %v out of order", k)
		require.Equal(t, []byte{byte(e.From - 1), byte(e.To - 1)}, e.Payload)
		next[k]++
	}
	require.Len(t, next, senders*receivers)
}

func testCastOrder(t *testing.T, c *cluster) {
	const n = 2000
	c.start("a", "b")
	c.join("a", "b")
	for i := range n {
		for {
			err := c.tr["a"].Cast("b", transport.Control{Kind: uint16(i), Body: fmt.Appendf(nil, "cast %d", i)})
			if err == nil {
				break
			}
			require.ErrorIs(t, err, transport.ErrQueueFull)
			runtime.Gosched()
		}
	}
	r := c.rec["b"]
	r.Wait("every cast", func() bool { return len(r.Casts("a")) == n })
	for i, m := range r.Casts("a") {
		require.EqualValues(t, i, m.Kind)
		require.Equal(t, fmt.Sprintf("cast %d", i), string(m.Body))
	}
}

// testCastQueueFull: with the receiver stalled, casts are refused with
// ErrQueueFull once the bounded queue is full, and every cast that was
// accepted is delivered, once, in order: nothing is dropped silently.
func testCastQueueFull(t *testing.T, c *cluster) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	rb := NewRecorder(t, "b")
	rb.OnCast = func(transport.NodeInfo, transport.Control) {
		once.Do(func() { close(entered); <-release })
	}
	c.start("a")
	c.startWith("b", rb)
	c.join("a", "b")
	body := bytes.Repeat([]byte{'x'}, 32<<10)
	accepted := 0
	for ; ; accepted++ {
		err := c.tr["a"].Cast("b", transport.Control{Kind: uint16(accepted), Body: body})
		if err != nil {
			require.ErrorIs(t, err, transport.ErrQueueFull)
			break
		}
		if accepted == 0 {
			<-entered // the receiver holds the first cast
		}
		require.Less(t, accepted, 1<<15, "the control queue is not bounded")
	}
	t.Logf("%d casts accepted before ErrQueueFull", accepted)
	close(release)
	rb.Wait("every accepted cast", func() bool { return len(rb.Casts("a")) >= accepted })
	for {
		err := c.tr["a"].Cast("b", transport.Control{Kind: uint16(accepted)})
		if err == nil {
			break
		}
		require.ErrorIs(t, err, transport.ErrQueueFull)
		runtime.Gosched()
	}
	rb.Wait("the cast after", func() bool { return len(rb.Casts("a")) == accepted+1 })
	for i, m := range rb.Casts("a") {
		require.EqualValues(t, i, m.Kind, "in order, none lost, none twice")
	}
}

func testCall(t *testing.T, c *cluster) {
	entered := make(chan context.Context, 1)
	rb := NewRecorder(t, "b")
	rb.OnCall = func(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error) {
		switch string(req.Body) {
		case "remote":
			return nil, fmt.Errorf("wrapped: %w", &transport.RemoteError{Code: 42, Message: "no such actor"})
		case "plain":
			return nil, errors.New("plain failure")
		case "block":
			entered <- ctx
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return append([]byte(from.Name+"→b:"), req.Body...), nil
	}
	c.start("a")
	c.startWith("b", rb)
	c.join("a", "b")
	ctx := ctxFor(t)
	out, err := c.tr["a"].Call(ctx, "b", transport.Control{Kind: 3, Body: []byte("ping")})
	require.NoError(t, err)
	require.Equal(t, "a→b:ping", string(out))

	_, err = c.tr["a"].Call(ctx, "b", transport.Control{Body: []byte("remote")})
	var re *transport.RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, transport.RemoteError{Code: 42, Message: "no such actor"}, *re)
	_, err = c.tr["a"].Call(ctx, "b", transport.Control{Body: []byte("plain")})
	require.ErrorAs(t, err, &re)
	require.Equal(t, "plain failure", re.Message)

	// The caller giving up ends the handler's context.
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		hctx := <-entered
		cancel()
		<-hctx.Done()
	}()
	_, err = c.tr["a"].Call(cctx, "b", transport.Control{Body: []byte("block")})
	require.ErrorIs(t, err, context.Canceled)

	_, err = c.tr["a"].Call(ctx, "ghost", transport.Control{})
	require.ErrorIs(t, err, transport.ErrNodeDown)
	_, err = c.tr["a"].Call(ctx, "a", transport.Control{})
	require.ErrorIs(t, err, transport.ErrNodeDown, "a node is not its own peer")
}

func testBlob(t *testing.T, c *cluster) {
	c.start("a", "b")
	c.join("a", "b")
	blob := make([]byte, 200<<10)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	c.rec["b"].SetBlob("m1", blob)
	ctx := ctxFor(t)
	got, err := c.tr["a"].FetchBlob(ctx, "b", "m1", int64(len(blob)))
	require.NoError(t, err)
	require.Equal(t, blob, got)
	_, err = c.tr["a"].FetchBlob(ctx, "b", "m1", int64(len(blob)-1))
	require.ErrorIs(t, err, wasmactor.ErrTooLarge)
	_, err = c.tr["a"].FetchBlob(ctx, "b", "nope", 10)
	var re *transport.RemoteError
	require.ErrorAs(t, err, &re)
	require.EqualValues(t, 7, re.Code)
	_, err = c.tr["a"].FetchBlob(ctx, "ghost", "m1", 10)
	require.ErrorIs(t, err, transport.ErrNodeDown)
}

func testLeave(t *testing.T, c *cluster) {
	const n = 5000
	c.start("a", "b")
	c.join("a", "b")
	b := c.tr["b"]
	for i := range n {
		require.NoError(t, sendRetrying(b, "a", transport.Envelope{From: uint64(i%4 + 1), To: 1, Ref: uint64(i / 4)}))
	}
	require.NoError(t, b.Cast("a", transport.Control{Kind: 9}))
	require.NoError(t, b.Close())
	ra := c.rec["a"]
	ra.Wait("b left", func() bool { return !ra.Up("b") })
	ev := ra.EventsAbout("b")
	require.Len(t, ev, 2)
	require.ErrorIs(t, ev[1].Reason, transport.ErrPeerLeft)
	require.Len(t, ra.Envelopes("b"), n, "everything queued before Close arrived before NodeDown")
	require.Equal(t, []transport.Control{{Kind: 9}}, ra.Casts("b"))
	require.Empty(t, c.tr["a"].Members())

	for _, err := range []error{
		b.Send("a", transport.Envelope{}),
		b.Cast("a", transport.Control{}),
		b.Join(context.Background(), []string{c.tr["a"].Self().Addr}),
		b.Start(context.Background(), NewRecorder(t, "again")),
	} {
		require.ErrorIs(t, err, net.ErrClosed)
		require.ErrorIs(t, err, wasmactor.ErrClosed)
	}
	_, err := b.Call(context.Background(), "a", transport.Control{})
	require.ErrorIs(t, err, net.ErrClosed)
	require.NoError(t, b.Close(), "Close twice")
}

// isLoss reports whether reason is what a transport reports for a peer
// that vanished.
func isLoss(reason error) bool {
	return errors.Is(reason, transport.ErrNodeDown) || errors.Is(reason, transport.ErrPeerTimeout) || errors.Is(reason, transport.ErrPeerRestarted)
}

func testCrashAndRestart(t *testing.T, c *cluster) {
	c.start("n1", "n2", "n3")
	c.join("n2", "n1")
	c.join("n3", "n1", "n2")
	old := c.tr["n3"].Self()
	c.nw.Crash(t, c.tr["n3"])
	for _, name := range []string{"n1", "n2"} {
		r := c.rec[name]
		r.Wait("n3 down", func() bool { return !r.Up("n3") })
		ev := r.EventsAbout("n3")
		require.Len(t, ev, 2)
		require.Equal(t, old, ev[1].Peer)
		require.True(t, isLoss(ev[1].Reason), "reason %v", ev[1].Reason)
		require.ErrorIs(t, c.tr[name].Send("n3", transport.Envelope{}), transport.ErrNodeDown)
	}

	c.start("n3")
	require.NotEqual(t, old.Incarnation, c.tr["n3"].Self().Incarnation)
	c.join("n3", "n1")
	c.waitUp("n2", "n3")
	c.waitUp("n3", "n2")
	require.NoError(t, c.tr["n2"].Send("n3", transport.Envelope{From: 1, To: 2}))
	r3 := c.rec["n3"]
	r3.Wait("envelope to the new run", func() bool { return len(r3.Envelopes("n2")) == 1 })
}

// testRestartBeforeNoticed: a node killed and back at once, before its
// peer noticed; the restarted node sorts after its peer, then before it.
func testRestartBeforeNoticed(t *testing.T, c *cluster) {
	c.start("n1", "n2", "n3")
	c.join("n2", "n1")
	c.join("n3", "n2", "n1")
	for _, restarted := range []string{"n3", "n1"} {
		peer := "n2"
		old := c.tr[restarted].Self()
		c.nw.Crash(t, c.tr[restarted])
		c.start(restarted)
		c.join(restarted, peer)
		ev := c.rec[peer].EventsAbout(restarted)
		require.Len(t, ev, 3)
		require.Equal(t, []transport.NodeInfo{old, old, c.tr[restarted].Self()}, []transport.NodeInfo{ev[0].Peer, ev[1].Peer, ev[2].Peer}, "the old run down before the new one up")
		require.True(t, isLoss(ev[1].Reason), "reason %v", ev[1].Reason)
	}
}

// testSimultaneousJoin: two nodes that dial each other at once make one
// session, and calls made as soon as either side sees it all succeed.
func testSimultaneousJoin(t *testing.T, c *cluster) {
	const rounds, calls = 5, 50
	for round := range rounds {
		a, b := fmt.Sprintf("a%d", round), fmt.Sprintf("b%d", round)
		var wg sync.WaitGroup
		var failed atomic.Value
		for _, pair := range [][2]string{{a, b}, {b, a}} {
			r := NewRecorder(t, pair[0])
			var self atomic.Pointer[transport.Transport]
			r.OnUp = func(transport.NodeInfo) {
				for range calls {
					wg.Go(func() {
						if _, err := (*self.Load()).Call(ctxFor(t), pair[1], transport.Control{Body: []byte("q")}); err != nil {
							failed.CompareAndSwap(nil, fmt.Sprintf("%s→%s: %v", pair[0], pair[1], err))
						}
					})
				}
			}
			c.startWith(pair[0], r)
			self.Store(new(c.tr[pair[0]]))
		}
		var joins sync.WaitGroup
		for _, pair := range [][2]string{{a, b}, {b, a}} {
			joins.Go(func() {
				if err := c.tr[pair[0]].Join(ctxFor(t), []string{c.tr[pair[1]].Self().Addr}); err != nil {
					failed.CompareAndSwap(nil, fmt.Sprintf("join %s→%s: %v", pair[0], pair[1], err))
				}
			})
		}
		joins.Wait()
		c.waitUp(a, b)
		c.waitUp(b, a)
		wg.Wait()
		require.Nil(t, failed.Load())
		for _, pair := range [][2]string{{a, b}, {b, a}} {
			require.Len(t, c.rec[pair[0]].EventsAbout(pair[1]), 1, "%s: one NodeUp, no NodeDown", pair[0])
			require.Equal(t, []string{pair[1]}, names(c.tr[pair[0]].Members()))
		}
	}
}

// testConcurrentMesh: nodes that all join each other at once (as when a
// cluster starts, or a restarted node rejoins and every member dials it)
// end with one session per pair, and calls made as soon as a session is up
// all succeed.
func testConcurrentMesh(t *testing.T, c *cluster) {
	const nodes, calls = 5, 10
	var all []string
	for i := range nodes {
		all = append(all, fmt.Sprintf("m%d", i))
	}
	var wg sync.WaitGroup
	var failed atomic.Value
	for _, name := range all {
		r := NewRecorder(t, name)
		var self atomic.Pointer[transport.Transport]
		r.OnUp = func(peer transport.NodeInfo) {
			for range calls {
				wg.Go(func() {
					if _, err := (*self.Load()).Call(ctxFor(t), peer.Name, transport.Control{}); err != nil {
						failed.CompareAndSwap(nil, fmt.Sprintf("%s→%s: %v", name, peer.Name, err))
					}
				})
			}
		}
		c.startWith(name, r)
		self.Store(new(c.tr[name]))
	}
	var joins sync.WaitGroup
	for _, name := range all {
		var seeds []string
		for _, other := range all {
			if other != name {
				seeds = append(seeds, c.tr[other].Self().Addr)
			}
		}
		joins.Go(func() {
			if err := c.tr[name].Join(ctxFor(t), seeds); err != nil {
				failed.CompareAndSwap(nil, fmt.Sprintf("join %s: %v", name, err))
			}
		})
	}
	joins.Wait()
	for _, a := range all {
		for _, b := range all {
			if a != b {
				c.waitUp(a, b)
			}
		}
	}
	wg.Wait()
	require.Nil(t, failed.Load())
	for _, a := range all {
		for _, b := range all {
			if a != b {
				require.Len(t, c.rec[a].EventsAbout(b), 1, "%s: one NodeUp for %s, no NodeDown", a, b)
			}
		}
		require.Len(t, c.tr[a].Members(), nodes-1)
	}
}

// testOneWayLoss: one node stops hearing the other, which does not notice.
// Both end with a new session to the same runs, each seen as NodeDown then
// NodeUp, whichever side leads the pair.
func testOneWayLoss(t *testing.T, c *cluster) {
	c.start("a", "b")
	c.join("a", "b")
	for i, deaf := range []string{"a", "b", "a"} {
		other := map[string]string{"a": "b", "b": "a"}[deaf]
		// What other sends into the session deaf no longer hears is lost:
		// it must not turn up in the next session either.
		lost := uint64(1000 + i)
		c.nw.LoseOneWay(t, c.tr[deaf], c.tr[other], func() {
			require.NoError(t, c.tr[other].Send(deaf, transport.Envelope{From: lost}))
			require.NoError(t, c.tr[other].Cast(deaf, transport.Control{Kind: uint16(lost)}))
		})
		want := 1 + 2*(i+1) // up, then down and up per loss
		for _, pair := range [][2]string{{deaf, other}, {other, deaf}} {
			r := c.rec[pair[0]]
			r.Wait(fmt.Sprintf("%s down and up again", pair[1]), func() bool {
				return len(r.EventsAbout(pair[1])) == want && r.Up(pair[1])
			})
			ev := r.EventsAbout(pair[1])
			self := c.tr[pair[1]].Self()
			require.Equal(t, Event{Up: true, Peer: self}, ev[len(ev)-1], "%s: the same run came back", pair[0])
			require.Equal(t, self, ev[len(ev)-2].Peer)
			require.False(t, ev[len(ev)-2].Up)
		}
		// The session works both ways.
		for _, pair := range [][2]string{{deaf, other}, {other, deaf}} {
			_, err := c.tr[pair[0]].Call(ctxFor(t), pair[1], transport.Control{})
			require.NoError(t, err)
			r := c.rec[pair[1]]
			n := len(r.Envelopes(pair[0]))
			require.NoError(t, c.tr[pair[0]].Send(pair[1], transport.Envelope{From: uint64(i)}))
			r.Wait("an envelope", func() bool { return len(r.Envelopes(pair[0])) == n+1 })
		}
		require.True(t, slices.Equal(names(c.tr[deaf].Members()), []string{other}))
		for _, e := range c.rec[deaf].Envelopes(other) {
			require.NotEqual(t, lost, e.From, "an envelope sent into the lost session arrived")
		}
		for _, m := range c.rec[deaf].Casts(other) {
			require.NotEqual(t, lost, uint64(m.Kind), "a cast sent into the lost session arrived")
		}
	}
	// Three losses, each healed by one new session on both sides.
	for _, pair := range [][2]string{{"a", "b"}, {"b", "a"}} {
		ps, ok := peerStats(c.tr[pair[0]], pair[1])
		require.True(t, ok, "%s has no stats of %s", pair[0], pair[1])
		require.EqualValues(t, 3, ps.Reconnects, "%s's reconnects to %s", pair[0], pair[1])
		require.True(t, ps.Up)
	}
}

// peerStats finds tr's stats of peer.
func peerStats(tr transport.Transport, peer string) (transport.PeerStats, bool) {
	for _, ps := range tr.PeerStats() {
		if ps.Peer == peer {
			return ps, true
		}
	}
	return transport.PeerStats{}, false
}

// testPeerStats: what one node sends is counted out at it and in at the
// peer, once each, envelopes and casts alike; a first session is no
// reconnect.
func testPeerStats(t *testing.T, c *cluster) {
	c.start("a", "b")
	c.join("a", "b")
	const envs = 100
	for i := range envs {
		require.NoError(t, sendRetrying(c.tr["a"], "b", transport.Envelope{From: 1, To: 2, Ref: uint64(i), Payload: make([]byte, 100)}))
	}
	require.NoError(t, c.tr["a"].Cast("b", transport.Control{Kind: 7, Body: make([]byte, 50)}))
	r := c.rec["b"]
	r.Wait("every envelope and the cast", func() bool { return len(r.Envelopes("a")) == envs && len(r.Casts("a")) == 1 })
	out, ok := peerStats(c.tr["a"], "b")
	require.True(t, ok)
	in, ok := peerStats(c.tr["b"], "a")
	require.True(t, ok)
	require.EqualValues(t, envs+1, out.MessagesOut)
	require.EqualValues(t, envs+1, in.MessagesIn)
	require.Zero(t, out.MessagesIn)
	require.Zero(t, in.MessagesOut)
	// At least the payloads; a transport may count its framing too.
	require.GreaterOrEqual(t, out.BytesOut, uint64(envs*100+50))
	require.GreaterOrEqual(t, in.BytesIn, uint64(envs*100+50))
	require.True(t, out.Up && in.Up)
	require.Zero(t, out.Reconnects)
	require.Zero(t, in.Reconnects)
	require.Zero(t, out.HandshakeFailures)
}
