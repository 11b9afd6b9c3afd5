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
	KindAliases  uint16 = 41 // Aliases: where moved actors live now (sent to a peer that came up)
	KindRelay    uint16 = 42 // Relay: a cast for an actor that moved away from the sender, from the node that sent it

	// Calls between nodes.
	KindUpgrade       uint16 = 140 // Upgrade (PID) → UpgradeReply: upgrade an actor of the receiver
	KindActorsOf      uint16 = 141 // ActorsOf → []ActorVersion: the receiver's actors of a factory
	KindUndeployApply uint16 = 142 // UndeployApply → UndeployApplied: undeploy a module here
	KindModuleUse     uint16 = 143 // Empty → []ModuleCount: the receiver's actors per module
	KindMigrateIn     uint16 = 144 // MigrateIn → MigrateInReply: restore a migrating actor here (frozen)
	KindMigrateCommit uint16 = 145 // MigrateCommit → Empty: the arrived actor takes over
	KindMoved         uint16 = 146 // Moved → Empty: an actor of the sender now lives elsewhere
	KindMigrateAbort  uint16 = 147 // MigrateCommit → Empty: forget an actor that will not arrive
	KindMigrate       uint16 = 148 // Migrate (PID) → MigrateReply: migrate an actor of the receiver
	KindDrain         uint16 = 149 // Drain → DrainReply: move the receiver's actors away

	// Calls from clients.
	KindUpgradeCLI  uint16 = 240 // Upgrade (Target) → UpgradeReply
	KindUpgradePlan uint16 = 241 // UpgradePlan → UpgradePlanReply
	KindUndeployCLI uint16 = 242 // UndeployRequest → UndeployReply
	KindMigrateCLI  uint16 = 243 // Migrate (Target) → MigrateReply
	KindDrainCLI    uint16 = 244 // Drain → DrainReply
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

// ActorVersion is one actor and the module it runs.
type ActorVersion struct {
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
	To      string         `cbor:"1,keyasint"`
	Module  registry.Hash  `cbor:"2,keyasint"`
	Actors  []ActorVersion `cbor:"3,keyasint"`
	Missing []string       `cbor:"4,keyasint,omitempty"`
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

// Envelope kinds of migration, on lanes between nodes. They are above every
// ABI record kind, so they never reach a guest.
const (
	// EnvForward: a record for an actor that moved, forwarded by its old
	// node on the pair lane (old serial → new serial); the payload is a
	// Forward.
	EnvForward uint8 = 200
	// EnvFence: one copy per lane (Status = copies), To the old serial: the
	// sender has learned that the actor moved and sends to its new home
	// from now on.
	EnvFence uint8 = 201
	// EnvFencePassed: on the pair lane, after everything forwarded before
	// it: every copy of node Ref's fence reached the old node (Ref is that
	// node's incarnation).
	EnvFencePassed uint8 = 202
)

// Forward is a record forwarded to a moved actor, with its real sender.
type Forward struct {
	FromIncarnation uint64 `cbor:"1,keyasint"`
	FromSerial      uint64 `cbor:"2,keyasint,omitempty"`
	Kind            uint16 `cbor:"3,keyasint"`
	Status          uint16 `cbor:"4,keyasint,omitempty"`
	Ref             uint64 `cbor:"5,keyasint,omitempty"`
	Payload         []byte `cbor:"6,keyasint,omitempty"`
}

// MigrateIn carries a frozen actor to its new node: everything the actor
// is besides its PID.
type MigrateIn struct {
	Old      wasmactor.PID       `cbor:"1,keyasint"`
	Factory  string              `cbor:"2,keyasint"`
	Module   registry.ModuleInfo `cbor:"3,keyasint"`
	State    []byte              `cbor:"4,keyasint"`
	Isolated bool                `cbor:"5,keyasint,omitempty"`
	// Restart and Args are the supervision policy and the spawn
	// arguments a restart uses (Restart zero: temporary).
	Restart  wasmactor.Restart `cbor:"6,keyasint,omitempty"`
	Args     []byte            `cbor:"7,keyasint,omitempty"`
	TrapExit bool              `cbor:"8,keyasint,omitempty"`
	// Records are what was queued for the actor, in order.
	Records  []Forward `cbor:"9,keyasint,omitempty"`
	Restarts uint32    `cbor:"14,keyasint,omitempty"`
	// NodeMons and GroupMons are the actor's node and group monitors, under
	// the refs its guest knows them by; Timers its SendAfter timers that
	// have not fired. They move with the actor.
	NodeMons  []MonitorRef `cbor:"15,keyasint,omitempty"`
	GroupMons []MonitorRef `cbor:"16,keyasint,omitempty"`
	Timers    []TimerRef   `cbor:"17,keyasint,omitempty"`
}

// MonitorRef is a node monitor (Name: the node) or a group monitor (Name:
// the group) of a migrating actor.
type MonitorRef struct {
	Ref  uint64 `cbor:"1,keyasint"`
	Name string `cbor:"2,keyasint"`
}

// TimerRef is a SendAfter timer of a migrating actor: Key is the handle its
// guest cancels it with; the tell of Payload to To is due InMicros after
// the MigrateIn was sent (0 or less: at once).
type TimerRef struct {
	Key           uint64 `cbor:"1,keyasint"`
	ToIncarnation uint64 `cbor:"2,keyasint"`
	ToSerial      uint64 `cbor:"3,keyasint"`
	InMicros      int64  `cbor:"4,keyasint"`
	Payload       []byte `cbor:"5,keyasint,omitempty"`
}

// WatcherRef is a monitor on a migrating actor, held on Node (a node name,
// with its incarnation) under Ref.
type WatcherRef struct {
	Node        string `cbor:"1,keyasint"`
	Incarnation uint64 `cbor:"2,keyasint"`
	Ref         uint64 `cbor:"3,keyasint"`
}

// WatchingRef is a monitor a migrating actor holds on Target.
type WatchingRef struct {
	Ref    uint64        `cbor:"1,keyasint"`
	Target wasmactor.PID `cbor:"2,keyasint"`
}

// MigrateInReply is the actor's PID at its new node.
type MigrateInReply struct {
	New wasmactor.PID `cbor:"1,keyasint"`
}

// MigrateCommit lets an arrived actor take over (or, as KindMigrateAbort,
// drops it). Expect lists the incarnations of the nodes that were members
// when it moved: its new node holds messages they send it directly until
// their fence has passed its old node.
type MigrateCommit struct {
	New    uint64   `cbor:"1,keyasint"`
	Expect []uint64 `cbor:"2,keyasint,omitempty"`
	// Old names the actor for an abort whose MigrateIn got no answer (New
	// unknown).
	Old wasmactor.PID `cbor:"3,keyasint,omitempty"`
}

// Moved tells the cluster that Old (an actor of the sender) now lives at
// New: its names and groups follow it, and the monitors it holds (Refs,
// the sender's refs) are now held by New's node.
type Moved struct {
	Old wasmactor.PID `cbor:"1,keyasint"`
	New wasmactor.PID `cbor:"2,keyasint"`
	// Watchers are the monitors on the actor; Watching the monitors it
	// holds (refs of its old node); Links the actors linked to it; Downs
	// the refs of DOWN records queued for it.
	Watchers []WatcherRef    `cbor:"3,keyasint,omitempty"`
	Watching []WatchingRef   `cbor:"4,keyasint,omitempty"`
	Links    []wasmactor.PID `cbor:"5,keyasint,omitempty"`
	Downs    []uint64        `cbor:"6,keyasint,omitempty"`
}

// Aliases are where moved actors live now, old PID → current PID.
type Aliases struct {
	List []Moved `cbor:"1,keyasint"`
}

// Migrate asks for an actor's migration to node To: by PID between nodes,
// by Target (PID text or name) from a client.
type Migrate struct {
	PID    wasmactor.PID `cbor:"1,keyasint,omitempty"`
	Target string        `cbor:"2,keyasint,omitempty"`
	To     string        `cbor:"3,keyasint"`
}

// MigrateReply is what a migration did.
type MigrateReply struct {
	Old        wasmactor.PID `cbor:"1,keyasint"`
	New        wasmactor.PID `cbor:"2,keyasint"`
	StateBytes int           `cbor:"3,keyasint,omitempty"`
	Micros     int64         `cbor:"4,keyasint,omitempty"`
}

// Drain asks a node to move its actors to other nodes. KeepIsolated
// leaves isolated actors where they are (reported as not moved); Parallel
// bounds the migrations in flight.
type Drain struct {
	Node         string `cbor:"1,keyasint,omitempty"`
	KeepIsolated bool   `cbor:"2,keyasint,omitempty"`
	Parallel     int    `cbor:"3,keyasint,omitempty"`
}

// DrainReply is what a drain did: the actors moved, and those left with
// why.
type DrainReply struct {
	Moved []MigrateReply `cbor:"1,keyasint,omitempty"`
	Left  []DrainLeft    `cbor:"2,keyasint,omitempty"`
}

// DrainLeft is an actor a drain did not move, and why.
type DrainLeft struct {
	PID     wasmactor.PID `cbor:"1,keyasint"`
	Factory string        `cbor:"2,keyasint"`
	Reason  string        `cbor:"3,keyasint"`
	Code    uint16        `cbor:"4,keyasint,omitempty"`
}

// Relay carries a cast that came to an actor's old node after the actor
// moved away, on to its new node. Origin is the node that sent the cast
// (the relay speaks for it only about Old, which the relaying node owns);
// Kind and Body are the cast, its target already rewritten to the actor's
// PID at the receiver.
type Relay struct {
	Origin            string        `cbor:"1,keyasint"`
	OriginIncarnation uint64        `cbor:"2,keyasint"`
	Old               wasmactor.PID `cbor:"3,keyasint"`
	Kind              uint16        `cbor:"4,keyasint"`
	Body              []byte        `cbor:"5,keyasint"`
}
