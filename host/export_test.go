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
