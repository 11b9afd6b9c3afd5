package host

import (
	"context"
	"sync"
	"time"

	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

// SetNameRaceWindow changes how long a node counts a peer's conflicting
// claim for one of its names as concurrent (defaultNameRaceWindow); 0 makes
// every name established at once.
func SetNameRaceWindow(n *Node, d time.Duration) { n.cl.raceWindow.Store(int64(d)) }

// Limits on what a peer makes a node hold (peerlimits.go).
const (
	MaxNamesPerPeer   = maxNamesPerPeer
	MaxModulesPerPeer = maxModulesPerPeer
)

// Records counts what the node holds on behalf of actors, for the tests that
// check that every record goes when its actor does. It reads every actor's
// maps, so it is for tests only.
func Records(n *Node) map[string]int {
	r := map[string]int{"nodemons": 0, "groupmons": 0, "held": 0, "node monitors held": 0, "group monitors held": 0}
	for _, a := range n.actors.all() {
		a.mu.Lock()
		r["watchers"] += len(a.rels().watchers)
		r["watching"] += len(a.rels().watching)
		r["links"] += len(a.rels().links)
		r["rlinks"] += len(a.rels().rlinks)
		if a.rels().ext != nil {
			r["nodemons"] += len(a.rels().ext.nodeMons)
			r["groupmons"] += len(a.rels().ext.groupMons)
			r["held"] += len(a.rels().ext.held)
		}
		a.mu.Unlock()
	}
	n.cl.mu.RLock()
	r["rwatch"] = len(n.cl.rwatch)
	n.cl.mu.RUnlock()
	n.ev.mu.Lock()
	for _, ms := range n.ev.mons {
		r["node monitors held"] += len(ms)
	}
	n.ev.mu.Unlock()
	n.gw.mu.Lock()
	for _, ms := range n.gw.mons {
		r["group monitors held"] += len(ms)
	}
	n.gw.mu.Unlock()
	r["held, node count"] = int(n.held.Load())
	r["asks"] = n.asks.len()
	r["timers"] = n.timers.len()
	r["names"] = len(n.names.List())
	r["groups"] = len(n.groups.List())
	return r
}

// NameList lists the names a node knows, for failure messages.
func NameList(n *Node) []string {
	var out []string
	for _, c := range n.names.List() {
		out = append(out, c.Name+"="+c.PID.String())
	}
	return out
}

// CastAs hands to a cast as if from had sent it, for tests of casts that
// cross a move in flight (relay.go).
func CastAs(to, from *Node, kind uint16, body any) error {
	return to.handleCast(transport.NodeInfo{Name: from.cfg.Name, Incarnation: from.incarnation}, transport.Control{Kind: kind, Body: proto.Marshal(body)})
}

// HoldBackgroundCompiles makes n's compiles of pulled modules that run on
// the interpreter meanwhile (Config.InterpretPulledModules) wait until
// release is called. Call it before n pulls anything.
func HoldBackgroundCompiles(n *Node) (release func()) {
	n.coldHold = make(chan struct{})
	return sync.OnceFunc(func() { close(n.coldHold) })
}

// Interpreted reports whether a local actor runs on the interpreter.
func Interpreted(n *Node, pid PID) bool {
	a, _, err := n.local(pid)
	if err != nil || a == nil {
		return false
	}
	return a.inst.Load().interp
}

// InterpreterInstances is how many instances n's interpreter has open, and
// how many of its modules hold an interpreter's build.
func InterpreterInstances(n *Node) (instances, builds int) {
	if n.interp == nil {
		return 0, 0
	}
	n.modMu.Lock()
	defer n.modMu.Unlock()
	for _, m := range n.modules {
		m.mu.Lock()
		if m.interp != nil {
			builds++
		}
		m.mu.Unlock()
	}
	return n.interp.Instances(), builds
}

// RemoteWatchRef is the ref of n's monitor on target, an actor of another
// node.
func RemoteWatchRef(n *Node, target PID) (uint64, bool) {
	n.cl.mu.Lock()
	defer n.cl.mu.Unlock()
	for ref, rw := range n.cl.rwatch {
		if rw.target == target {
			return ref, true
		}
	}
	return 0, false
}

// MovedAs hands to a Moved as if from had told it.
func MovedAs(to, from *Node, m proto.Moved) error {
	_, _, err := to.serveMigration(context.Background(), transport.PeerInfo{NodeInfo: transport.NodeInfo{Name: from.cfg.Name, Incarnation: from.incarnation}}, proto.KindMoved, proto.Marshal(m))
	return err
}
