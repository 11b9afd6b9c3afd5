package quic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	qgo "github.com/quic-go/quic-go"

	"github.com/wasmactor/wasmactor/token"
	"github.com/wasmactor/wasmactor/transport"
)

// client is a [transport.Client]: one connection to one node, used for
// calls (the CLI).
type client struct {
	peer    transport.NodeInfo
	conn    *qgo.Conn
	qt      *qgo.Transport
	udp     *net.UDPConn
	peerReq int
	ownMax  int
	once    sync.Once
	closed  atomic.Bool
}

// Dial connects to the node at addr as a client: it authenticates with the
// cookie like a node, or with a token, but takes no part in membership,
// and can only make calls. The local UDP socket is bound to the loopback address when addr is
// a loopback address, to any address otherwise.
func Dial(ctx context.Context, addr string, cfg ClientConfig) (transport.Client, error) {
	c, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if c.tok != nil && c.tok.Claims().Expired(time.Now()) {
		// Say so here: the node would only refuse the handshake, and count
		// it against this address.
		return nil, fmt.Errorf("%w at %s", token.ErrExpired, c.tok.Claims().Expires.UTC().Format(time.RFC3339))
	}
	_, tlsConf, err := tlsConfigs(c.TLS, c.CertFile, c.KeyFile, c.CAFile)
	if err != nil {
		return nil, err
	}
	ua, err := resolveUDP(addr)
	if err != nil {
		return nil, err
	}
	local := &net.UDPAddr{}
	if ua.IP.IsLoopback() {
		local.IP = ua.IP
	}
	udp, err := net.ListenUDP("udp", local)
	if err != nil {
		return nil, fmt.Errorf("transport/quic: dial: %w", err)
	}
	qt := &qgo.Transport{Conn: udp}
	fail := func(err error) (transport.Client, error) {
		qt.Close()
		udp.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	qc := quicConfig(c.Timeout, c.IdleTimeout, c.IdleTimeout/4, 0)
	qc.MaxIncomingStreams = -1
	qc.MaxIncomingUniStreams = -1
	conn, err := qt.Dial(ctx, ua, tlsConf, qc)
	if err != nil {
		return fail(dialError(addr, err))
	}
	stop := guard(ctx, conn)
	self := hello{
		Version:     protocolVersion,
		Role:        roleClient,
		Name:        c.Name,
		Incarnation: randomIncarnation(),
		MaxFrame:    uint64(c.MaxFrame),
	}
	str, _, peer, err := clientHandshake(ctx, conn, c.Cookie, c.tok, self, nil)
	if !stop() && err == nil {
		err = errors.New("handshake timeout")
	}
	if err != nil {
		conn.CloseWithError(closeCode(err), "")
		if code, remote, ok := appCode(err); ok && remote && code == CodeHandshakeFailed && c.tok != nil {
			return fail(fmt.Errorf("%w: %s rejected token %s (minted from another cluster's cookie, or expired?)", transport.ErrHandshake, addr, c.tok.ID()))
		}
		return fail(dialError(addr, err))
	}
	// The control stream stays open and silent: the node treats its end
	// as the client leaving.
	_ = str
	return &client{peer: peer.info(), conn: conn, qt: qt, udp: udp, peerReq: int(peer.MaxRequest), ownMax: c.MaxFrame}, nil
}

// Peer is the node this client is connected to.
func (c *client) Peer() transport.NodeInfo { return c.peer }

// Call sends req to the node's Handler.HandleCall and waits for the answer.
func (c *client) Call(ctx context.Context, req transport.Control) ([]byte, error) {
	if c.closed.Load() {
		return nil, closedError{}
	}
	if err := context.Cause(c.conn.Context()); err != nil {
		return nil, fmt.Errorf("%w: connection to %s lost: %v", transport.ErrNodeDown, c.peer.Name, err)
	}
	return doCall(ctx, c.conn, c.peer.Name, c.peerReq, c.ownMax, req)
}

// Close closes the connection. Safe to call more than once.
func (c *client) Close() error {
	c.once.Do(func() {
		c.closed.Store(true)
		c.conn.CloseWithError(CodeLeaving, "client done")
		c.qt.Close()
		c.udp.Close()
	})
	return nil
}
