package quic

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	qgo "github.com/quic-go/quic-go"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/transport"
)

var netErrClosed = net.ErrClosed

// Transport is a node's [transport.Transport] over QUIC. Create it with
// [New], then call Start once.
type Transport struct {
	cfg  config
	self transport.NodeInfo
	log  *slog.Logger

	udp        *net.UDPConn
	qt         *qgo.Transport
	ln         *qgo.Listener
	tlsServer  *tls.Config
	tlsClient  *tls.Config
	quicConfig *qgo.Config
	limiter    *limiter
	unauth     *unauthenticated

	h       transport.Handler
	started atomic.Bool
	closed  atomic.Bool

	ctx    context.Context // cancelled when Close begins
	cancel context.CancelFunc

	// connWG counts the goroutines that touch connections: the accept
	// loop, handshakes, dials and session supervisors (each of which waits
	// for its session's goroutines). See spawn for the rule on Add.
	connWG   sync.WaitGroup
	spawnMu  sync.Mutex
	stopping bool

	// The loop goroutine owns membership (members, sessions, shuttingDown);
	// other goroutines hand it closures through loopCh.
	loopCh   chan func()
	stopLoop chan struct{}
	loopDone chan struct{}
	notify   *notifier

	// unknownFailures counts failed handshakes that no verified peer name
	// can be given to (transport.UnknownPeer): accepted connections whose
	// proof failed, and dials of seeds.
	unknownFailures atomic.Uint64

	// peers is the published copy of the current node sessions, read
	// without locks on the Send path and replaced by the loop.
	peers atomic.Pointer[map[string]*session]

	closeOnce sync.Once

	// Owned by the loop goroutine.
	members      map[string]*member
	sessions     map[*session]struct{}
	shuttingDown bool
	lastGen      uint64 // the last session generation this node assigned as leader
	// Dials of learned members (see member.learned): how many are in
	// flight, and those waiting for one of the maxLearnDials slots.
	learnDials int
	learnQ     []*member
}

// member is what the loop knows of another node.
type member struct {
	info      transport.NodeInfo
	sess      *session // the active session, nil while down
	dialing   bool
	attempts  int
	downSince time.Time
	retry     *time.Timer
	// lastGen is the generation of the last session activated with
	// incarnation lastInc of the peer; a non-leader offers a new
	// connection as the replacement of that one.
	lastGen, lastInc uint64
	// learned: named by a peer's member list and not yet verified by a
	// handshake of its own. Such a member is dialled through a bounded
	// number of slots (queued while it waits for one, slot while it holds
	// one) and forgotten after learnRetries failed redials.
	learned, queued, slot bool

	// ctr is shared with the member's sessions, which count messages in
	// it; stats is the loop's (see PeerStats).
	ctr   *peerCounters
	stats memberStats
}

func newMember(info transport.NodeInfo, learned bool) *member {
	return &member{info: info, learned: learned, ctr: new(peerCounters)}
}

// Bounds on what a peer's member list can make this node do: at most
// maxLearnDials dials to learned, unverified addresses at once, and each
// such address is dialled at most 1+learnRetries times (with the usual
// backoff) before it is forgotten.
const (
	maxLearnDials = 8
	learnRetries  = 3
)

var _ transport.Transport = (*Transport)(nil)

// New validates cfg, binds the UDP socket and prepares TLS. Nothing is
// accepted until Start.
func New(cfg Config) (*Transport, error) {
	c, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	srv, cli, err := tlsConfigs(c.TLS, c.CertFile, c.KeyFile, c.CAFile)
	if err != nil {
		return nil, err
	}
	la, err := net.ResolveUDPAddr("udp", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w: listen address %q: %v", wasmactor.ErrBadArgument, c.Listen, err)
	}
	udp, err := net.ListenUDP("udp", la)
	if err != nil {
		return nil, fmt.Errorf("transport/quic: listen: %w", err)
	}
	advertise := c.Advertise
	if advertise == "" {
		bound := udp.LocalAddr().(*net.UDPAddr)
		if bound.IP.IsUnspecified() {
			udp.Close()
			return nil, fmt.Errorf("%w: listening on %s: set Advertise to an address peers can dial", wasmactor.ErrBadArgument, bound)
		}
		advertise = bound.String()
	}
	t := &Transport{
		cfg:       c,
		self:      transport.NodeInfo{Name: c.Name, Incarnation: c.Incarnation, Addr: advertise},
		log:       c.Logger.With("node", c.Name),
		udp:       udp,
		tlsServer: srv,
		tlsClient: cli,
		limiter:   newLimiter(c.FailedHandshakeBurst, c.FailedHandshakeRefill),
		unauth:    newUnauthenticated(c.MaxUnauthenticated, c.MaxUnauthenticatedPerIP),
		loopCh:    make(chan func()),
		stopLoop:  make(chan struct{}),
		loopDone:  make(chan struct{}),
		notify:    newNotifier(),
		members:   make(map[string]*member),
		sessions:  make(map[*session]struct{}),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.quicConfig = quicConfig(c.HandshakeTimeout, c.IdleTimeout, c.KeepAlive, c.MaxStreams)
	reset := qgo.StatelessResetKey(*c.StatelessResetKey)
	t.qt = &qgo.Transport{
		Conn:              udp,
		StatelessResetKey: &reset,
		ConnContext: func(ctx context.Context, ci *qgo.ClientInfo) (context.Context, error) {
			ip := ipOf(ci.RemoteAddr)
			if !t.limiter.allow(ip) {
				return nil, errors.New("too many failed handshakes")
			}
			if t.unauth.full(ip) {
				return nil, errors.New("too many unauthenticated connections")
			}
			return ctx, nil
		},
	}
	empty := map[string]*session{}
	t.peers.Store(&empty)
	go t.loop()
	go t.notify.run()
	return t, nil
}

// initialWindow is every connection's and stream's receive window before
// flow-control auto-tuning grows it, which happens only as the application
// reads. Before the cookie proof the node reads nothing but a few handshake
// frames, so this is all an unauthenticated peer can make it buffer.
const initialWindow = 64 << 10

func quicConfig(handshake, idle, keepAlive time.Duration, maxStreams int) *qgo.Config {
	return &qgo.Config{
		HandshakeIdleTimeout: handshake,
		MaxIdleTimeout:       idle,
		KeepAlivePeriod:      keepAlive,
		// +1 for the control stream. quic-go fixes these limits when the
		// connection is set up, so they cannot be one stream before the
		// proof and more after; serveConn closes a connection that opens a
		// second stream before its proof instead.
		MaxIncomingStreams:    int64(maxStreams) + 1,
		MaxIncomingUniStreams: MaxLanes,
		// Small until the application reads; lanes are long-lived and busy,
		// so let them grow a large window.
		InitialStreamReceiveWindow:     initialWindow,
		InitialConnectionReceiveWindow: initialWindow,
		MaxStreamReceiveWindow:         8 << 20,
		MaxConnectionReceiveWindow:     24 << 20,
	}
}

// Self is this node's identity; Addr is the advertised address.
func (t *Transport) Self() transport.NodeInfo { return t.self }

// Addr is the address the UDP socket is bound to (useful with port 0).
func (t *Transport) Addr() net.Addr { return t.udp.LocalAddr() }

// Start begins accepting connections and delivering to h. ctx bounds Start
// only; the transport runs until Close.
func (t *Transport) Start(ctx context.Context, h transport.Handler) error {
	if h == nil {
		return fmt.Errorf("%w: nil handler", wasmactor.ErrBadArgument)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.closed.Load() {
		return closedError{}
	}
	if !t.started.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: Start called twice", wasmactor.ErrBadArgument)
	}
	t.h = h
	ln, err := t.qt.Listen(t.tlsServer, t.quicConfig)
	if err != nil {
		return fmt.Errorf("transport/quic: listen: %w", err)
	}
	t.ln = ln
	if !t.spawn(t.acceptLoop) {
		ln.Close()
		return closedError{}
	}
	t.log.Info("transport started", "addr", t.self.Addr, "incarnation", wasmactor.FormatIncarnation(t.self.Incarnation))
	return nil
}

// spawn runs f on a goroutine counted in connWG, unless Close has begun.
// Goroutines already counted in connWG may call connWG.Add directly (the
// counter is then above zero, so it cannot race with Wait).
func (t *Transport) spawn(f func()) bool {
	t.spawnMu.Lock()
	defer t.spawnMu.Unlock()
	if t.stopping {
		return false
	}
	t.connWG.Add(1)
	go func() {
		defer t.connWG.Done()
		f()
	}()
	return true
}

func (t *Transport) acceptLoop() {
	for {
		conn, err := t.ln.Accept(t.ctx)
		if err != nil {
			return
		}
		t.connWG.Add(1)
		go func() {
			defer t.connWG.Done()
			t.serveConn(conn)
		}()
	}
}

// loop runs the closures other goroutines hand it; it alone touches the
// membership state.
func (t *Transport) loop() {
	defer close(t.loopDone)
	for {
		select {
		case f := <-t.loopCh:
			f()
		case <-t.stopLoop:
			return
		}
	}
}

// exec runs f on the loop goroutine; false if the loop has stopped.
func (t *Transport) exec(f func()) bool {
	select {
	case t.loopCh <- f:
		return true
	case <-t.loopDone:
		return false
	}
}

// Join dials the seeds concurrently and returns once one of them completed
// the handshake (a seed that is this node itself, or a peer already
// connected, counts as answered), or with the last error when none did.
// The other dials continue in the background.
func (t *Transport) Join(ctx context.Context, seeds []string) error {
	if !t.started.Load() {
		return fmt.Errorf("%w: Join before Start", wasmactor.ErrBadArgument)
	}
	if t.closed.Load() {
		return closedError{}
	}
	if len(seeds) == 0 {
		return nil
	}
	results := make(chan error, len(seeds))
	for _, seed := range seeds {
		if !t.spawn(func() {
			err := t.dialNode(ctx, seed, "")
			if handshakeFailed(err) && t.ctx.Err() == nil {
				t.unknownFailures.Add(1) // a seed is an address; its name is not verified
			}
			results <- err
		}) {
			return closedError{}
		}
	}
	var last error
	for range seeds {
		select {
		case err := <-results:
			if err == nil || errors.Is(err, errDuplicate) || errors.Is(err, errSelf) {
				return nil
			}
			last = err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return last
}

// Members lists the connected nodes, sorted by name.
func (t *Transport) Members() []transport.NodeInfo {
	peers := *t.peers.Load()
	out := make([]transport.NodeInfo, 0, len(peers))
	for _, s := range peers {
		out = append(out, s.peer.NodeInfo)
	}
	slices.SortFunc(out, func(a, b transport.NodeInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (t *Transport) session(node string) (*session, error) {
	if s := (*t.peers.Load())[node]; s != nil {
		return s, nil
	}
	if t.closed.Load() {
		return nil, closedError{}
	}
	return nil, fmt.Errorf("%w: %s", transport.ErrNodeDown, node)
}

// Send queues envelopes for node without blocking on the network. The
// transport keeps envs[i].Payload and Trace until they are written: do not
// modify them.
//
// # Errors
//
// ErrNodeDown if node is not connected; ErrQueueFull if its queue cannot
// take all of envs; an error matching ErrFrameTooLarge if one envelope alone
// exceeds the peer's frame cap. In each case nothing was queued.
func (t *Transport) Send(node string, envs ...transport.Envelope) error {
	if t.closed.Load() {
		return closedError{}
	}
	s, err := t.session(node)
	if err != nil {
		return err
	}
	return s.send(envs)
}

// Cast queues a control message for node, ordered with its other casts.
func (t *Transport) Cast(node string, msg transport.Control) error {
	if t.closed.Load() {
		return closedError{}
	}
	s, err := t.session(node)
	if err != nil {
		return err
	}
	return s.cast(msg)
}

// Call sends req to node on a stream of its own and waits for the answer.
// A Handler error on the peer comes back as a *transport.RemoteError; a
// context deadline as an error matching wasmactor.ErrTimeout.
func (t *Transport) Call(ctx context.Context, node string, req transport.Control) ([]byte, error) {
	s, err := t.session(node)
	if err != nil {
		return nil, err
	}
	return doCall(ctx, s.conn, node, s.peerReq, t.cfg.MaxFrame, req)
}

// FetchBlob reads the blob named key from node on a stream of its own,
// refusing more than max bytes (an error matching wasmactor.ErrTooLarge).
func (t *Transport) FetchBlob(ctx context.Context, node string, key string, max int64) ([]byte, error) {
	s, err := t.session(node)
	if err != nil {
		return nil, err
	}
	return fetchBlob(ctx, s.conn, node, s.peerMax, key, max)
}

// Close leaves the cluster cleanly and waits for every goroutine: what was
// queued for each peer is written, then a goodbye; the peer reads its lanes
// to their end, reports ErrPeerLeft (and does not redial) and closes the
// connection. Peers that do not answer within HandshakeTimeout are cut off.
// NodeDown is reported for each connected peer. Send and Cast fail once
// Close has begun. Close is safe to call more than once and concurrently;
// later calls return once the first has finished.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		done := make(chan []*session, 1)
		if t.exec(func() { done <- t.shutdownOnLoop() }) {
			// Let peers read what was queued for them, bounded in time.
			leaving := <-done
			timeout := time.NewTimer(t.cfg.HandshakeTimeout)
			for _, s := range leaving {
				select {
				case <-s.ctx.Done():
				case <-timeout.C:
				}
			}
			timeout.Stop()
			for _, s := range leaving {
				s.conn.CloseWithError(CodeLeaving, "leaving")
			}
		}
		t.cancel()
		if t.ln != nil {
			t.ln.Close()
		}
		t.spawnMu.Lock()
		t.stopping = true
		t.spawnMu.Unlock()
		t.connWG.Wait()
		close(t.stopLoop)
		<-t.loopDone
		t.notify.close()
		t.qt.Close()
		t.udp.Close()
		t.log.Info("transport closed")
	})
	return nil
}

// shutdownOnLoop runs on the loop: no more admissions or redials; active
// node sessions start their goodbye (returned, for Close to wait on),
// sessions not yet active and client connections are closed.
func (t *Transport) shutdownOnLoop() []*session {
	t.shuttingDown = true
	for name, m := range t.members {
		stopTimer(m.retry)
		if m.sess == nil {
			delete(t.members, name)
		}
	}
	var leaving []*session
	for s := range t.sessions {
		if s.peer.Client || !s.active {
			s.conn.CloseWithError(CodeLeaving, "leaving")
			continue
		}
		s.leave()
		leaving = append(leaving, s)
	}
	return leaving
}

func stopTimer(tm *time.Timer) {
	if tm != nil {
		tm.Stop()
	}
}

// publish replaces the lock-free copy of the current node sessions.
func (t *Transport) publish() {
	m := make(map[string]*session, len(t.members))
	for name, mb := range t.members {
		if mb.sess != nil {
			m[name] = mb.sess
		}
	}
	t.peers.Store(&m)
}

// memberList is what a new peer is told: every connected node but itself.
func (t *Transport) memberList(except string) []transport.NodeInfo {
	var out []transport.NodeInfo
	for name, m := range t.members {
		if m.sess != nil && name != except {
			out = append(out, m.sess.peer.NodeInfo)
		}
	}
	return out
}

// admit decides, on the loop, whether an authenticated connection may
// become a session. A node connection starts tentative: it carries
// nothing until the pair's leader (the node whose name sorts first)
// activates it, so two nodes dialling each other at once never put
// traffic on a connection that is then dropped (see "Sessions" in doc.go).
func (t *Transport) admit(s *session) error {
	res := make(chan error, 1)
	if !t.exec(func() { res <- t.admitOnLoop(s) }) {
		return errClosing
	}
	return <-res
}

func (t *Transport) admitOnLoop(s *session) error {
	if t.shuttingDown {
		return errClosing
	}
	p := s.peer
	if p.Client {
		t.sessions[s] = struct{}{}
		return nil
	}
	if p.Name == t.self.Name {
		if p.Incarnation == t.self.Incarnation {
			return errSelf
		}
		return errNameClash
	}
	m := t.members[p.Name]
	if s.outbound && m != nil && live(m.sess) && m.sess.peer.Incarnation == p.Incarnation {
		// A dial of ours (a redundant Join, or one that raced the
		// activation of another connection) to a run we are connected to.
		return errDuplicate
	}
	t.sessions[s] = struct{}{}
	switch {
	case s.leader && s.outbound:
		t.activate(s, t.nextGen())
	case s.outbound:
		var replaces uint64
		if m != nil && m.lastInc == p.Incarnation {
			replaces = m.lastGen
		}
		s.queueCtrl(ctrlMsg{Type: ctrlOffer, Gen: replaces}, true)
		fallthrough
	default:
		// Wait for the leader's word: its activation, or the offer it
		// decides on. A connection left tentative is closed.
		s.expire = time.AfterFunc(t.cfg.HandshakeTimeout, func() {
			t.exec(func() {
				if !s.active {
					s.conn.CloseWithError(CodeHandshakeFailed, "not activated in time")
				}
			})
		})
	}
	t.log.Debug("peer admitted", "peer", p.Name, "incarnation", wasmactor.FormatIncarnation(p.Incarnation), "outbound", s.outbound, "active", s.active)
	return nil
}

// live reports whether s is a session whose connection has not ended.
func live(s *session) bool { return s != nil && s.ctx.Err() == nil }

func (t *Transport) nextGen() uint64 {
	t.lastGen++
	return t.lastGen
}

// tentative reports whether s is a node connection waiting to be
// activated. Called on the loop.
func (t *Transport) tentative(s *session) bool {
	_, ok := t.sessions[s]
	return ok && !s.active && !s.peer.Client && !t.shuttingDown
}

// offered runs on the loop when the non-leader offers connection s, as
// the replacement of the session of generation replaces (0: none). This
// node leads the pair and decides.
func (t *Transport) offered(s *session, replaces uint64) {
	if !t.tentative(s) {
		return
	}
	if !s.leader || s.outbound {
		s.protocolError(CodeProtocol, errors.New("offer from the leader of the pair"))
		return
	}
	if m := t.members[s.peer.Name]; m != nil && live(m.sess) && m.sess.peer.Incarnation == s.peer.Incarnation && m.sess.gen != replaces {
		// The peer dialled before it learned of the active session, or
		// to replace an older one: the active session stays.
		s.conn.CloseWithError(CodeDuplicate, "another session is active")
		return
	}
	t.activate(s, t.nextGen())
}

// activated runs on the loop when the leader activates connection s.
func (t *Transport) activated(s *session, gen uint64) {
	if !t.tentative(s) {
		return
	}
	if s.leader || gen == 0 {
		s.protocolError(CodeProtocol, errors.New("activation from the non-leader of the pair"))
		return
	}
	t.activate(s, gen)
}

// activate makes s the session of its peer, on the loop. A session it
// replaces is reported down first: the peer restarted, or one side found
// it lost (if this side did not, it learns it here).
func (t *Transport) activate(s *session, gen uint64) {
	p := s.peer
	m := t.members[p.Name]
	if m == nil {
		m = newMember(p.NodeInfo, false)
		t.members[p.Name] = m
	}
	if old := m.sess; old != nil {
		m.sessionEnded(old)
		var reason error
		switch {
		case old.peer.Incarnation != p.Incarnation:
			reason = transport.ErrPeerRestarted
			old.conn.CloseWithError(CodeReplaced, "peer restarted")
		case !live(old):
			reason = t.downReason(old, context.Cause(old.ctx))
		default:
			reason = transport.ErrPeerReconnected
			old.conn.CloseWithError(CodeSuperseded, "superseded by a new session")
		}
		t.log.Info("session replaced", "peer", p.Name, "incarnation", wasmactor.FormatIncarnation(old.peer.Incarnation), "reason", reason)
		t.notifyDown(old, reason) // sessionDone(old) will find it replaced
	}
	stopTimer(m.retry)
	stopTimer(s.expire)
	m.retry, s.expire = nil, nil
	s.active, s.gen = true, gen
	// Before NodeUp and publish: nothing reaches the session's counters
	// until then (Send finds it through peers, readers wait for ready).
	s.ctr = m.ctr
	m.sessionStarted()
	close(s.activated)
	m.sess, m.info, m.attempts, m.downSince = s, p.NodeInfo, 0, time.Time{}
	m.lastGen, m.lastInc = gen, p.Incarnation
	if s.leader {
		s.queueCtrl(ctrlMsg{Type: ctrlActive, Gen: gen}, true) // before anything else on the stream
	}
	m.learned = false // verified by this handshake
	// Published before NodeUp is told: a handler may call or send to the
	// peer from NodeUp itself, on the notifier's goroutine, and must find
	// the session (it found "node down" when NodeUp ran first). Nothing
	// comes in before NodeUp: readers wait for s.ready.
	t.publish()
	t.notifyUp(s)
	s.queueMembers(t.memberList(p.Name))
	t.log.Debug("session active", "peer", p.Name, "incarnation", wasmactor.FormatIncarnation(p.Incarnation), "gen", gen, "outbound", s.outbound)
}

// sessionDone runs on the loop once every goroutine of s has finished.
func (t *Transport) sessionDone(s *session, cause error) {
	delete(t.sessions, s)
	stopTimer(s.expire)
	if s.peer.Client {
		if cc, ok := t.h.(transport.ClientCloser); ok {
			peer := s.peer
			t.notify.push(nil, func() { cc.ClientClosed(peer) })
		}
		return
	}
	name := s.peer.Name
	m := t.members[name]
	if m == nil || m.sess != s {
		return // never active, or replaced (its NodeDown is already queued)
	}
	m.sess = nil
	m.sessionEnded(s)
	t.publish()
	reason := t.downReason(s, cause)
	if t.shuttingDown {
		t.notifyDown(s, closedError{})
		delete(t.members, name)
		return
	}
	t.log.Info("peer down", "peer", name, "incarnation", wasmactor.FormatIncarnation(s.peer.Incarnation), "reason", reason)
	t.notifyDown(s, reason)
	if errors.Is(reason, transport.ErrPeerLeft) {
		delete(t.members, name)
		return
	}
	m.attempts = 0
	m.downSince = time.Now()
	t.scheduleRetry(m)
}

// downReason is what NodeDown reports for session s, lost with cause.
func (t *Transport) downReason(s *session, cause error) error {
	if s.peerLeft.Load() {
		return transport.ErrPeerLeft
	}
	return downReason(cause)
}

// scheduleRetry redials m after an exponential backoff with jitter, until
// ReconnectFor has passed since it went down.
func (t *Transport) scheduleRetry(m *member) {
	name := m.info.Name
	if t.shuttingDown || m.sess != nil || m.dialing || m.retry != nil {
		return
	}
	if m.downSince.IsZero() {
		m.downSince = time.Now()
	}
	if m.learned && m.attempts >= learnRetries {
		t.log.Info("forgetting unverified member", "peer", name, "addr", m.info.Addr)
		delete(t.members, name)
		return
	}
	if time.Since(m.downSince) > t.cfg.ReconnectFor {
		t.log.Info("forgetting unreachable member", "peer", name, "addr", m.info.Addr)
		delete(t.members, name)
		return
	}
	d := t.cfg.ReconnectMax
	if m.attempts < 30 {
		if b := t.cfg.ReconnectMin << m.attempts; b > 0 && b < d {
			d = b
		}
	}
	d = d/2 + rand.N(d/2+1) // jitter: two nodes that lost each other do not redial in step
	m.attempts++
	m.retry = time.AfterFunc(d, func() {
		t.exec(func() {
			if t.members[name] == m {
				m.retry = nil
				t.startDial(m)
			}
		})
	})
}

// startDial dials m unless it is connected or being dialled. A learned
// member waits in learnQ while maxLearnDials of them are being dialled.
func (t *Transport) startDial(m *member) {
	if t.shuttingDown || m.sess != nil || m.dialing || m.info.Addr == "" {
		return
	}
	if m.learned {
		if t.learnDials >= maxLearnDials {
			if !m.queued {
				m.queued = true
				t.learnQ = append(t.learnQ, m)
			}
			return
		}
		t.learnDials++
		m.slot = true
	}
	m.dialing = true
	addr, name := m.info.Addr, m.info.Name
	ok := t.spawn(func() {
		err := t.dialNode(t.ctx, addr, name)
		t.exec(func() { t.dialDone(m, err) })
	})
	if !ok {
		m.dialing = false
		t.freeLearnSlot(m)
	}
}

// freeLearnSlot returns m's dial slot, if it holds one, to the next learned
// member waiting for it.
func (t *Transport) freeLearnSlot(m *member) {
	if !m.slot {
		return
	}
	m.slot = false
	t.learnDials--
	for t.learnDials < maxLearnDials && len(t.learnQ) > 0 {
		next := t.learnQ[0]
		t.learnQ[0] = nil
		t.learnQ = t.learnQ[1:]
		next.queued = false
		if t.members[next.info.Name] == next {
			t.startDial(next)
		}
	}
}

func (t *Transport) dialDone(m *member, err error) {
	m.dialing = false
	if handshakeFailed(err) && !t.shuttingDown {
		m.stats.handshakeFailures++
	}
	t.freeLearnSlot(m)
	if t.shuttingDown || t.members[m.info.Name] != m || m.sess != nil {
		return
	}
	if errors.Is(err, errWrongNode) || errors.Is(err, errSelf) {
		delete(t.members, m.info.Name)
		return
	}
	if err != nil {
		t.log.Debug("dial failed", "peer", m.info.Name, "addr", m.info.Addr, "err", err)
	}
	t.scheduleRetry(m)
}

// learn dials the members a peer told us about that we do not know yet.
// They are only names and addresses from a peer: each becomes a learned
// member, counted as a member once a handshake with it verified it, and
// none beyond MaxMembers known nodes is taken.
func (t *Transport) learn(from string, list []transport.NodeInfo) {
	if t.shuttingDown {
		return
	}
	for i, info := range list {
		if info.Name == t.self.Name || validName(info.Name) != nil || info.Addr == "" || len(info.Addr) > maxAddrLen {
			continue
		}
		if t.members[info.Name] != nil {
			continue
		}
		if len(t.members) >= t.cfg.MaxMembers {
			t.log.Warn("member list ignored: MaxMembers nodes known", "from", from, "ignored", len(list)-i, "max", t.cfg.MaxMembers)
			return
		}
		m := newMember(info, true)
		t.members[info.Name] = m
		t.startDial(m)
	}
}

func (t *Transport) notifyUp(s *session) {
	h, info := t.h, s.peer.NodeInfo
	t.notify.push(nil, func() {
		h.NodeUp(info)
		close(s.ready)
	})
}

// notifyDown reports s down once all its goroutines (and so every handler
// call it made) have finished.
func (t *Transport) notifyDown(s *session, reason error) {
	h, info := t.h, s.peer.NodeInfo
	t.notify.push(s.done, func() { h.NodeDown(info, reason) })
}

// notifier calls NodeUp and NodeDown in order on a goroutine of its own, so
// a handler may call back into the transport from them.
type notifier struct {
	mu     sync.Mutex
	q      []notice
	wake   chan struct{}
	closed bool
	done   chan struct{}
}

type notice struct {
	wait <-chan struct{}
	fn   func()
}

func newNotifier() *notifier {
	return &notifier{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (n *notifier) push(wait <-chan struct{}, fn func()) {
	n.mu.Lock()
	n.q = append(n.q, notice{wait, fn})
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *notifier) run() {
	defer close(n.done)
	for {
		n.mu.Lock()
		q, closed := n.q, n.closed
		n.q = nil
		n.mu.Unlock()
		for _, it := range q {
			if it.wait != nil {
				<-it.wait
			}
			it.fn()
		}
		if len(q) == 0 {
			if closed {
				return
			}
			<-n.wake
		}
	}
}

// close delivers what is queued and stops the notifier.
func (n *notifier) close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
	<-n.done
}
