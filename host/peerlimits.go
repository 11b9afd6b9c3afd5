package host

import "time"

// What a peer may make this node hold on its behalf. A peer holds the cookie
// but is not trusted to be well-behaved (docs/RATIONALE.md, "A peer can
// change only what it owns"): everything it announces is bounded here, in one
// place, and what it announced goes when it goes down. Lengths and counts
// checked on every announcement by the registry are cited for completeness.
const (
	// maxNamesPerPeer bounds the name claims of one peer's actors this node
	// keeps, holding or waiting behind another node's holder. Beyond it a
	// claim is ignored (and logged). Names are at most registry.MaxNameLen
	// (255) bytes.
	maxNamesPerPeer = 1 << 14

	// maxModulesPerPeer bounds the modules one peer is recorded as holding.
	// Beyond it an announcement is ignored (and logged). Each announcement
	// lists at most 256 factories of at most 128 bytes each
	// (registry.ModuleInfo.Validate, the guest ABI's limits), and a module
	// this node has not checked itself gathers at most
	// registry.MaxAnnouncedFactories names from all announcers.
	maxModulesPerPeer = 1024

	// defaultNameRaceWindow is how long after this node announced one of
	// its names to a peer (when it registered the name, or when the peer
	// came up and got our state) a conflicting claim from that peer still
	// counts as concurrent, and is settled by registry.Claim.Precedes;
	// afterwards the name is established and the incumbent keeps it. Two
	// honest nodes racing for a name settle it the same way on both sides
	// as long as their announcements cross within the window.
	defaultNameRaceWindow = 10 * time.Second
)
