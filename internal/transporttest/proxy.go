package transporttest

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Direction is a way through a [Proxy]: towards the node behind it
// (ToServer) or back to the client that dialled it (ToClient).
type Direction int

const (
	ToServer Direction = iota
	ToClient
)

// Proxy forwards UDP datagrams between clients and the node behind it, on
// loopback, and drops on command. A node that advertises its proxy's
// address has every packet of connections dialled to it go through the
// proxy; dialling out, it reaches other nodes through their proxies.
//
// Each client address has a flow: a socket of the proxy's own towards the
// node, so the node sees a distinct source per flow. [Proxy.Cut] makes the
// flows that exist drop one direction; the next QUIC Initial packet from
// that client (a new connection) starts a fresh flow that forwards both
// ways. That separates an old connection, which stays one-way dead, from
// its replacement, without reading anything but the packet header.
type Proxy struct {
	t       testing.TB
	conn    *net.UDPConn
	target  atomic.Pointer[net.UDPAddr]
	blocked atomic.Bool

	mu     sync.Mutex
	flows  map[string]*flow // current flow per client address
	all    []*flow
	closed bool
	wg     sync.WaitGroup
}

type flow struct {
	client *net.UDPAddr
	up     *net.UDPConn
	drop   [2]atomic.Bool // by Direction
	cut    bool           // guarded by Proxy.mu: a new Initial starts a new flow
}

// NewProxy starts a proxy on a loopback port; it is closed when the test
// ends. Nothing is forwarded until [Proxy.SetTarget].
func NewProxy(t testing.TB) *Proxy {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{t: t, conn: c, flows: map[string]*flow{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// Addr is the address clients dial (the node's advertised address).
func (p *Proxy) Addr() string { return p.conn.LocalAddr().String() }

// SetTarget sets the node behind the proxy (host:port). Flows opened
// before keep their target: a restarted node behind the same proxy gets
// new flows, and the old ones reach the old address.
func (p *Proxy) SetTarget(addr string) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		p.t.Fatalf("proxy target %q: %v", addr, err)
	}
	p.target.Store(ua)
}

// Block drops everything, both ways, while on.
func (p *Proxy) Block(on bool) { p.blocked.Store(on) }

// Cut makes every current flow of the client at address client drop what
// goes in direction dir, for good; the client's next new connection gets a
// fresh flow.
func (p *Proxy) Cut(client string, dir Direction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.all {
		if f.client.String() == client {
			f.drop[dir].Store(true)
			f.cut = true
		}
	}
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if p.blocked.Load() {
			continue
		}
		f := p.flowFor(from, buf[:n])
		if f != nil && !f.drop[ToServer].Load() {
			_, _ = f.up.Write(buf[:n])
		}
	}
}

// flowFor returns the flow a packet from client belongs to, opening one
// for a new client, or for a new connection of a client whose flows were
// cut.
func (p *Proxy) flowFor(client *net.UDPAddr, pkt []byte) *flow {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.flows[client.String()]
	if f != nil && !(f.cut && isInitial(pkt)) {
		return f
	}
	target := p.target.Load()
	if target == nil || p.closed {
		return nil
	}
	up, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, target)
	if err != nil {
		return nil
	}
	f = &flow{client: client, up: up}
	p.flows[client.String()] = f
	p.all = append(p.all, f)
	p.wg.Add(1)
	go func() { // replies from the node back to the client
		defer p.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, err := up.Read(buf)
			if err != nil {
				return
			}
			if !p.blocked.Load() && !f.drop[ToClient].Load() {
				_, _ = p.conn.WriteToUDP(buf[:n], client)
			}
		}
	}()
	return f
}

// isInitial reports whether pkt starts with a QUIC Initial packet (long
// header; type 0 in version 1, 1 in version 2), which opens a connection.
func isInitial(pkt []byte) bool {
	if len(pkt) < 5 || pkt[0]&0xc0 != 0xc0 {
		return false
	}
	typ := pkt[0] >> 4 & 3
	switch binary.BigEndian.Uint32(pkt[1:5]) {
	case 1:
		return typ == 0
	case 0x6b3343cf:
		return typ == 1
	}
	return false
}

// Close stops the proxy and waits for its goroutines. Safe to call twice.
func (p *Proxy) Close() {
	p.conn.Close()
	p.mu.Lock()
	p.closed = true
	for _, f := range p.all {
		f.up.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
