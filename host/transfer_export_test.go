package host

import "time"

// SetUploadStall changes how long a deploy upload may wait for its next
// chunk, for uploads opened after (each keeps the stall it opened with).
func SetUploadStall(n *Node, d time.Duration) {
	n.up.mu.Lock()
	n.up.stall = d
	n.up.mu.Unlock()
}

// OpenUploads is how many deploy uploads n holds open.
func OpenUploads(n *Node) int {
	n.up.mu.Lock()
	defer n.up.mu.Unlock()
	return len(n.up.open)
}

// KnowsDraining reports whether n knows that peer drains.
func KnowsDraining(n *Node, peer string) bool { return n.drainingPeers()[peer] }

// MarkDrainingRun records, as a load refresh that asked it would, that the
// run incarnation of peer drains.
func MarkDrainingRun(n *Node, peer string, incarnation uint64) {
	n.markDraining(NodeInfo{Name: peer, Incarnation: incarnation}, true)
}

// Drains reports whether n itself drains (is out of placement).
func Drains(n *Node) bool { return n.cl.draining.Load() }

// SetUploadLife sets the overall time of deploy uploads opened after (0:
// the default, by size).
func SetUploadLife(n *Node, d time.Duration) {
	n.up.mu.Lock()
	n.up.life = d
	n.up.mu.Unlock()
}

// MaxPullsPerPeer is the bound of pulls in flight from one holder.
const MaxPullsPerPeer = maxPullsPerPeer
