package proto

import (
	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/registry"
)

// Control kinds of code mobility (hot upgrade, migration, undeploy). They
// are numbered apart from the others (40s, 140s, 240s) so that work adding
// kinds in parallel does not collide.
const (
	// Calls between nodes.
	KindUpgrade  uint16 = 140 // Upgrade (PID) → UpgradeReply: upgrade an actor of the receiver
	KindActorsOf uint16 = 141 // ActorsOf → []ActorRef: the receiver's actors of a factory

	// Calls from clients.
	KindUpgradeCLI  uint16 = 240 // Upgrade (Target) → UpgradeReply
	KindUpgradePlan uint16 = 241 // UpgradePlan → UpgradePlanReply
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
