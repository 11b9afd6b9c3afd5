// Package registry holds what a wasmactor cluster knows by name: the
// content-addressed module store, the factory index with its versions,
// cluster-wide actor names and process groups. It knows nothing of WASM
// execution or networking; the host fills it and the cluster layer
// replicates it.
//
// # Modules
//
// A module is identified by the SHA-256 of its bytes, a [Hash]. A [Store]
// keeps module blobs with their [ModuleInfo]: [NewMemStore] in memory,
// [NewDirStore] on disk so a restarted node still knows its modules. Stores
// check the hash on the way in, and the disk store checks it again on the way
// out, so a corrupted file is reported (and can be fetched again from a peer)
// instead of being compiled.
//
// # Factories
//
// [Factories] indexes which modules export which factory. "Counter" resolves
// to the newest module exporting Counter (largest DeployedAt, ties broken by
// the larger hash, so every node picks the same one); "Counter@ab12" pins the
// module whose hash starts with ab12.
//
// # Names and groups
//
// [Names] maps cluster-wide names to PIDs. A local [Names.Register] is first
// come, first served. Claims learned from other nodes go through
// [Names.Offer]: the incumbent wins, so a claim for a name another node
// already holds does not take it but waits behind it, and takes it only if
// the holder lets go (unregistered, died, or its node went down). No claim
// carries a time, so none can be back-dated. Which of several concurrent
// claims should stand is decided by the holders' own nodes, with
// [Claim.Precedes] (a hash of the name and the node name, which the claimer
// cannot pick per claim); the node that loses withdraws its claim, and every
// table hands the name to the same waiting claim. [Groups] holds process
// groups in the manner of Erlang's pg: any PID may join any group,
// membership is a set.
//
// # Wire and disk formats
//
// [ModuleInfo] and [Claim] carry CBOR tags with integer keys. Bytes that come
// from disk or a peer are decoded with [DecodeModuleInfo] and [DecodeClaim],
// which use the cluster's one strict mode (internal/cbormode: no indefinite
// lengths, no duplicate keys, no tags, bounded counts and nesting, the same
// as every body on the wire) and validate the result. Rules of this package,
// such as at most 256 factories per module, are checked by validation, not
// by decoder limits.
//
// # Concurrency
//
// Every type is safe for concurrent use. Each holds a single lock of its own
// and never calls out while holding it, so there is no lock order to respect.
package registry
