package proto

import (
	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/registry"
)

// Control kinds.
const (
	// Casts between nodes.
	KindModule    uint16 = 1  // Module: the sender holds this module
	KindSync      uint16 = 2  // Sync: the sender's view, sent to a peer that came up
	KindName      uint16 = 3  // registry.Claim: a name registered at the sender
	KindUnname    uint16 = 4  // NameRef: a name released at the sender
	KindJoin      uint16 = 5  // GroupRef
	KindLeave     uint16 = 6  // GroupRef
	KindMonitor   uint16 = 7  // Watch: a sender actor monitors a receiver actor
	KindDemonitor uint16 = 8  // Watch
	KindDown      uint16 = 9  // Down: a watched receiver-side... sender actor died
	KindLink      uint16 = 10 // Link: link a sender actor and a receiver actor
	KindUnlink    uint16 = 11 // Link
	KindExit      uint16 = 12 // Exit: a linked sender actor died
	KindKill      uint16 = 13 // Exit: exit signal to a receiver actor (restart policy applies)
	KindStop      uint16 = 14 // Exit: stop a receiver actor for good (Node.Stop: no restart)

	// KindSpawnRequest asks the receiver to spawn for an actor of the
	// sender (a guest's spawn_request); the receiver answers with a
	// KindSpawned cast, which travels ahead of any exit or down of the
	// child, since casts keep their order.
	KindSpawnRequest uint16 = 20 // SpawnRequest
	KindSpawned      uint16 = 21 // Spawned: the outcome of a SpawnRequest

	// KindRefusals carries counts of refused tells back to their senders'
	// node when the REFUSED envelopes could not be sent (a full queue): a
	// cast waits in the ordered control backlog rather than being lost.
	KindRefusals uint16 = 22 // Refusals

	// Calls between nodes.
	KindSpawn       uint16 = 100 // Spawn → SpawnReply
	KindFactoryOf   uint16 = 101 // ActorRef → FactoryReply: the factory of an actor of the receiver
	KindGroupChange uint16 = 110 // GroupChange → Empty: join or leave for an actor of the receiver

	// Calls from the CLI.
	KindDeploy     uint16 = 200 // Deploy → registry.ModuleInfo
	KindSend       uint16 = 201 // Message → Empty
	KindCall       uint16 = 202 // Message → CallReply
	KindPs         uint16 = 203 // PsRequest → PsPage (cluster-wide, one page)
	KindLocalPs    uint16 = 204 // PsRequest → PsPage (this node only, one page; node to node)
	KindNodes      uint16 = 205 // Empty → NodesReply
	KindModules    uint16 = 206 // Empty → []ModuleStatus
	KindKillActor  uint16 = 207 // Target → Empty
	KindSpawnCLI   uint16 = 208 // Spawn → SpawnReply
	KindStatus     uint16 = 209 // Empty → NodeStatus (this node only; node to node)
	KindNodeEvents uint16 = 210 // NodeEventsRequest → NodeEventsReply (long poll)
	KindGroups     uint16 = 211 // GroupsRequest → []GroupInfo
	KindSendGroup  uint16 = 212 // GroupMessage → GroupSendReply
	KindJoinSeeds  uint16 = 230 // Seeds → Empty: the node joins a cluster through the seeds
)

// Module announces a deployed module held by the sender.
type Module struct {
	Info registry.ModuleInfo `cbor:"1,keyasint"`
}

// Sync is a node's share of the cluster state, sent to a peer that came up so
// both converge: the modules it holds and the names and group memberships of
// its own actors.
type Sync struct {
	Modules []registry.ModuleInfo `cbor:"1,keyasint"`
	Names   []registry.Claim      `cbor:"2,keyasint"`
	Groups  []GroupRef            `cbor:"3,keyasint"`
	// Draining: the sender takes no new placed spawns (KindDraining).
	Draining bool `cbor:"4,keyasint,omitempty"`
}

// NameRef names one registration.
type NameRef struct {
	Name string        `cbor:"1,keyasint"`
	PID  wasmactor.PID `cbor:"2,keyasint"`
}

// GroupRef is one actor's membership of one group.
type GroupRef struct {
	Group string        `cbor:"1,keyasint"`
	PID   wasmactor.PID `cbor:"2,keyasint"`
}

// Watch is a monitor of Target (on the receiver) held by Watcher (on the
// sender, serial 0 = the sender's host).
type Watch struct {
	Watcher uint64 `cbor:"1,keyasint"`
	Target  uint64 `cbor:"2,keyasint"`
	Ref     uint64 `cbor:"3,keyasint"`
	// ToIncarnation is the receiver's run the sender addressed; another
	// run of the receiver (it restarted meanwhile) treats the cast as stale,
	// so a serial never reaches the actor of a later run.
	ToIncarnation uint64 `cbor:"9,keyasint"`
}

// Refusals counts tells the sender refused, by sending actor of the
// receiver (0: its Go API).
type Refusals struct {
	Counts        []RefusedCount `cbor:"1,keyasint"`
	ToIncarnation uint64         `cbor:"9,keyasint"` // the receiver's run the tells came from
}

// RefusedCount is how many tells of actor From the sender refused.
type RefusedCount struct {
	From uint64 `cbor:"1,keyasint"`
	N    uint64 `cbor:"2,keyasint"`
}

// Down tells the watcher's node that Target (on the sender) died.
type Down struct {
	Watcher       uint64 `cbor:"1,keyasint"`
	Target        uint64 `cbor:"2,keyasint"`
	Ref           uint64 `cbor:"3,keyasint"`
	Reason        string `cbor:"4,keyasint"`
	ToIncarnation uint64 `cbor:"9,keyasint"` // as in Watch
}

// Link links From (on the sender) and To (on the receiver).
type Link struct {
	From          uint64 `cbor:"1,keyasint"`
	To            uint64 `cbor:"2,keyasint"`
	ToIncarnation uint64 `cbor:"9,keyasint"` // as in Watch
}

// Exit is an exit signal from From (on the sender) to To (on the receiver).
type Exit struct {
	From          uint64 `cbor:"1,keyasint"`
	To            uint64 `cbor:"2,keyasint"`
	Reason        string `cbor:"3,keyasint"`
	ToIncarnation uint64 `cbor:"9,keyasint"` // as in Watch
}

// Spawn asks a node to spawn an actor.
type Spawn struct {
	Factory  string            `cbor:"1,keyasint"`
	Args     []byte            `cbor:"2,keyasint,omitempty"` // CBOR
	Name     string            `cbor:"3,keyasint,omitempty"`
	Isolated bool              `cbor:"4,keyasint,omitempty"`
	Restart  wasmactor.Restart `cbor:"5,keyasint,omitempty"`
	// Node is where to spawn (CLI only; empty = placement policy).
	Node string `cbor:"6,keyasint,omitempty"`
	// Module and Holder (node to node only) say which module the factory
	// resolved to and a node that holds it, so the receiver can pull it even
	// before the module's announcement reaches it.
	Module *registry.ModuleInfo `cbor:"7,keyasint,omitempty"`
	Holder string               `cbor:"8,keyasint,omitempty"`
	// Trace (node to node only) is the requester's trace context, as
	// [transport.Envelope.Trace] carries it; empty when untraced.
	Trace []byte `cbor:"9,keyasint,omitempty"`
}

// ActorRef is an actor of the receiving node: its serial, and the
// incarnation of the receiver the sender addressed.
type ActorRef struct {
	Serial        uint64 `cbor:"1,keyasint"`
	ToIncarnation uint64 `cbor:"9,keyasint"`
}

// FactoryReply names an actor's factory (without @version).
type FactoryReply struct {
	Factory string `cbor:"1,keyasint"`
}

// SpawnReply is the spawned actor.
type SpawnReply struct {
	PID wasmactor.PID `cbor:"1,keyasint"`
}

// Target is an actor named by PID text (<n2.3f9a0c11d2e4b607.17>, as
// wasmactor.PID.String prints it) or registered name.
type Target struct {
	Target string `cbor:"1,keyasint"`
	Reason string `cbor:"2,keyasint,omitempty"`
}

// Message is a payload for a target (send, call).
type Message struct {
	Target    string `cbor:"1,keyasint"`
	Payload   []byte `cbor:"2,keyasint"` // CBOR
	TimeoutMs int64  `cbor:"3,keyasint,omitempty"`
}

// CallReply is the answer of a call.
type CallReply struct {
	Payload []byte `cbor:"1,keyasint"` // CBOR
}

// Empty is a body with nothing in it.
type Empty struct{}

// DefaultPageBytes bounds a listing page when its request names no
// MaxBytes: well under the 1 MiB frame cap of a node's connections, so a
// page always fits a reply. MinPageBytes is the least a request may ask
// for (one ActorInfo with MaxNamesListed long names fits in it).
const (
	DefaultPageBytes = 256 << 10
	MinPageBytes     = 16 << 10
)

// MaxNamesListed is the most names an ActorInfo lists; NamesTotal says how
// many the actor holds when that is more.
const MaxNamesListed = 32

// PsRequest asks for one page of a listing of actors, in order of node
// name, then serial.
type PsRequest struct {
	// After is where the previous page ended (its Next); zero for the first.
	After PsCursor `cbor:"1,keyasint"`
	// MaxBytes bounds the encoded page: 0 means DefaultPageBytes, which is
	// also the most a request gets (a node-to-node page must fit a frame);
	// less than MinPageBytes means MinPageBytes.
	MaxBytes int `cbor:"2,keyasint,omitempty"`
}

// PageBytes is the page size r asks for, defaulted and clamped.
func (r PsRequest) PageBytes() int {
	if r.MaxBytes == 0 {
		return DefaultPageBytes
	}
	return min(max(r.MaxBytes, MinPageBytes), DefaultPageBytes)
}

// PsCursor is a position in a listing: the actors after Serial on node
// Node, then those of the nodes after it. Node is empty in node-to-node
// pages (KindLocalPs), which list one node.
type PsCursor struct {
	Node   string `cbor:"1,keyasint,omitempty"`
	Serial uint64 `cbor:"2,keyasint,omitempty"`
}

// PsPage is one page of actors. Next is nil when the listing is complete;
// otherwise the next request passes it as After. Errors name the nodes
// whose actors this page should have listed but could not (KindPs only).
type PsPage struct {
	Actors []ActorInfo `cbor:"1,keyasint"`
	Errors []NodeError `cbor:"2,keyasint,omitempty"`
	Next   *PsCursor   `cbor:"3,keyasint,omitempty"`
}

// NodeError is a node that could not answer its part of a listing.
type NodeError struct {
	Node    string `cbor:"1,keyasint"`
	Code    uint16 `cbor:"2,keyasint,omitempty"` // as in transport.RemoteError
	Message string `cbor:"3,keyasint"`
}

// NodesReply lists the members; Errors are members that did not answer.
type NodesReply struct {
	Nodes  []NodeStatus `cbor:"1,keyasint"`
	Errors []NodeError  `cbor:"2,keyasint,omitempty"`
}

// ActorInfo describes one actor for `ps`.
type ActorInfo struct {
	PID      wasmactor.PID `cbor:"1,keyasint" json:"pid"`
	Factory  string        `cbor:"2,keyasint" json:"factory"`
	Module   string        `cbor:"3,keyasint" json:"module"`
	Instance uint64        `cbor:"4,keyasint" json:"instance"`
	Names    []string      `cbor:"5,keyasint,omitempty" json:"names,omitempty"`
	// Mailbox is the user messages queued for the actor; Restarts how often
	// its supervision restarted it.
	Mailbox  int    `cbor:"20,keyasint,omitempty" json:"mailbox"`
	Restarts uint32 `cbor:"21,keyasint,omitempty" json:"restarts"`
	// Refused counts the actor's tells that another node refused.
	Refused uint64 `cbor:"22,keyasint,omitempty" json:"refused,omitempty"`
	// NamesTotal is how many names the actor holds when Names lists only
	// the first MaxNamesListed (sorted); 0 when Names is complete.
	NamesTotal int `cbor:"23,keyasint,omitempty" json:"names_total,omitempty"`
}

// NodeStatus describes one node for `nodes`.
type NodeStatus struct {
	Name        string `cbor:"1,keyasint" json:"name"`
	Incarnation uint64 `cbor:"2,keyasint" json:"incarnation"`
	Addr        string `cbor:"3,keyasint" json:"addr"`
	Actors      int    `cbor:"4,keyasint" json:"actors"`
	Instances   int    `cbor:"5,keyasint" json:"instances"`
	Modules     int    `cbor:"6,keyasint" json:"modules"`
	Up          bool   `cbor:"7,keyasint" json:"up"`
	// Pulls counts modules fetched from peers since the node started.
	Pulls      uint64 `cbor:"8,keyasint" json:"pulls"`
	Goroutines int    `cbor:"9,keyasint" json:"goroutines"`
	HeapBytes  uint64 `cbor:"10,keyasint" json:"heap_bytes"`
	Members    int    `cbor:"11,keyasint" json:"members"`
	// Counters for the observer: cumulative since the node started, so a
	// reader derives rates from two samples.
	Delivered   uint64  `cbor:"12,keyasint,omitempty" json:"delivered"`
	MailboxFull uint64  `cbor:"13,keyasint,omitempty" json:"mailbox_full"`
	Crashes     uint64  `cbor:"14,keyasint,omitempty" json:"crashes"`
	Restarts    uint64  `cbor:"15,keyasint,omitempty" json:"restarts"`
	GuestMemory uint64  `cbor:"16,keyasint,omitempty" json:"guest_memory"`
	CallCount   uint64  `cbor:"17,keyasint,omitempty" json:"call_count"`
	CallSeconds float64 `cbor:"18,keyasint,omitempty" json:"call_seconds"`
	// RecentCrashes are the node's last instance failures, newest first.
	RecentCrashes []Crash `cbor:"19,keyasint,omitempty" json:"recent_crashes,omitempty"`
	// ModuleActors counts live actors per module (short hash).
	ModuleActors map[string]int `cbor:"20,keyasint,omitempty" json:"module_actors,omitempty"`
	// Draining: the node is draining or drained, and placement passes it
	// by (KindDraining).
	Draining bool `cbor:"21,keyasint,omitempty" json:"draining,omitempty"`
}

// Crash is one discarded instance, as the observer shows it.
type Crash struct {
	UnixMs    int64    `cbor:"1,keyasint" json:"unix_ms"`
	Module    string   `cbor:"2,keyasint" json:"module"`
	Factories []string `cbor:"3,keyasint,omitempty" json:"factories,omitempty"`
	Instance  uint64   `cbor:"4,keyasint" json:"instance"`
	Actors    int      `cbor:"5,keyasint" json:"actors"`
	Reason    string   `cbor:"6,keyasint" json:"reason"`
}

// ModuleStatus describes one module for `modules`.
type ModuleStatus struct {
	Info    registry.ModuleInfo `cbor:"1,keyasint" json:"module"`
	Holders []string            `cbor:"2,keyasint" json:"holders"`
	// Actors counts the module's live actors per node (nodes with none
	// left out); Newest lists the factories it is the default version of.
	Actors map[string]int `cbor:"3,keyasint,omitempty" json:"actors,omitempty"`
	Newest []string       `cbor:"4,keyasint,omitempty" json:"newest,omitempty"`
}

// Seeds are seed addresses for KindJoinSeeds: HOST:PORT or dns:NAME:PORT.
type Seeds struct {
	Addrs []string `cbor:"1,keyasint"`
}

// SpawnRequest is a spawn for actor Parent of the sender, answered by a
// Spawned cast with the same Req. With Link the child is linked to the
// parent, and with MonitorRef not 0 monitored by it under that ref, both
// before the child runs.
type SpawnRequest struct {
	Req        uint64 `cbor:"1,keyasint"`
	Spawn      Spawn  `cbor:"2,keyasint"`
	Parent     uint64 `cbor:"3,keyasint"`
	Link       bool   `cbor:"4,keyasint,omitempty"`
	MonitorRef uint64 `cbor:"5,keyasint,omitempty"`
}

// Spawned is the outcome of a SpawnRequest: the child's PID, or an error
// code (as in transport.RemoteError) and its text. Parent and MonitorRef
// echo the request's, so a requester that no longer waits can let go of
// the child without having kept the request.
type Spawned struct {
	Req        uint64        `cbor:"1,keyasint"`
	PID        wasmactor.PID `cbor:"2,keyasint"`
	Code       uint16        `cbor:"3,keyasint,omitempty"`
	Message    string        `cbor:"4,keyasint,omitempty"`
	Parent     uint64        `cbor:"5,keyasint,omitempty"`
	MonitorRef uint64        `cbor:"6,keyasint,omitempty"`
}

// GroupChange asks the node that owns PID to add it to a group, or with
// Leave to take it out.
type GroupChange struct {
	Group string        `cbor:"1,keyasint"`
	PID   wasmactor.PID `cbor:"2,keyasint"`
	Leave bool          `cbor:"3,keyasint,omitempty"`
}

// MaxNodeEventsWait caps how long a NodeEventsRequest waits for an event.
const MaxNodeEventsWait = 60 * 1000 // ms

// NodeEventsRequest asks for the node events after cursor After (0: every
// event the node still holds), waiting up to WaitMs (at most
// MaxNodeEventsWait) for one when there is none yet.
type NodeEventsRequest struct {
	After  uint64 `cbor:"1,keyasint"`
	WaitMs int64  `cbor:"2,keyasint,omitempty"`
}

// NodeEventsReply holds the events after the request's cursor, oldest
// first; Next is the cursor of the next request. Missed counts events
// after the cursor that the node no longer holds (it keeps the last few
// hundred).
type NodeEventsReply struct {
	Events []NodeEvent `cbor:"1,keyasint"`
	Next   uint64      `cbor:"2,keyasint"`
	Missed uint64      `cbor:"3,keyasint,omitempty"`
}

// NodeEvent is a peer of the answering node that came up or went down.
type NodeEvent struct {
	Seq         uint64 `cbor:"1,keyasint" json:"seq"`
	Node        string `cbor:"2,keyasint" json:"node"`
	Incarnation uint64 `cbor:"3,keyasint" json:"incarnation"`
	Addr        string `cbor:"4,keyasint,omitempty" json:"addr,omitempty"`
	Up          bool   `cbor:"5,keyasint,omitempty" json:"up"`
	Reason      string `cbor:"6,keyasint,omitempty" json:"reason"`
	UnixMs      int64  `cbor:"7,keyasint" json:"unix_ms"`
}

// GroupsRequest lists every group, or with Group only that one.
type GroupsRequest struct {
	Group string `cbor:"1,keyasint,omitempty"`
}

// GroupInfo is a group and its members, sorted.
type GroupInfo struct {
	Group   string          `cbor:"1,keyasint" json:"group"`
	Members []wasmactor.PID `cbor:"2,keyasint" json:"members"`
}

// GroupMessage is a payload for every member of a group.
type GroupMessage struct {
	Group   string `cbor:"1,keyasint"`
	Payload []byte `cbor:"2,keyasint"` // CBOR
}

// MaxRefusalsListed bounds GroupSendReply.Refusals.
const MaxRefusalsListed = 64

// GroupSendReply says what a send to a group did: the members it had,
// how many were sent the message (queued locally, or handed to the
// transport for a member elsewhere), how many refused it at once, and
// the first MaxRefusalsListed refusals.
type GroupSendReply struct {
	Members  int       `cbor:"1,keyasint"`
	Sent     int       `cbor:"2,keyasint"`
	Refused  int       `cbor:"3,keyasint,omitempty"`
	Refusals []Refusal `cbor:"4,keyasint,omitempty"`
}

// Refusal is one member that refused a message, with the error code (as
// in transport.RemoteError) and its text.
type Refusal struct {
	PID     wasmactor.PID `cbor:"1,keyasint"`
	Code    uint16        `cbor:"2,keyasint"`
	Message string        `cbor:"3,keyasint"`
}
