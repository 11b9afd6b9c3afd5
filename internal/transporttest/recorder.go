package transporttest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wasmactor/wasmactor/transport"
)

// Event is a NodeUp (Up) or NodeDown seen by a [Recorder].
type Event struct {
	Up     bool
	Peer   transport.NodeInfo
	Reason error
}

func (e Event) String() string {
	if e.Up {
		return fmt.Sprintf("up %s/%x", e.Peer.Name, e.Peer.Incarnation)
	}
	return fmt.Sprintf("down %s/%x (%v)", e.Peer.Name, e.Peer.Incarnation, e.Reason)
}

// Recorder is a [transport.Handler] that records everything it receives
// and checks the session rules as calls arrive. Its hooks, set before the
// transport starts, run before a call is recorded.
type Recorder struct {
	t    testing.TB
	name string

	mu         sync.Mutex
	events     []Event
	up         map[string]transport.NodeInfo // peers with a session, by name
	envs       map[string][]transport.Envelope
	casts      map[string][]transport.Control
	blobs      map[string][]byte
	violations []string
	changed    chan struct{} // capacity 1; kicked on every record

	OnEnvelopes func(from transport.NodeInfo, envs []transport.Envelope)
	OnCast      func(from transport.NodeInfo, msg transport.Control)
	OnCall      func(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error)
	OnUp        func(peer transport.NodeInfo)
}

// NewRecorder returns a recorder for the node named name; its violations
// fail t when the test ends.
func NewRecorder(t testing.TB, name string) *Recorder {
	r := &Recorder{
		t: t, name: name,
		up:      map[string]transport.NodeInfo{},
		envs:    map[string][]transport.Envelope{},
		casts:   map[string][]transport.Control{},
		blobs:   map[string][]byte{},
		changed: make(chan struct{}, 1),
	}
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, v := range r.violations {
			t.Errorf("%s: %s", name, v)
		}
	})
	return r
}

func (r *Recorder) kick() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *Recorder) violation(format string, args ...any) {
	r.violations = append(r.violations, fmt.Sprintf(format, args...))
}

// checkUp records a violation if from has no session; the caller holds mu.
func (r *Recorder) checkUp(what string, from transport.NodeInfo) {
	if cur, ok := r.up[from.Name]; !ok || cur.Incarnation != from.Incarnation {
		r.violation("%s from %s/%x outside a session", what, from.Name, from.Incarnation)
	}
}

func (r *Recorder) HandleEnvelopes(from transport.NodeInfo, envs []transport.Envelope) {
	if r.OnEnvelopes != nil {
		r.OnEnvelopes(from, envs)
	}
	r.mu.Lock()
	r.checkUp("envelopes", from)
	r.envs[from.Name] = append(r.envs[from.Name], envs...)
	r.mu.Unlock()
	r.kick()
}

func (r *Recorder) HandleCast(from transport.NodeInfo, msg transport.Control) {
	if r.OnCast != nil {
		r.OnCast(from, msg)
	}
	r.mu.Lock()
	r.checkUp("cast", from)
	r.casts[from.Name] = append(r.casts[from.Name], msg)
	r.mu.Unlock()
	r.kick()
}

func (r *Recorder) HandleCall(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error) {
	if !from.Client {
		r.mu.Lock()
		r.checkUp("call", from.NodeInfo)
		r.mu.Unlock()
	}
	if r.OnCall != nil {
		return r.OnCall(ctx, from, req)
	}
	return append([]byte(r.name+":"), req.Body...), nil
}

// SetBlob makes the recorder serve b under key.
func (r *Recorder) SetBlob(key string, b []byte) {
	r.mu.Lock()
	r.blobs[key] = b
	r.mu.Unlock()
}

func (r *Recorder) ServeBlob(ctx context.Context, from transport.PeerInfo, key string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.blobs[key]
	if !ok {
		return nil, &transport.RemoteError{Code: 7, Message: "no blob " + key}
	}
	return b, nil
}

func (r *Recorder) NodeUp(peer transport.NodeInfo) {
	if r.OnUp != nil {
		r.OnUp(peer) // first, so a Wait that sees the session sees what OnUp did
	}
	r.mu.Lock()
	if _, ok := r.up[peer.Name]; ok {
		r.violation("NodeUp %s/%x while a session is up", peer.Name, peer.Incarnation)
	}
	r.up[peer.Name] = peer
	r.events = append(r.events, Event{Up: true, Peer: peer})
	r.mu.Unlock()
	r.kick()
}

func (r *Recorder) NodeDown(peer transport.NodeInfo, reason error) {
	r.mu.Lock()
	if cur, ok := r.up[peer.Name]; !ok || cur != peer {
		r.violation("NodeDown %s/%x without its NodeUp", peer.Name, peer.Incarnation)
	}
	if reason == nil {
		r.violation("NodeDown %s without a reason", peer.Name)
	}
	delete(r.up, peer.Name)
	r.events = append(r.events, Event{Peer: peer, Reason: reason})
	r.mu.Unlock()
	r.kick()
}

// Wait waits until cond holds, checking it again after each call the
// recorder receives; cond reads the recorder through its methods. The
// bound only turns a hang into a failure.
func (r *Recorder) Wait(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		if cond() {
			return
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			r.t.Fatalf("%s: timed out waiting for %s; events %v", r.name, what, r.Events())
		}
	}
}

// Events returns the NodeUp and NodeDown events so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// EventsAbout returns the events about the peer named name.
func (r *Recorder) EventsAbout(name string) []Event {
	var out []Event
	for _, e := range r.Events() {
		if e.Peer.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// Up reports whether the recorder has a session with the peer named name.
func (r *Recorder) Up(name string) bool {
	_, ok := r.Session(name)
	return ok
}

// Session returns the peer of the current session with the node named
// name, if there is one.
func (r *Recorder) Session(name string) (transport.NodeInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.up[name]
	return p, ok
}

// Violations returns the session rules broken so far (they also fail the
// test when it ends).
func (r *Recorder) Violations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.violations...)
}

// Envelopes returns the envelopes received from the peer named name.
func (r *Recorder) Envelopes(name string) []transport.Envelope {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]transport.Envelope(nil), r.envs[name]...)
}

// Casts returns the casts received from the peer named name.
func (r *Recorder) Casts(name string) []transport.Control {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]transport.Control(nil), r.casts[name]...)
}
