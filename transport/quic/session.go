package quic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	qgo "github.com/quic-go/quic-go"

	"github.com/wasmactor/wasmactor/internal/wire"
	"github.com/wasmactor/wasmactor/transport"
)

// Batching limits of the lane writers: a frame holds at most this many
// envelopes and (unless one envelope is larger) this many bytes, so the
// receiver's batches stay bounded whatever the peer's cap.
const (
	maxBatchEnvs  = 4096
	maxBatchBytes = 65536
	// maxWrite is about the most a lane writer hands quic-go in one Write.
	maxWrite = 512 << 10
	// laneChunk is the read buffer a lane reader allocates at a time.
	laneChunk = 256 << 10
)

// session is one authenticated connection: to a node (lanes, control
// messages, calls, blobs) or from a client (calls and blobs only).
//
// Its goroutines: a supervisor (waits for the connection to end and for
// the others, then reports to the loop), a control reader, a control
// writer, one writer per lane, a lane acceptor with one reader per incoming
// lane, and a stream acceptor with one goroutine per call or blob stream.
type session struct {
	t        *Transport
	conn     *qgo.Conn
	ctx      context.Context // the connection's; done when it closes
	peer     transport.PeerInfo
	outbound bool
	// leader: this node's name sorts before the peer's, so this node
	// decides which connection of the pair is the active session.
	leader   bool
	peerMax  int // the peer's frame cap
	peerReq  int // the peer's call request cap
	batchMax int // bytes per batch frame we write

	ctrl  *qgo.Stream
	ctrlR *wire.Reader
	ctrlQ ctrlQueue

	lanes []*lane
	// ctr counts the messages of a node session, set by the loop when it
	// activates the session (nil for clients and tentative connections,
	// which carry no messages).
	ctr *peerCounters
	// queued is the envelopes in the lanes' queues and their bytes
	// (queuedSize), as count<<queuedShift | bytes: one CAS checks both
	// bounds.
	queued atomic.Int64

	// Activation, owned by the loop: a node connection is tentative until
	// the leader makes it the active session of generation gen; expire
	// closes it if that does not happen in time.
	active    bool
	gen       uint64
	expire    *time.Timer
	activated chan struct{} // closed by the loop on activation

	ready chan struct{} // closed once NodeUp has been delivered
	done  chan struct{} // closed once every goroutine but the supervisor ended
	wg    sync.WaitGroup

	// Clean leave. leaving is closed when this node leaves: the writers
	// drain their queues and finish their streams. peerLeft is set when
	// the peer said goodbye; laneEnds counts its lanes read to the end.
	leaving   chan struct{}
	leaveOnce sync.Once
	peerLeft  atomic.Bool
	laneEnds  chan struct{}
}

func (t *Transport) newSession(conn *qgo.Conn, ctrl *qgo.Stream, ctrlR *wire.Reader, p hello, outbound bool) *session {
	s := &session{
		t:         t,
		conn:      conn,
		ctx:       conn.Context(),
		peer:      transport.PeerInfo{NodeInfo: p.info(), Client: p.Role == roleClient},
		outbound:  outbound,
		peerMax:   int(p.MaxFrame),
		peerReq:   int(p.MaxRequest),
		ctrl:      ctrl,
		ctrlR:     ctrlR,
		leader:    t.self.Name < p.Name,
		ready:     make(chan struct{}),
		activated: make(chan struct{}),
		done:      make(chan struct{}),
		leaving:   make(chan struct{}),
		laneEnds:  make(chan struct{}, MaxLanes),
	}
	s.batchMax = min(s.peerMax, maxBatchBytes)
	s.ctrlR.SetMax(t.cfg.MaxFrame)
	s.ctrlQ.signal = make(chan struct{}, 1)
	if s.peer.Client {
		s.peer.Addr = conn.RemoteAddr().String()
		close(s.ready)
	} else {
		s.lanes = make([]*lane, t.cfg.Lanes)
		for i := range s.lanes {
			s.lanes[i] = &lane{s: s, idx: i, signal: make(chan struct{}, 1)}
		}
	}
	return s
}

// start launches the session's goroutines. It is called by a goroutine
// counted in connWG (a handshake), so connWG.Add is safe here.
func (s *session) start() {
	fs := []func(){s.acceptStreams, s.readControl}
	if !s.peer.Client {
		fs = append(fs, s.writeControl, s.acceptLanes)
		for _, l := range s.lanes {
			fs = append(fs, l.run)
		}
	}
	s.wg.Add(len(fs))
	for _, f := range fs {
		go func() {
			defer s.wg.Done()
			f()
		}()
	}
	s.t.connWG.Add(1)
	go s.supervise()
}

func (s *session) supervise() {
	defer s.t.connWG.Done()
	<-s.ctx.Done()
	s.wg.Wait()
	close(s.done)
	cause := context.Cause(s.ctx)
	s.t.exec(func() { s.t.sessionDone(s, cause) })
}

// leave starts the goodbye: a last control message, then every stream we
// send on is finished once its queue is written.
func (s *session) leave() {
	s.leaveOnce.Do(func() {
		s.queueCtrl(ctrlMsg{Type: ctrlLeaving, Lanes: len(s.lanes)}, true)
		close(s.leaving)
	})
}

// waitReady blocks handler calls until NodeUp for this peer was delivered.
func (s *session) waitReady() bool {
	select {
	case <-s.ready:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// protocolError ends the session: the peer broke the protocol. An error
// that is only the connection ending under a reader or writer (the peer
// left, a client hung up, a newer session superseded this one, the peer
// went silent) is no protocol error: the connection is closed already,
// and sessionDone reports its end.
func (s *session) protocolError(code qgo.ApplicationErrorCode, err error) {
	if s.ctx.Err() != nil || connEnded(err) {
		s.t.log.Debug("connection ended", "peer", s.peer.Name, "err", err)
		return
	}
	s.t.log.Warn("protocol error", "peer", s.peer.Name, "err", err)
	s.conn.CloseWithError(code, err.Error())
}

// queuedShift places the envelope count above the bytes in session.queued.
const queuedShift = 40

// envOverhead is what an envelope counts in the send queue's bytes besides
// its payload: its other fields, about.
const envOverhead = 64

// queuedSize is what envs count in the send queue's bytes.
func queuedSize(envs []transport.Envelope) int64 {
	size := int64(len(envs)) * envOverhead
	for i := range envs {
		size += int64(len(envs[i].Payload))
	}
	return size
}

// laneOf maps a (sender, receiver) pair to a lane: the same pair always
// takes the same lane, so its envelopes stay in order.
func laneOf(e *transport.Envelope, n int) int {
	h := e.From*0x9e3779b97f4a7c15 ^ e.To
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 29
	return int(h % uint64(n))
}

func (s *session) send(envs []transport.Envelope) error {
	if len(envs) == 0 {
		return nil
	}
	if s.ctx.Err() != nil || s.peerLeft.Load() {
		return fmt.Errorf("%w: %s", transport.ErrNodeDown, s.peer.Name)
	}
	for i := range envs {
		if len(envs[i].Payload)+len(envs[i].Trace) > s.peerMax-64 {
			if n := wire.EnvelopeSize(&envs[i]) + wire.MaxHeaderLen; n > s.peerMax {
				return &wire.FrameTooLargeError{Size: uint64(n), Max: s.peerMax}
			}
		}
	}
	nl := len(s.lanes)
	first := laneOf(&envs[0], nl)
	same := true
	for i := 1; i < len(envs) && same; i++ {
		same = laneOf(&envs[i], nl) == first
	}
	if same && s.lanes[first].tryDirect(envs) {
		s.ctr.msgsOut.Add(uint64(len(envs)))
		return nil
	}
	n, size := int64(len(envs)), queuedSize(envs)
	for {
		q := s.queued.Load()
		count, bytes := q>>queuedShift, q&(1<<queuedShift-1)
		if count+n > int64(s.t.cfg.SendQueue) || count > 0 && bytes+size > int64(s.t.cfg.SendQueueBytes) ||
			bytes+size > maxSendQueueBytes {
			// The bare sentinel: a sender meeting a full queue may retry
			// at a high rate, and formatting would cost more than the send.
			return transport.ErrQueueFull
		}
		if s.queued.CompareAndSwap(q, q+n<<queuedShift+size) {
			break
		}
	}
	s.ctr.msgsOut.Add(uint64(n))
	if same {
		s.lanes[first].push(envs)
		return nil
	}
	for i := 0; i < len(envs); {
		li := laneOf(&envs[i], nl)
		j := i + 1
		for j < len(envs) && laneOf(&envs[j], nl) == li {
			j++
		}
		s.lanes[li].push(envs[i:j])
		i = j
	}
	return nil
}

func (s *session) acceptLanes() {
	for {
		str, err := s.conn.AcceptUniStream(s.ctx)
		if err != nil {
			return
		}
		if s.peer.Client {
			str.CancelRead(StreamRefused)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.readLane(str)
		}()
	}
}

// readLane delivers a lane's batches to the handler, in order, one call at
// a time.
func (s *session) readLane(str *qgo.ReceiveStream) {
	var head [2]byte
	if _, err := io.ReadFull(str, head[:]); err != nil {
		return
	}
	if head[0] != streamLane {
		str.CancelRead(StreamProtocol)
		s.protocolError(CodeProtocol, fmt.Errorf("unidirectional stream of kind %d", head[0]))
		return
	}
	if !s.waitReady() {
		return
	}
	// Frames are read into large chunks and payloads point into them;
	// frames already buffered are decoded into the same batch, so a
	// backlog reaches the handler in few calls.
	r := wire.NewChunkReader(str, s.t.cfg.MaxFrame, laneChunk)
	h, from := s.t.h, s.peer.NodeInfo
	last := 0 // size of the previous batch: the capacity guess for the next
	for {
		body, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				// The peer finished this lane: it is leaving.
				select {
				case s.laneEnds <- struct{}{}:
				default:
				}
			}
			s.streamReadError(str, err)
			return
		}
		var envs []transport.Envelope
		if r.Buffered() {
			envs = make([]transport.Envelope, 0, min(last, maxBatchEnvs))
		}
		envs, err = wire.AppendDecodedEnvelopes(envs, body)
		for err == nil && len(envs) < maxBatchEnvs && r.Buffered() {
			body, _ = r.Next()
			envs, err = wire.AppendDecodedEnvelopes(envs, body)
		}
		if err != nil {
			str.CancelRead(StreamProtocol)
			s.protocolError(CodeProtocol, fmt.Errorf("lane %d: %w", head[1], err))
			return
		}
		last = len(envs)
		s.ctr.msgsIn.Add(uint64(len(envs)))
		h.HandleEnvelopes(from, envs)
	}
}

// streamReadError handles a failed frame read on a lane or the control
// stream, where losing the stream means losing the connection.
func (s *session) streamReadError(str interface{ CancelRead(qgo.StreamErrorCode) }, err error) {
	if s.ctx.Err() != nil {
		return
	}
	var tooLarge *wire.FrameTooLargeError
	switch {
	case errors.As(err, &tooLarge):
		str.CancelRead(StreamFrameTooLarge)
		s.protocolError(CodeFrameTooLarge, err)
	case errors.Is(err, io.EOF):
		// The peer finished the stream: only happens when it goes away.
	default:
		str.CancelRead(StreamProtocol)
		s.protocolError(CodeProtocol, err)
	}
}

// Control stream.

const (
	ctrlMembers uint8 = 1
	ctrlCast    uint8 = 2
	ctrlLeaving uint8 = 3
	// ctrlOffer is the first message of a connection the non-leader of
	// the pair dialled: Gen is the generation of the session it replaces
	// (0: none).
	ctrlOffer uint8 = 4
	// ctrlActive is the leader's first message on the connection it makes
	// the active session; Gen is the session's generation.
	ctrlActive uint8 = 5
)

// ctrlMsg is one message on the control stream after the handshake.
type ctrlMsg struct {
	Type    uint8                `cbor:"1,keyasint"`
	Members []transport.NodeInfo `cbor:"2,keyasint,omitempty"`
	Kind    uint16               `cbor:"3,keyasint,omitempty"`
	Body    []byte               `cbor:"4,keyasint,omitempty"`
	// Lanes is how many lanes the leaving node finishes (ctrlLeaving).
	Lanes int `cbor:"5,keyasint,omitempty"`
	// Gen is a session generation (ctrlOffer, ctrlActive).
	Gen uint64 `cbor:"6,keyasint,omitempty"`
}

// ctrlQueue holds encoded control frames for the control writer, bounded
// in messages (ControlQueue) and bytes (ControlQueueBytes).
type ctrlQueue struct {
	mu     sync.Mutex
	buf    []byte
	n      int
	signal chan struct{}
}

func (s *session) queueCtrl(m ctrlMsg, force bool) error {
	body, err := wire.Marshal(m)
	if err != nil {
		return err
	}
	if len(body)+wire.MaxHeaderLen > s.peerMax {
		return &wire.FrameTooLargeError{Size: uint64(len(body)), Max: s.peerMax}
	}
	q := &s.ctrlQ
	q.mu.Lock()
	// A message larger than the byte bound is taken alone in an empty queue.
	if !force && (q.n >= s.t.cfg.ControlQueue || q.n > 0 && len(q.buf)+len(body)+wire.MaxHeaderLen > s.t.cfg.ControlQueueBytes) {
		n, size := q.n, len(q.buf)
		q.mu.Unlock()
		return fmt.Errorf("%w: control queue of %s (%d messages, %d bytes)", transport.ErrQueueFull, s.peer.Name, n, size)
	}
	wasEmpty := q.n == 0
	q.n++
	q.buf = wire.AppendFrame(q.buf, body)
	q.mu.Unlock()
	if wasEmpty {
		select {
		case q.signal <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *session) cast(msg transport.Control) error {
	if s.ctx.Err() != nil || s.peerLeft.Load() {
		return fmt.Errorf("%w: %s", transport.ErrNodeDown, s.peer.Name)
	}
	err := s.queueCtrl(ctrlMsg{Type: ctrlCast, Kind: msg.Kind, Body: msg.Body}, false)
	if err == nil {
		s.ctr.msgsOut.Add(1)
	}
	return err
}

// queueMembers tells the peer who else is connected. Called on the loop.
func (s *session) queueMembers(list []transport.NodeInfo) {
	for len(list) > 0 {
		n := min(len(list), 256)
		if err := s.queueCtrl(ctrlMsg{Type: ctrlMembers, Members: list[:n]}, true); err != nil {
			s.t.log.Warn("member list not sent", "peer", s.peer.Name, "err", err)
		}
		list = list[n:]
	}
}

func (s *session) writeControl() {
	q := &s.ctrlQ
	var spare []byte
	leaving := s.leaving
	for {
		select {
		case <-q.signal:
		case <-leaving:
			leaving = nil
		case <-s.ctx.Done():
			return
		}
		for {
			q.mu.Lock()
			buf := q.buf
			q.buf, q.n = spare[:0], 0
			q.mu.Unlock()
			if len(buf) == 0 {
				spare = buf
				break
			}
			if _, err := s.ctrl.Write(buf); err != nil {
				return
			}
			spare = buf
		}
		if leaving == nil {
			s.ctrl.Close() // after the goodbye, which leave queued first
			return
		}
	}
}

func (s *session) readControl() {
	for {
		body, err := s.ctrlR.Next()
		if err != nil {
			s.streamReadError(s.ctrl, err)
			return
		}
		if s.peer.Client {
			s.protocolError(CodeProtocol, errors.New("a client sent a control message"))
			return
		}
		var m ctrlMsg
		if err := wire.Unmarshal(body, &m); err != nil {
			s.protocolError(CodeProtocol, fmt.Errorf("control message: %w", err))
			return
		}
		switch m.Type {
		case ctrlMembers:
			if len(m.Members) > 0 {
				t := s.t
				t.exec(func() { t.learn(s.peer.Name, m.Members) })
			}
		case ctrlCast:
			if !s.waitReady() {
				return
			}
			s.ctr.msgsIn.Add(1)
			s.t.h.HandleCast(s.peer.NodeInfo, transport.Control{Kind: m.Kind, Body: m.Body})
		case ctrlOffer:
			t := s.t
			t.exec(func() { t.offered(s, m.Gen) })
		case ctrlActive:
			t := s.t
			t.exec(func() { t.activated(s, m.Gen) })
		case ctrlLeaving:
			s.peerLeaving(m.Lanes)
			return
		default:
			// A later protocol version's message: ignore it.
		}
	}
}

// peerLeaving handles the peer's goodbye: read its lanes to their end
// (bounded by HandshakeTimeout), so everything it sent is delivered, then
// close the connection; the peer is reported as left, not redialled.
func (s *session) peerLeaving(lanes int) {
	s.peerLeft.Store(true)
	timeout := time.NewTimer(s.t.cfg.HandshakeTimeout)
	defer timeout.Stop()
	for i := 0; i < min(lanes, MaxLanes); i++ {
		select {
		case <-s.laneEnds:
		case <-timeout.C:
			i = lanes
		case <-s.ctx.Done():
			return
		}
	}
	s.conn.CloseWithError(CodeLeaving, "goodbye")
}
