// Package quic implements [transport.Transport] over QUIC (quic-go), and
// [Dial], the client connection the CLI uses to talk to one node.
//
// # Using it
//
//	cookie, err := quic.LoadOrCreateCookie(filepath.Join(dataDir, "cookie"))
//	tr, err := quic.New(quic.Config{Name: "n1", Listen: "127.0.0.1:0", Cookie: cookie})
//	err = tr.Start(ctx, handler)
//	err = tr.Join(ctx, []string{"127.0.0.1:7946"})
//	defer tr.Close()
//
// Tests bind "127.0.0.1:0" and read the chosen address from [Transport.Addr]
// (or Self().Addr). A [Config]'s zero fields take the documented defaults;
// [New] validates and copies it.
//
// # Connections and streams
//
// Two nodes share one QUIC connection, their session (see Sessions). The
// connection carries:
//
//   - the control stream (the first bidirectional stream, opened by the
//     dialler): the handshake, then the offer or activation (see
//     Sessions), member lists and casts, in order;
//   - lanes: [Config.Lanes] unidirectional streams per direction, opened
//     once. An envelope takes lane hash(From, To) mod Lanes, so a pair of
//     actors always uses the same lane and its envelopes arrive in order;
//   - one bidirectional stream per Call and per FetchBlob, so a large
//     module transfer never holds up messages.
//
// Never a stream per message: each lane has a queue drained by one writer
// goroutine, which encodes everything queued into as few frames as the caps
// allow, writes, and sleeps once the queue is empty. Batches grow while a
// write is in progress; no timer is involved. A Send that finds its lane
// idle writes directly (a non-blocking quic-go TryWriteAll), which saves a
// goroutine hand-off per hop of a request/response. The queues of a peer's
// lanes are bounded together, in envelopes ([Config.SendQueue]) and bytes
// ([Config.SendQueueBytes]); Send returns transport.ErrQueueFull beyond.
//
// # Sessions
//
// A connection is tentative after the handshake: it carries nothing until
// the pair's leader, the node whose name sorts first, makes it the active
// session. The leader activates its own dial at once; the other node opens
// its dial with an offer naming the generation of the session it replaces
// (0 for none), and the leader activates it if it has no live session or
// that one is the session named, and closes it with [CodeDuplicate]
// otherwise. Activation is the leader's first control message on the
// connection, with the session's generation. So when two nodes dial each
// other at once, the connection that loses was never used: no request,
// envelope or cast on it can fail or be lost, and neither node sees the
// other go down.
//
// An active session is replaced only when one side found it lost (it
// stopped hearing the peer, or the peer restarted). The side that did not
// notice learns it from the new connection: the leader from the offer, the
// other node from the activation. It closes the old session with
// [CodeSuperseded] and reports NodeDown with
// [transport.ErrPeerReconnected] before NodeUp for the new session, so
// both nodes rebuild the state they share ([transport.Handler],
// "Sessions"). A connection not activated within HandshakeTimeout is
// closed.
//
// # Handler calls
//
// HandleEnvelopes is called by one goroutine per incoming lane: sequential
// for one lane, concurrent across lanes and peers. HandleCast is called by
// the peer's control-stream goroutine, in order. HandleCall and ServeBlob
// run on a goroutine per stream, concurrently. NodeUp and NodeDown are
// called in order from one notifier goroutine; for one session, NodeUp
// comes before any other call from it and NodeDown after all of them have
// returned, and a session's NodeDown comes before the next one's NodeUp,
// so a handler may call back into the transport.
//
// # Goroutines and locks
//
// One loop goroutine owns membership (members, sessions, their activation
// and generations, dial and redial state); handshakes, dials, control
// readers (offers, activations, member lists) and session supervisors hand
// it closures; functions that run only on the loop end in OnLoop
// (admitOnLoop, shutdownOnLoop), and a name ending in Locked means a mutex
// is held. Send reads an atomically published map of sessions and takes only its lane's
// mutex (held across a non-blocking quic-go TryWriteAll, never across a
// blocking call or a handler call). The other mutexes (control queue,
// notifier queue, rate limiter, unauthenticated-connection counter) are
// leaves: nothing else is locked while one is held. Every goroutine is
// counted, and Close waits for all of them; the two that watch an
// accepted connection for early streams belong to its handshake
// goroutine, which stops them before it returns.
//
// # Membership
//
// Nodes that share a connection tell each other whom else they are
// connected to, and each dials the nodes it did not know (full mesh). A
// name and address from a peer's list is only a lead: it counts as a
// member once a handshake with it has verified it. At most
// [Config.MaxMembers] nodes are tracked; leads are dialled at most eight
// at a time and forgotten after four failed dials, so a peer announcing
// thousands of members costs a bounded number of goroutines and dials.
//
// # Failure detection
//
// QUIC keep-alives run every [Config.KeepAlive]; a peer silent for
// [Config.IdleTimeout] is reported down with [transport.ErrPeerTimeout] and
// redialled with exponential backoff and jitter. The stateless reset key
// is derived from the cookie and the node name, so a node restarted under
// the same name resets its predecessor's connections and peers notice at
// once; a peer that comes back with a new incarnation is reported down
// ([transport.ErrPeerRestarted] or the reset) and then up. A peer that
// closes cleanly is reported with [transport.ErrPeerLeft] and not redialled.
// A fault one side notices alone (it stops hearing the peer, which still
// hears it) ends with both sides reporting the old session down and the new
// one up (see Sessions).
//
// # Counters
//
// [Transport.PeerStats] reports, per peer node, the messages (envelopes
// and casts) and bytes in and out, the smoothed RTT, reconnects and failed
// handshakes. Messages are counted on the message path by one atomic add
// per Send, Cast or delivered batch, in counters the peer's member record
// owns and its sessions share, so no lock or allocation is added per
// message. Bytes and RTT are quic-go's own (Conn.ConnectionStats, read
// when asked); the loop adds a session's bytes to its member's when the
// session ends, so counts survive reconnects. Handshakes that fail before
// the peer proved the cookie, and failed dials of seeds, count under
// transport.UnknownPeer: a name nobody verified is no label.
//
// # Security
//
// See docs/protocol.md: the cookie handshake inside TLS 1.3, channel
// binding, rate limiting of failed attempts, optional mutual TLS. Before a
// client has proved the cookie, the node tells it nothing about itself (a
// nonce; its certificate names no node), lets it use only the control
// stream (any other stream closes the connection), buffers at most a
// 64 KiB receive window for it, and holds at most
// [Config.MaxUnauthenticatedPerIP] such connections per address and
// [Config.MaxUnauthenticated] in all.
//
// A client ([Dial]) may prove a token (package token, [ClientConfig.Token])
// instead of the cookie: its proof is keyed by the token's secret, which
// never crosses the wire, and the node answers with a signature made with a
// key derived from the cookie. The node hands what the client proved to its
// handler as transport.PeerInfo.Grant.
//
// # Errors
//
// Methods of a closed transport return an error matching both
// wasmactor.ErrClosed and net.ErrClosed. Send returns
// transport.ErrNodeDown, transport.ErrQueueFull or a [*wire.FrameTooLargeError]
// (matching transport.ErrFrameTooLarge). Cast returns transport.ErrNodeDown,
// or transport.ErrQueueFull when the peer's control queue holds
// [Config.ControlQueue] messages or [Config.ControlQueueBytes] bytes: a
// control message is refused to its caster, never dropped. Handshake failures match
// transport.ErrHandshake. The QUIC application error codes (Code*) and
// stream error codes (Stream*) are part of the wire protocol.
package quic
