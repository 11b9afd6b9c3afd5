package memtransport

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/transport"
)

// recorder is a transport.Handler that records everything and checks the
// event-order promises as they happen.
type recorder struct {
	t    *testing.T
	name string

	mu         sync.Mutex
	events     []string // "up n2/7", "down n2/7 <reason>"
	up         map[string]bool
	envs       map[string][]transport.Envelope // by sender name
	casts      map[string][]transport.Control
	violations []string
	changed    chan struct{} // capacity 1; kicked on every record

	// Optional hooks, set before Start.
	onEnvelopes func(from transport.NodeInfo, envs []transport.Envelope)
	onCall      func(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error)
}

func newRecorder(t *testing.T, name string) *recorder {
	return &recorder{
		t: t, name: name,
		up:      map[string]bool{},
		envs:    map[string][]transport.Envelope{},
		casts:   map[string][]transport.Control{},
		changed: make(chan struct{}, 1),
	}
}

func (r *recorder) kick() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) HandleEnvelopes(from transport.NodeInfo, envs []transport.Envelope) {
	if r.onEnvelopes != nil {
		r.onEnvelopes(from, envs)
	}
	r.mu.Lock()
	if !r.up[from.Name] {
		r.violations = append(r.violations, fmt.Sprintf("envelopes from %s without NodeUp", from.Name))
	}
	r.envs[from.Name] = append(r.envs[from.Name], envs...)
	r.mu.Unlock()
	// The handler owns envs: scribbling on them must not affect anyone.
	for i := range envs {
		for j := range envs[i].Payload {
			envs[i].Payload[j] = 0xEE
		}
	}
	r.kick()
}

func (r *recorder) HandleCast(from transport.NodeInfo, msg transport.Control) {
	r.mu.Lock()
	if !r.up[from.Name] {
		r.violations = append(r.violations, fmt.Sprintf("cast from %s without NodeUp", from.Name))
	}
	r.casts[from.Name] = append(r.casts[from.Name], msg)
	r.mu.Unlock()
	r.kick()
}

func (r *recorder) HandleCall(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error) {
	if r.onCall != nil {
		return r.onCall(ctx, from, req)
	}
	return append([]byte(r.name+":"), req.Body...), nil
}

func (r *recorder) ServeBlob(ctx context.Context, from transport.PeerInfo, key string) ([]byte, error) {
	return nil, &transport.RemoteError{Message: "no blobs here"}
}

func (r *recorder) NodeUp(peer transport.NodeInfo) {
	r.mu.Lock()
	if r.up[peer.Name] {
		r.violations = append(r.violations, fmt.Sprintf("NodeUp %s twice", peer.Name))
	}
	r.up[peer.Name] = true
	r.events = append(r.events, fmt.Sprintf("up %s/%d", peer.Name, peer.Incarnation))
	r.mu.Unlock()
	r.kick()
}

func (r *recorder) NodeDown(peer transport.NodeInfo, reason error) {
	r.mu.Lock()
	if !r.up[peer.Name] {
		r.violations = append(r.violations, fmt.Sprintf("NodeDown %s without NodeUp", peer.Name))
	}
	r.up[peer.Name] = false
	r.events = append(r.events, fmt.Sprintf("down %s/%d %v", peer.Name, peer.Incarnation, reason))
	r.mu.Unlock()
	r.kick()
}

// waitUntil waits for cond (checked under r.mu) to hold. The bound only
// turns a hang into a failure; it asserts nothing about speed.
func (r *recorder) waitUntil(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			r.t.Fatalf("%s: timed out waiting for %s; events %v", r.name, what, r.events)
		}
	}
}

func (r *recorder) snapshotEvents() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (r *recorder) checkClean() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Empty(r.t, r.violations, "%s", r.name)
}

// cluster is a test helper: nodes n1..nk started with recorders.
type cluster struct {
	nw   *Network
	tr   map[string]transport.Transport
	recs map[string]*recorder
}

func newCluster(t *testing.T, names ...string) *cluster {
	c := &cluster{nw: NewNetwork(), tr: map[string]transport.Transport{}, recs: map[string]*recorder{}}
	t.Cleanup(func() {
		require.NoError(t, c.nw.Close())
		for _, r := range c.recs {
			r.checkClean()
		}
	})
	for _, name := range names {
		c.add(t, name, 1)
	}
	return c
}

func (c *cluster) add(t *testing.T, name string, inc uint64) *recorder {
	tr := c.nw.NewNode(name, inc)
	r := newRecorder(t, name)
	require.NoError(t, tr.Start(context.Background(), r))
	c.tr[name] = tr
	c.recs[name] = r
	return r
}

func memberNames(tr transport.Transport) []string {
	var out []string
	for _, m := range tr.Members() {
		out = append(out, m.Name)
	}
	return out
}
