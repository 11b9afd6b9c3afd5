package quic

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/transporttest"
	"github.com/wasmactor/wasmactor/transport"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T, opts transporttest.Options) transporttest.Network {
		return &suiteNetwork{opts: opts, proxies: map[string]*transporttest.Proxy{}}
	})
}

// suiteNetwork runs the conformance suite over loopback QUIC. Every node
// advertises a proxy of its own, so every connection dialled to it goes
// through that proxy, which can cut its flows one way.
type suiteNetwork struct {
	opts    transporttest.Options
	mu      sync.Mutex
	proxies map[string]*transporttest.Proxy // by node name; a restarted node keeps its proxy
}

func (n *suiteNetwork) Start(t *testing.T, name string, h transport.Handler) transport.Transport {
	return n.start(t, name, h, func(c *Config) {
		c.SendQueue, c.ControlQueue = n.opts.SendQueue, n.opts.ControlQueue
	})
}

// start starts a node behind its proxy, with the test config as edit
// leaves it.
func (n *suiteNetwork) start(t *testing.T, name string, h transport.Handler, edit func(*Config)) *Transport {
	n.mu.Lock()
	p := n.proxies[name]
	if p == nil {
		p = transporttest.NewProxy(t)
		n.proxies[name] = p
	}
	n.mu.Unlock()
	cfg := testConfig(name)
	cfg.Advertise = p.Addr()
	edit(&cfg)
	tr, err := New(cfg)
	require.NoError(t, err)
	p.SetTarget(tr.Addr().String())
	t.Cleanup(func() { tr.Close() })
	require.NoError(t, tr.Start(context.Background(), h))
	return tr
}

// Crash closes the node's socket under it: its connections end without a
// word to the peers, as when the process is killed.
func (n *suiteNetwork) Crash(t *testing.T, tr transport.Transport) {
	tr.(*Transport).udp.Close()
}

// LoseOneWay drops every packet from b to a on the flows that exist:
// those a dialled (through b's proxy, towards the client) and those b
// dialled (through a's proxy, towards the server). a notices at its idle
// timeout, well after during returns.
func (n *suiteNetwork) LoseOneWay(t *testing.T, a, b transport.Transport, during func()) {
	n.mu.Lock()
	n.proxies[b.Self().Name].Cut(a.(*Transport).Addr().String(), transporttest.ToClient)
	n.proxies[a.Self().Name].Cut(b.(*Transport).Addr().String(), transporttest.ToServer)
	n.mu.Unlock()
	during()
}
