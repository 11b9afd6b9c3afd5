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
// incarnation. PIDs print as <node.serial>.
package wasmactor
