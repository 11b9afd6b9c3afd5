package proto

// KindDraining is a call between nodes: the sender is draining (or was
// drained) and takes no new spawns that name no node; the receiver places
// none there until the sender's session ends or the sender says it no
// longer drains (body Draining, Off set: an undrain). Body Draining
// (an Empty body, from a node before undrain existed, reads as "drains"),
// answer Empty, so the drain knows every member heard before it moves
// anything. Sync (key 4) and NodeStatus (key 21) carry the same, for
// members that come up later and for placement's load refresh.
const KindDraining uint16 = 161

// KindUndrain is a call between nodes: the receiver stops draining (see
// KindUndrainCLI). Body Drain (Node ignored), answer Empty.
const KindUndrain uint16 = 162

// KindUndrainCLI is a client's: node Drain.Node (the receiver if empty)
// takes placed spawns again and tells every member. Body Drain, answer
// Empty. Admin, as a drain.
const KindUndrainCLI uint16 = 265

// Draining is the body of KindDraining.
type Draining struct {
	// Off: the sender no longer drains.
	Off bool `cbor:"1,keyasint,omitempty"`
}
