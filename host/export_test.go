package host

import "time"

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
	r := map[string]int{}
	for _, a := range n.actors.all() {
		a.mu.Lock()
		r["watchers"] += len(a.watchers)
		r["watching"] += len(a.watching)
		r["links"] += len(a.links)
		r["rlinks"] += len(a.rlinks)
		a.mu.Unlock()
	}
	n.cl.mu.RLock()
	r["rwatch"] = len(n.cl.rwatch)
	n.cl.mu.RUnlock()
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
