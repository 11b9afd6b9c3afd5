package host

import "time"

// SetUploadStall changes how long a deploy upload may wait for its next
// chunk, for uploads opened after.
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
