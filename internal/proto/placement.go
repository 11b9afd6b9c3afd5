package proto

// KindDraining is a call between nodes: the sender is draining (or was
// drained) and takes no new spawns that name no node; the receiver places
// none there until the sender's session ends. Body Empty, answer Empty,
// so the drain knows every member heard before it moves anything. Sync
// (key 4) and NodeStatus (key 21) carry the same, for members that come up
// later and for placement's load refresh.
const KindDraining uint16 = 161
