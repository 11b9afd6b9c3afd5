// Package abi is the vocabulary of the guest ABI (docs/abi.md), written once
// and shared by everything on the host side that speaks it: the engine that
// runs guests, the node that routes their messages, the control protocol
// that carries error codes between nodes, and the CLI that turns those codes
// into exit codes.
//
// It holds words, not behaviour: the ABI [Version], the [PID] as a guest sees
// it, the record [Kind]s of a batch, the error codes ([Errno]) and their
// mapping to and from the sentinel errors of the root package, the
// [SpawnFlags], spawn_request's [RestartPolicy] values, the [GroupEvent]s of
// GROUP records and the [LogLevel]s. It imports only the standard library and
// the root package.
//
// # Error codes
//
// Codes 0-99 are the ABI's: a guest sees them as import results and REPLY
// statuses. Codes from 100 name sentinels a guest never sees (a bad module,
// an unknown node...); they travel only in transport.RemoteError and in
// replies to a node's own asks, so a peer or the CLI gets back exactly the
// error the node had. [CodeOf] gives the exact code of an error, [ErrnoOf]
// the nearest one a guest can act on, and [Errno.Err] the sentinel of either.
//
// # The guest SDK's copy
//
// guest-sdk/actor compiles into guests and imports only the standard library
// and fxamacker/cbor, so it keeps its own copy of these numbers; its tests
// check that the copy matches this package.
package abi
