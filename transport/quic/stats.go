package quic

import (
	"errors"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/wasmactor/wasmactor/transport"
)

// peerCounters are the counts of one peer node that the message path
// updates. They are atomics, so a Send, a Cast or a lane reader pays one
// add per call or batch and takes no lock; the member owns them (one per
// peer name) and every session with the peer adds to them.
type peerCounters struct {
	// Padded apart: msgsOut is added to by senders, msgsIn by the lane
	// reader, so that the two do not fight over one cache line.
	msgsOut atomic.Uint64
	_       [56]byte
	msgsIn  atomic.Uint64
	_       [56]byte
}

// memberStats are the counts of one peer that change only on the loop:
// sessions, failed dials, and the bytes of the sessions that ended (the
// live session's are read from quic-go when asked).
type memberStats struct {
	sessions, reconnects, handshakeFailures uint64
	bytesOut, bytesIn                       uint64
}

// sessionStarted counts a session activated with m. Called on the loop.
func (m *member) sessionStarted() {
	if m.stats.sessions > 0 {
		m.stats.reconnects++
	}
	m.stats.sessions++
}

// sessionEnded keeps the bytes of s, a session of m that is over (or
// replaced), once the member's live session no longer reports them. Called
// on the loop.
func (m *member) sessionEnded(s *session) {
	cs := s.conn.ConnectionStats()
	m.stats.bytesOut += cs.BytesSent
	m.stats.bytesIn += cs.BytesReceived
}

// handshakeFailed reports whether err, the outcome of a dial, is a failed
// handshake: a proof refused either way, a name clash, or the peer
// refusing the attempt. A peer that is unreachable or busy leading the
// pair is not.
func handshakeFailed(err error) bool { return errors.Is(err, transport.ErrHandshake) }

// PeerStats implements [transport.Transport]: one entry per member this
// node has had a verified session with, by name; the members it only
// heard of (named by a peer, or dialled as such and never verified) and
// the handshakes that failed with a peer of unverified name count together
// under [transport.UnknownPeer], so that a member announcing made-up names
// cannot make a label value of each. It asks the loop, which owns the members, so
// it costs a scrape one round trip and the message path nothing.
func (t *Transport) PeerStats() []transport.PeerStats {
	res := make(chan []transport.PeerStats, 1)
	if !t.exec(func() { res <- t.peerStatsOnLoop() }) {
		return nil
	}
	out := <-res
	if n := t.unknownFailures.Load(); n > 0 {
		out = addUnknown(out, transport.PeerStats{Peer: transport.UnknownPeer, HandshakeFailures: n})
	}
	slices.SortFunc(out, func(a, b transport.PeerStats) int { return strings.Compare(a.Peer, b.Peer) })
	return out
}

func (t *Transport) peerStatsOnLoop() []transport.PeerStats {
	out := make([]transport.PeerStats, 0, len(t.members)+1)
	for name, m := range t.members {
		if m.stats.sessions == 0 {
			name = transport.UnknownPeer // its name was never verified
		}
		ps := transport.PeerStats{
			Peer:              name,
			MessagesOut:       m.ctr.msgsOut.Load(),
			MessagesIn:        m.ctr.msgsIn.Load(),
			BytesOut:          m.stats.bytesOut,
			BytesIn:           m.stats.bytesIn,
			Reconnects:        m.stats.reconnects,
			HandshakeFailures: m.stats.handshakeFailures,
		}
		if s := m.sess; s != nil {
			cs := s.conn.ConnectionStats()
			ps.BytesOut += cs.BytesSent
			ps.BytesIn += cs.BytesReceived
			if live(s) {
				ps.Up, ps.RTT = true, cs.SmoothedRTT
			}
		}
		if ps.Peer == transport.UnknownPeer {
			out = addUnknown(out, ps)
			continue
		}
		out = append(out, ps)
	}
	return out
}

// addUnknown adds the counts of ps to the UnknownPeer entry of out (made
// if there is none).
func addUnknown(out []transport.PeerStats, ps transport.PeerStats) []transport.PeerStats {
	for i := range out {
		if u := &out[i]; u.Peer == transport.UnknownPeer {
			u.MessagesOut += ps.MessagesOut
			u.MessagesIn += ps.MessagesIn
			u.BytesOut += ps.BytesOut
			u.BytesIn += ps.BytesIn
			u.Reconnects += ps.Reconnects
			u.HandshakeFailures += ps.HandshakeFailures
			return out
		}
	}
	ps.Peer, ps.Up, ps.RTT = transport.UnknownPeer, false, 0
	return append(out, ps)
}
