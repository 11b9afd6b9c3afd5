// Package wasmactor holds the vocabulary shared by every part of the platform:
// process identifiers ([PID]), stop reasons, restart policies and the sentinel
// errors callers match with [errors.Is].
//
// The runtime itself lives in sub-packages:
//
//   - host: the Node, the public Go API (deploy, spawn, send, call, monitor).
//   - scheduler: mailboxes, run queues, workers, supervision arithmetic.
//   - registry: module store, factory index, names and groups.
//   - transport: how nodes move envelopes; transport/quic implements it.
//   - guest-sdk/actor: the SDK compiled into WASM guests.
//
// # PIDs
//
// A [PID] names one actor in the cluster: the node it runs on, that node's
// incarnation (a random 64-bit id chosen each time the node starts, so PIDs of a
// restarted node are known to be stale) and a serial unique within the
// incarnation. PIDs print as <node.incarnation.serial>, the incarnation as 16
// hex digits (<n2.3f9a0c11d2e4b607.17>), and [ParsePID] accepts only that
// form: serials restart at 1 when a node restarts, so a PID without its
// incarnation could name an actor of a later run. A PID of an earlier run of
// its node fails with [ErrStaleIncarnation] wherever it is used.
package wasmactor
