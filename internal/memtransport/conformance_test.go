package memtransport

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/internal/transporttest"
	"github.com/wasmactor/wasmactor/transport"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T, opts transporttest.Options) transporttest.Network {
		nw := NewNetwork()
		t.Cleanup(func() { nw.Close() })
		// One limit bounds both queues here.
		if q := max(opts.SendQueue, opts.ControlQueue); q > 0 {
			nw.SetQueueLimit(q)
		}
		return &suiteNetwork{nw: nw}
	})
}

// suiteNetwork runs the conformance suite on a Network.
type suiteNetwork struct {
	nw  *Network
	inc atomic.Uint64
}

func (s *suiteNetwork) Start(t *testing.T, name string, h transport.Handler) transport.Transport {
	tr := s.nw.NewNode(name, s.inc.Add(1))
	require.NoError(t, tr.Start(context.Background(), h))
	return tr
}

func (s *suiteNetwork) Crash(t *testing.T, tr transport.Transport) { s.nw.Kill(tr.Self().Name) }

func (s *suiteNetwork) LoseOneWay(t *testing.T, a, b transport.Transport, during func()) {
	s.nw.Deafen(a.Self().Name, b.Self().Name)
	during()
	s.nw.Heal(a.Self().Name, b.Self().Name)
}
