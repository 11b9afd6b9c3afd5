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
// Two nodes share one QUIC connection. When both dial at once, the
// connection dialled by the node whose name sorts first wins, on both sides,
// and the other is closed with [CodeDuplicate]; neither side reports the
// peer down. The connection carries:
//
//   - the control stream (the first bidirectional stream, opened by the
//     dialler): the handshake, then member lists and casts, in order;
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
// goroutine hand-off per hop of a request/response.
//
// # Handler calls
//
// HandleEnvelopes is called by one goroutine per incoming lane: sequential
// for one lane, concurrent across lanes and peers. HandleCast is called by
// the peer's control-stream goroutine, in order. HandleCall and ServeBlob
// run on a goroutine per stream, concurrently. NodeUp and NodeDown are
// called in order from one notifier goroutine; for one peer incarnation,
// NodeUp comes before any other call about it and NodeDown after all of
// them have returned, so a handler may call back into the transport.
//
// # Goroutines and locks
//
// One loop goroutine owns membership (members, sessions, dial and redial
// state); handshakes, dials and session supervisors hand it closures. Send
// reads an atomically published map of sessions and takes only its lane's
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
// # Errors
//
// Methods of a closed transport return an error matching both
// wasmactor.ErrClosed and net.ErrClosed. Send returns
// transport.ErrNodeDown, transport.ErrQueueFull or a [*wire.FrameTooLargeError]
// (matching transport.ErrFrameTooLarge). Handshake failures match
// transport.ErrHandshake. The QUIC application error codes (Code*) and
// stream error codes (Stream*) are part of the wire protocol.
package quic
