package quic

import (
	"fmt"

	"github.com/wasmactor/wasmactor/transport"
)

var _ transport.Fencer = (*Transport)(nil)

// Fence implements [transport.Fencer]: a copy of env on every lane to node.
func (t *Transport) Fence(node string, env transport.Envelope) error {
	if t.closed.Load() {
		return closedError{}
	}
	s, err := t.session(node)
	if err != nil {
		return err
	}
	if s.ctx.Err() != nil || s.peerLeft.Load() {
		return fmt.Errorf("%w: %s", transport.ErrNodeDown, s.peer.Name)
	}
	env.Status = uint16(len(s.lanes))
	s.queued.Add(int64(len(s.lanes)))
	s.ctr.msgsOut.Add(uint64(len(s.lanes)))
	for _, l := range s.lanes {
		l.push([]transport.Envelope{env})
	}
	return nil
}
