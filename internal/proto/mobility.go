package proto

import (
	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/registry"
)

// Control kinds of code mobility (hot upgrade, migration, undeploy). They
// are numbered apart from the others (40s, 140s, 240s) so that work adding
// kinds in parallel does not collide.
const (
	// Casts between nodes.
	KindUndeploy uint16 = 40 // Tombstones: modules undeployed (also sent to a peer that came up)

	// Calls between nodes.
	KindUpgrade       uint16 = 140 // Upgrade (PID) → UpgradeReply: upgrade an actor of the receiver
	KindActorsOf      uint16 = 141 // ActorsOf → []ActorRef: the receiver's actors of a factory
	KindUndeployApply uint16 = 142 // UndeployApply → UndeployApplied: undeploy a module here
	KindModuleUse     uint16 = 143 // Empty → []ModuleCount: the receiver's actors per module

	// Calls from clients.
	KindUpgradeCLI  uint16 = 240 // Upgrade (Target) → UpgradeReply
	KindUpgradePlan uint16 = 241 // UpgradePlan → UpgradePlanReply
	KindUndeployCLI uint16 = 242 // UndeployRequest → UndeployReply
)

// Upgrade asks for the hot upgrade of one actor: by PID between nodes, by
// Target (PID text or name) from a client. To is a factory reference
// (Factory@hash), a hash prefix, or empty for the newest module exporting
// the actor's factory.
type Upgrade struct {
	PID    wasmactor.PID `cbor:"1,keyasint,omitempty"`
	Target string        `cbor:"2,keyasint,omitempty"`
	To     string        `cbor:"3,keyasint,omitempty"`
}

// UpgradeReply is what one upgrade did.
type UpgradeReply struct {
	PID     wasmactor.PID `cbor:"1,keyasint"`
	Factory string        `cbor:"2,keyasint"`
	From    registry.Hash `cbor:"3,keyasint"`
	To      registry.Hash `cbor:"4,keyasint"`
	// Current: the actor already ran To; nothing was done.
	Current    bool  `cbor:"5,keyasint,omitempty"`
	StateBytes int   `cbor:"6,keyasint,omitempty"`
	Micros     int64 `cbor:"7,keyasint,omitempty"`
}

// ActorsOf asks for a node's live actors of one factory.
type ActorsOf struct {
	Factory string `cbor:"1,keyasint"`
}

// ActorRef is one actor and the module it runs.
type ActorRef struct {
	PID    wasmactor.PID `cbor:"1,keyasint"`
	Module registry.Hash `cbor:"2,keyasint"`
}

// UpgradePlan asks which actors a rolling upgrade of Factory to To (as in
// Upgrade) would visit.
type UpgradePlan struct {
	Factory string `cbor:"1,keyasint"`
	To      string `cbor:"2,keyasint,omitempty"`
}

// UpgradePlanReply is the resolved target, Factory@<full hash>, and every
// actor of the factory in the cluster, in node then serial order. Nodes
// that did not answer are named in Missing.
type UpgradePlanReply struct {
	To      string        `cbor:"1,keyasint"`
	Module  registry.Hash `cbor:"2,keyasint"`
	Actors  []ActorRef    `cbor:"3,keyasint"`
	Missing []string      `cbor:"4,keyasint,omitempty"`
}

// Tombstones are modules undeployed, with when.
type Tombstones struct {
	List []registry.Tombstone `cbor:"1,keyasint"`
}

// UndeployApply tells a node to undeploy a module: stop its actors, drop
// it from the index, the store and memory, and keep the tombstone.
type UndeployApply struct {
	Tombstone registry.Tombstone `cbor:"1,keyasint"`
}

// UndeployApplied is what a node did for an UndeployApply.
type UndeployApplied struct {
	Stopped int `cbor:"1,keyasint,omitempty"`
}

// ModuleCount is how many live actors of a module a node runs.
type ModuleCount struct {
	Hash   registry.Hash `cbor:"1,keyasint"`
	Actors int           `cbor:"2,keyasint"`
}

// UndeployRequest asks for a module's undeploy: Ref is a hash prefix or
// Factory@<hash prefix>. Force stops the module's actors first.
type UndeployRequest struct {
	Ref   string `cbor:"1,keyasint"`
	Force bool   `cbor:"2,keyasint,omitempty"`
}

// UndeployReply is what an undeploy did, node by node.
type UndeployReply struct {
	Module registry.ModuleInfo `cbor:"1,keyasint"`
	Nodes  []UndeployNode      `cbor:"2,keyasint"`
}

// UndeployNode is one node's part of an undeploy: the actors it stopped,
// or why it did not answer (it learns the tombstone when it comes back).
type UndeployNode struct {
	Node    string `cbor:"1,keyasint"`
	Stopped int    `cbor:"2,keyasint,omitempty"`
	Error   string `cbor:"3,keyasint,omitempty"`
}
