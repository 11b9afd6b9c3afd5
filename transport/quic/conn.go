package quic

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	qgo "github.com/quic-go/quic-go"

	"github.com/wasmactor/wasmactor/token"
	"github.com/wasmactor/wasmactor/transport"
)

var errWrongNode = fmt.Errorf("%w: another node answers at that address", transport.ErrNodeDown)

// exporter is the channel-binding value of conn's TLS session (RFC 9266).
func exporter(conn *qgo.Conn) ([]byte, error) {
	cs := conn.ConnectionState().TLS
	if cs.NegotiatedProtocol != ALPN {
		return nil, fmt.Errorf("%w: ALPN %q", transport.ErrHandshake, cs.NegotiatedProtocol)
	}
	return cs.ExportKeyingMaterial(exporterLabel, nil, exporterLen)
}

// closeCode is the application error code that tells a peer why its
// connection attempt was turned down.
func closeCode(err error) qgo.ApplicationErrorCode {
	switch {
	case errors.Is(err, errDuplicate):
		return CodeDuplicate
	case errors.Is(err, errSelf):
		return CodeSelf
	case errors.Is(err, errNameClash):
		return CodeNameClash
	case errors.Is(err, errClosing):
		return CodeLeaving
	case errors.Is(err, errWrongNode):
		return CodeWrongNode
	}
	return CodeHandshakeFailed
}

// guard closes conn if ctx ends before the returned stop is called: it
// bounds a handshake by its deadline and by Close.
func guard(ctx context.Context, conn *qgo.Conn) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		conn.CloseWithError(CodeHandshakeFailed, "handshake timeout")
	})
}

func (t *Transport) selfHello() hello {
	return hello{
		Version:     protocolVersion,
		Role:        roleNode,
		Name:        t.self.Name,
		Incarnation: t.self.Incarnation,
		Addr:        t.self.Addr,
		MaxFrame:    uint64(t.cfg.MaxFrame),
		MaxRequest:  uint64(t.cfg.MaxRequest),
	}
}

// serveConn runs the server side of the handshake on an accepted
// connection and, if it is admitted, starts its session. One attempt per
// connection: any failure closes it. Until the client's proof is verified
// the connection holds one of the MaxUnauthenticated slots and may use
// nothing but the control stream.
func (t *Transport) serveConn(conn *qgo.Conn) {
	ip := ipOf(conn.RemoteAddr())
	if !t.unauth.take(ip) {
		conn.CloseWithError(CodeBusy, "")
		return
	}
	defer t.unauth.release(ip)
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.HandshakeTimeout)
	defer cancel()
	stop := guard(ctx, conn)
	fail := func(err error) {
		if t.ctx.Err() == nil {
			t.limiter.fail(ip)
			t.unknownFailures.Add(1) // the peer's name is its word until its proof verifies
			t.log.Warn("handshake failed", "remote", conn.RemoteAddr().String(), "err", err)
		}
		conn.CloseWithError(CodeHandshakeFailed, "")
	}
	// The client's first stream is the control stream; nothing else is
	// accepted before the handshake completes.
	str, err := conn.AcceptStream(ctx)
	if err != nil {
		fail(err)
		return
	}
	if str.StreamID() != 0 {
		fail(errors.New("first stream is not the control stream"))
		return
	}
	stopWatch := refuseEarlyStreams(conn)
	defer stopWatch()
	ekm, err := exporter(conn)
	if err != nil {
		fail(err)
		return
	}
	deadline, _ := ctx.Deadline()
	str.SetDeadline(deadline)
	h := newHandshaker(t.cfg.Cookie, t.selfHello(), str, ekm)
	h.auth = t.cfg.auth
	h.clientRequest = uint64(t.cfg.MaxClientRequest)
	var s *session
	_, err = h.server(func(p hello) error {
		if err := stopWatch(); err != nil {
			return err
		}
		if p.Expect != "" && p.Expect != t.self.Name {
			return errWrongNode
		}
		s = t.newSession(conn, str, h.r, p, false)
		s.peer.Grant = h.grant
		if err := t.admit(s); err != nil {
			s = nil
			return err
		}
		return nil
	})
	if werr := stopWatch(); werr != nil {
		err = werr // the cause of the connection's end
	}
	timedOut := !stop()
	if s != nil {
		// Admitted: the session reports its own end, even if the proof
		// could not be sent.
		str.SetDeadline(time.Time{})
		s.start()
		if err != nil || timedOut {
			conn.CloseWithError(CodeHandshakeFailed, "")
		}
		return
	}
	if err != nil && !timedOut && closeCode(err) != CodeHandshakeFailed {
		// Authenticated but turned down (tie-break, self, wrong node,
		// closing): not a failed attempt.
		conn.CloseWithError(closeCode(err), "")
		return
	}
	if err == nil {
		err = errors.New("handshake timeout")
	}
	fail(err)
}

// errEarlyStream: a peer opened a stream before its proof was verified.
var errEarlyStream = fmt.Errorf("%w: a stream was opened before the handshake completed", transport.ErrHandshake)

// refuseEarlyStreams closes conn as soon as the peer opens any stream
// besides the control stream, until the returned stop is called; stop
// (safe to call again) reports whether that happened. quic-go fixes the
// stream limits when a connection is set up, so an unauthenticated peer
// could otherwise open MaxStreams+1 bidirectional and MaxLanes
// unidirectional streams and leave data in each.
func refuseEarlyStreams(conn *qgo.Conn) (stop func() error) {
	ctx, cancel := context.WithCancel(conn.Context())
	var seen atomic.Bool
	var wg sync.WaitGroup
	watch := func(accept func(context.Context) error) {
		defer wg.Done()
		if accept(ctx) == nil {
			seen.Store(true)
			conn.CloseWithError(CodeHandshakeFailed, "")
		}
	}
	wg.Add(2)
	go watch(func(ctx context.Context) error { _, err := conn.AcceptStream(ctx); return err })
	go watch(func(ctx context.Context) error { _, err := conn.AcceptUniStream(ctx); return err })
	return func() error {
		cancel()
		wg.Wait()
		if seen.Load() {
			return errEarlyStream
		}
		return nil
	}
}

// dialNode connects to addr, runs the client handshake and admits the
// session. expect, if set, is the node name that must answer.
func (t *Transport) dialNode(ctx context.Context, addr, expect string) error {
	ua, err := resolveUDP(addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.HandshakeTimeout)
	defer cancel()
	stopCtx := context.AfterFunc(t.ctx, cancel)
	defer stopCtx()
	conn, err := t.qt.Dial(ctx, ua, t.tlsClient, t.quicConfig)
	if err != nil {
		if t.ctx.Err() != nil {
			return closedError{}
		}
		return dialError(addr, err)
	}
	stop := guard(ctx, conn)
	self := t.selfHello()
	self.Expect = expect
	str, h, peer, err := clientHandshake(ctx, conn, t.cfg.Cookie, nil, self, func(p hello) error {
		if p.Name == t.self.Name && p.Incarnation == t.self.Incarnation {
			return errSelf
		}
		if expect != "" && p.Name != expect {
			return errWrongNode
		}
		return nil
	})
	if err != nil {
		stop()
		conn.CloseWithError(closeCode(err), "")
		if t.ctx.Err() != nil {
			return closedError{}
		}
		return dialError(addr, err)
	}
	s := t.newSession(conn, str, h.r, peer, true)
	if err := t.admit(s); err != nil {
		stop()
		conn.CloseWithError(closeCode(err), "")
		return err
	}
	timedOut := !stop()
	str.SetDeadline(time.Time{})
	s.start()
	if timedOut {
		conn.CloseWithError(CodeHandshakeFailed, "")
		return fmt.Errorf("%w: %s: handshake timeout", transport.ErrHandshake, addr)
	}
	return s.waitActive(addr)
}

// waitActive waits until the leader of the pair made s the active session
// (at once if this node leads), or turned it down.
func (s *session) waitActive(addr string) error {
	select {
	case <-s.activated:
		return nil
	case <-s.ctx.Done():
	}
	select {
	case <-s.activated: // activated, then lost at once
		return nil
	default:
	}
	if s.t.ctx.Err() != nil {
		return closedError{}
	}
	return dialError(addr, context.Cause(s.ctx))
}

// clientHandshake opens the control stream and proves the cookie, or tok
// if it is not nil.
func clientHandshake(ctx context.Context, conn *qgo.Conn, cookie []byte, tok *token.Token, self hello, check func(hello) error) (*qgo.Stream, *handshaker, hello, error) {
	ekm, err := exporter(conn)
	if err != nil {
		return nil, nil, hello{}, err
	}
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, nil, hello{}, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		str.SetDeadline(deadline)
	}
	h := newHandshaker(cookie, self, str, ekm)
	h.tok = tok
	peer, err := h.client(check)
	if err != nil {
		return nil, nil, hello{}, err
	}
	return str, h, peer, nil
}
