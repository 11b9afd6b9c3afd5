// Package proto defines the cluster's control messages: what nodes tell each
// other about modules, names, groups, monitors and links, and the requests a
// node or the CLI sends with transport.Call. Bodies are CBOR, encoded and
// decoded into these concrete structs with the cluster's one pair of modes
// (internal/cbormode), the same as frames and envelope batches in
// internal/wire. Its array cap (2^20) is sized for this package's largest
// bodies: a cluster-wide ps reply and a Sync list every actor or name a node
// holds.
//
// # Casts and calls
//
// Kinds below 100 are casts (one way, ordered per peer on the control stream).
// Kinds from 100 are calls (request/response on a stream of their own); the
// ones from 200 are what the CLI asks of the node it is connected to.
package proto
