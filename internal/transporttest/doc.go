// Package transporttest checks that a [transport.Transport] keeps the
// contract the host relies on: one conformance suite ([Run]) that both
// internal/memtransport and transport/quic run, instead of a hand-written
// copy of the same checks per transport.
//
// # Using it
//
// A transport's tests implement [Network] (create a node, crash it, make
// one node stop hearing another) and call [Run]:
//
//	func TestConformance(t *testing.T) {
//		transporttest.Run(t, func(t *testing.T, opts transporttest.Options) transporttest.Network {
//			return newSuiteNetwork(t, opts)
//		})
//	}
//
// Every check records what each node's Handler receives with a [Recorder],
// which also enforces the session rules of [transport.Handler] as calls
// arrive: NodeUp and NodeDown alternate per peer, nothing is delivered
// outside a session.
//
// # Faults over real sockets
//
// [Proxy] forwards UDP datagrams to one node and can cut, one direction at
// a time, the flows that exist when told while letting new connections
// through, which is how a QUIC test makes one node stop hearing another.
//
// # Notes
//
// Checks wait on events, never on sleeps; their only timeouts turn a hang
// into a failure. Detection of a crashed or silent peer takes the
// transport's idle timeout.
package transporttest
