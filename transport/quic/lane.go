package quic

import (
	"fmt"
	"sync"

	qgo "github.com/quic-go/quic-go"

	"github.com/wasmactor/wasmactor/internal/wire"
	"github.com/wasmactor/wasmactor/transport"
)

// maxSpare bounds the queue slice a lane keeps for reuse (in envelopes):
// under load two such slices ping-pong between senders and the writer.
const maxSpare = 1 << 17

// lane is one long-lived unidirectional stream to the peer with its send
// queue, drained by one writer goroutine.
//
// A Send that finds its lane idle (nothing queued, the writer not
// writing) hands its envelopes to quic-go itself with a non-blocking
// TryWriteAll, saving the hand-off to the writer goroutine on each hop of
// a request/response. Both paths write under the ordering the lane's
// mutex and busy flag give, so per-pair order holds.
type lane struct {
	s      *session
	idx    int
	signal chan struct{}

	mu    sync.Mutex
	str   *qgo.SendStream // set once the writer has opened it
	busy  bool            // the writer holds a drained batch
	q     []transport.Envelope
	spare []transport.Envelope
	buf   []byte // encoding buffer of the direct path
}

// tryDirect writes envs at once if the lane is idle and quic-go can take
// them without blocking.
func (l *lane) tryDirect(envs []transport.Envelope) bool {
	if len(envs) > 64 {
		return false // a large batch is the writer's job
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.str == nil || l.busy || len(l.q) != 0 {
		return false
	}
	var n int
	l.buf, n = appendBatches(l.buf[:0], envs, l.s.batchMax, maxWrite)
	if n != len(envs) {
		return false
	}
	err := l.str.TryWriteAll(l.buf)
	if cap(l.buf) > 64<<10 {
		l.buf = nil
	}
	return err == nil
}

func (l *lane) push(envs []transport.Envelope) {
	l.mu.Lock()
	wasEmpty := len(l.q) == 0
	l.q = append(l.q, envs...)
	l.mu.Unlock()
	if wasEmpty {
		select {
		case l.signal <- struct{}{}:
		default:
		}
	}
}

// run writes everything queued, in as few frames and writes as the caps
// allow, and goes back to sleep when the queue is empty: batching comes
// from the time a write takes, never from a timer.
func (l *lane) run() {
	s := l.s
	str, err := s.conn.OpenUniStream()
	if err == nil {
		// The stream header goes out at once, so the direct path can
		// write frames from the start.
		_, err = str.Write([]byte{streamLane, byte(l.idx)})
	}
	if err != nil {
		if s.ctx.Err() == nil {
			s.protocolError(CodeInternal, fmt.Errorf("open lane: %w", err))
		}
		return
	}
	l.mu.Lock()
	l.str = str
	l.mu.Unlock()
	var buf []byte
	leaving := s.leaving
	for {
		select {
		case <-l.signal:
		case <-leaving:
			leaving = nil
		case <-s.ctx.Done():
			return
		}
		for {
			l.mu.Lock()
			batch := l.q
			l.q, l.spare = l.spare, nil
			l.busy = len(batch) > 0
			if !l.busy {
				l.spare = batch
			}
			l.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			s.queued.Add(-(int64(len(batch))<<queuedShift + queuedSize(batch)))
			// Write in chunks of about maxWrite bytes so the buffer stays
			// small and reused however much was queued.
			for rest := batch; len(rest) > 0; {
				var n int
				buf, n = appendBatches(buf[:0], rest, s.batchMax, maxWrite)
				rest = rest[n:]
				if _, err := str.Write(buf); err != nil {
					if code, ok := streamCode(err); ok && s.ctx.Err() == nil {
						s.protocolError(CodeProtocol, fmt.Errorf("lane %d reset by peer (code %#x)", l.idx, code))
					}
					return
				}
			}
			clear(batch) // drop payload references
			if cap(batch) <= maxSpare {
				l.mu.Lock()
				l.spare = batch[:0]
				l.mu.Unlock()
			}
		}
		if leaving == nil {
			// Leaving and drained: finish the stream so the peer can
			// tell it has read everything.
			l.mu.Lock()
			l.str = nil // no more direct writes
			l.mu.Unlock()
			str.Close()
			return
		}
	}
}

// appendBatches appends envs as batch frames of at most maxBatchEnvs
// envelopes and about limit bytes each, stopping once buf holds more than
// upTo bytes. It returns how many envelopes it took.
func appendBatches(buf []byte, envs []transport.Envelope, limit, upTo int) ([]byte, int) {
	i := 0
	for i < len(envs) && len(buf) < upTo {
		size, j := 0, i
		for j < len(envs) && j-i < maxBatchEnvs {
			es := wire.EnvelopeSize(&envs[j])
			if j > i && size+es+wire.ArrayHeadLen(j-i+1)+wire.MaxHeaderLen > limit {
				break
			}
			size += es
			j++
		}
		buf = wire.AppendHeader(buf, wire.ArrayHeadLen(j-i)+size)
		buf = wire.AppendEnvelopes(buf, envs[i:j])
		i = j
	}
	return buf, i
}
