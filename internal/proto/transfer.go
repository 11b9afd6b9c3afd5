package proto

import "github.com/wasmactor/wasmactor/registry"

// Control kinds of module transfer in chunks: a node pulling a module from
// a peer, and a client deploying one. They are numbered apart from the
// others (160, 260s) so that work adding kinds in parallel does not
// collide.
const (
	// A call between nodes.
	KindModuleChunk uint16 = 160 // ModuleChunkRequest → ModuleChunk: a piece of a module the receiver stores

	// Calls from clients.
	KindDeployOpen   uint16 = 260 // DeployOpen → DeployOpened: start a deploy in chunks
	KindDeployChunk  uint16 = 261 // DeployChunk → Empty: the next piece of it
	KindDeployCommit uint16 = 262 // DeployCommit → registry.ModuleInfo: check, compile and store it
	KindDeployAbort  uint16 = 263 // DeployCommit (Hash ignored) → Empty: drop the upload and its file
)

// ChunkSize is the most module bytes one chunk carries, both ways. With
// its few bytes of envelope it fits well under the 1 MiB frame cap every
// node and client accepts by default, so neither end of a transfer ever
// holds a message larger than this, whatever the module's size.
const ChunkSize = 512 << 10

// ModuleChunkRequest asks a holder for the module's bytes from Offset on.
type ModuleChunkRequest struct {
	Hash   registry.Hash `cbor:"1,keyasint"`
	Offset int64         `cbor:"2,keyasint,omitempty"`
}

// ModuleChunk is a piece of a module: at most ChunkSize bytes from Offset,
// and the module's whole size. Data is empty only at the end.
type ModuleChunk struct {
	Size   int64  `cbor:"1,keyasint"`
	Offset int64  `cbor:"2,keyasint,omitempty"`
	Data   []byte `cbor:"3,keyasint,omitempty"`
}

// DeployOpen starts a deploy in chunks of a module of Size bytes.
type DeployOpen struct {
	Size int64 `cbor:"1,keyasint"`
}

// DeployOpened names the upload the chunks go to, and the most bytes the
// node takes in one.
type DeployOpened struct {
	ID        uint64 `cbor:"1,keyasint"`
	ChunkSize int    `cbor:"2,keyasint"`
}

// DeployChunk is the next piece of an upload: Offset is what the node has
// taken so far (chunks go in order, one at a time).
type DeployChunk struct {
	ID     uint64 `cbor:"1,keyasint"`
	Offset int64  `cbor:"2,keyasint,omitempty"`
	Data   []byte `cbor:"3,keyasint"`
}

// DeployCommit ends an upload: every byte sent, Hash is the SHA-256 of all
// of them. The node checks both, then deploys the module as KindDeploy
// would.
type DeployCommit struct {
	ID   uint64        `cbor:"1,keyasint"`
	Hash registry.Hash `cbor:"2,keyasint"`
}
