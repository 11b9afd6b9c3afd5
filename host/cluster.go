package host

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/engine"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/transport"
)

// cluster is the node's view of its peers and of the state it shares with
// them. Every field is guarded by mu unless said otherwise.
type cluster struct {
	tr transport.Transport // nil when the node runs alone

	mu      sync.RWMutex
	peers   map[string]transport.NodeInfo // connected members by name
	byInc   map[uint64]string             // incarnation → name, connected members
	gone    map[uint64]string             // incarnations that went down: their PIDs are stale
	seen    map[string]bool               // every node name ever connected
	holders map[registry.Hash]map[string]bool
	rwatch  map[uint64]remoteWatch // monitors held here on actors of other nodes, by ref

	pullMu  sync.Mutex
	pulling map[registry.Hash]*pullCall
	pulls   atomic.Uint64 // module transfers into this node

	loadMu   sync.Mutex
	loadAt   time.Time
	loadPeer map[string]int
}

// remoteWatch is a monitor on a remote actor held by a local watcher.
type remoteWatch struct {
	node   string
	target wasmactor.PID
	w      watcher
}

type pullCall struct {
	done chan struct{}
	err  error
}

func (c *cluster) init() {
	c.peers = make(map[string]transport.NodeInfo)
	c.byInc = make(map[uint64]string)
	c.gone = make(map[uint64]string)
	c.seen = make(map[string]bool)
	c.holders = make(map[registry.Hash]map[string]bool)
	c.rwatch = make(map[uint64]remoteWatch)
	c.pulling = make(map[registry.Hash]*pullCall)
}

// peerByInc returns the name of the connected node with that incarnation,
// or the ABI error for a PID that cannot be reached.
func (n *Node) peerByInc(inc uint64) (string, engine.Errno) {
	n.cl.mu.RLock()
	defer n.cl.mu.RUnlock()
	if name, ok := n.cl.byInc[inc]; ok {
		return name, engine.OK
	}
	if _, ok := n.cl.gone[inc]; ok {
		return "", engine.Stale
	}
	if inc == 0 {
		return "", engine.BadArgument
	}
	return "", engine.NodeDown
}

// resolve turns a Go-API PID into its ABI form, checking its node. A zero
// Incarnation means the node's current one.
func (n *Node) resolve(p PID) (engine.PID, error) {
	if p.Serial == 0 {
		return engine.PID{}, fmt.Errorf("%w: %s has no serial", wasmactor.ErrBadPID, p)
	}
	if p.Node == n.cfg.Name {
		if p.Incarnation != 0 && p.Incarnation != n.incarnation {
			return engine.PID{}, fmt.Errorf("%w: %s", wasmactor.ErrStaleIncarnation, p)
		}
		return engine.PID{Node: n.incarnation, Serial: p.Serial}, nil
	}
	info, err := n.peer(p.Node)
	if err != nil {
		return engine.PID{}, fmt.Errorf("%w (pid %s)", err, p)
	}
	if p.Incarnation != 0 && p.Incarnation != info.Incarnation {
		return engine.PID{}, fmt.Errorf("%w: %s", wasmactor.ErrStaleIncarnation, p)
	}
	return engine.PID{Node: info.Incarnation, Serial: p.Serial}, nil
}

// peer returns a connected member by name: ErrNodeDown for a node seen
// before but not connected now, ErrUnknownNode for one never seen.
func (n *Node) peer(name string) (transport.NodeInfo, error) {
	n.cl.mu.RLock()
	info, ok := n.cl.peers[name]
	seen := n.cl.seen[name]
	n.cl.mu.RUnlock()
	switch {
	case ok:
		return info, nil
	case seen:
		return info, fmt.Errorf("%w: %s", wasmactor.ErrNodeDown, name)
	}
	return info, fmt.Errorf("%w: %q", wasmactor.ErrUnknownNode, name)
}

// pidOfABI turns an ABI PID back into a Go-API PID (best effort for nodes
// that went down).
func (n *Node) pidOfABI(p engine.PID) PID {
	if p.Node == n.incarnation {
		return PID{Node: n.cfg.Name, Incarnation: n.incarnation, Serial: p.Serial}
	}
	n.cl.mu.RLock()
	name, ok := n.cl.byInc[p.Node]
	if !ok {
		name = n.cl.gone[p.Node]
	}
	n.cl.mu.RUnlock()
	return PID{Node: name, Incarnation: p.Node, Serial: p.Serial}
}

// sendRemote puts one envelope on the wire.
func (n *Node) sendRemote(to engine.PID, env transport.Envelope) engine.Errno {
	if n.cl.tr == nil {
		return engine.Stale
	}
	name, e := n.peerByInc(to.Node)
	if e != engine.OK {
		return e
	}
	env.ToIncarnation = to.Node
	env.To = to.Serial
	switch err := n.cl.tr.Send(name, env); {
	case err == nil:
		return engine.OK
	case errors.Is(err, transport.ErrQueueFull):
		n.stats.mailboxFull.Add(1)
		return engine.MailboxFull
	case errors.Is(err, transport.ErrNodeDown):
		return engine.NodeDown
	default:
		return engine.ErrnoOf(err)
	}
}

// cast sends a control message to one peer; a peer that is gone is simply
// skipped (its node-down handling covers what the cast was for).
func (n *Node) cast(node string, kind uint16, body any) {
	if n.cl.tr == nil {
		return
	}
	if err := n.cl.tr.Cast(node, transport.Control{Kind: kind, Body: proto.Marshal(body)}); err != nil {
		n.log.Debug("cast failed", "peer", node, "kind", kind, "err", err)
	}
}

// broadcast casts to every connected member.
func (n *Node) broadcast(kind uint16, body any) {
	if n.cl.tr == nil {
		return
	}
	b := proto.Marshal(body)
	for _, m := range n.cl.tr.Members() {
		if err := n.cl.tr.Cast(m.Name, transport.Control{Kind: kind, Body: b}); err != nil {
			n.log.Debug("broadcast failed", "peer", m.Name, "kind", kind, "err", err)
		}
	}
}

// call sends a request to a peer and maps its error back to our sentinels.
func (n *Node) call(ctx context.Context, node string, kind uint16, body any, out any) error {
	if n.cl.tr == nil {
		return fmt.Errorf("%w: %q (this node runs alone)", wasmactor.ErrUnknownNode, node)
	}
	b, err := n.cl.tr.Call(ctx, node, transport.Control{Kind: kind, Body: proto.Marshal(body)})
	if err != nil {
		return fromRemote(err)
	}
	if out == nil {
		return nil
	}
	return proto.Unmarshal(b, out)
}

// remoteError carries a peer's error text and the sentinel its code names.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

func fromRemote(err error) error {
	var re *transport.RemoteError
	if errors.As(err, &re) {
		return &remoteError{msg: re.Message, sentinel: proto.ErrOf(re.Code)}
	}
	return err
}

func toRemote(err error) error {
	if err == nil {
		return nil
	}
	return &transport.RemoteError{Code: proto.CodeOf(err), Message: err.Error()}
}

// --- transport.Handler ---

var _ transport.Handler = (*handler)(nil)

// handler is the Node as the transport sees it; a separate type keeps the
// Handler methods out of the Node's public API.
type handler struct{ n *Node }

func (h handler) HandleEnvelopes(from transport.NodeInfo, envs []transport.Envelope) {
	n := h.n
	for i := range envs {
		env := &envs[i]
		kind := engine.Kind(env.Kind)
		src := engine.PID{Node: from.Incarnation, Serial: env.From}
		if env.ToIncarnation != n.incarnation {
			if kind == engine.KindAsk {
				n.sendRemote(src, transport.Envelope{Kind: uint8(engine.KindReply), Status: uint16(engine.Stale), Ref: env.Ref})
			}
			continue
		}
		dst := engine.PID{Node: n.incarnation, Serial: env.To}
		switch kind {
		case engine.KindTell:
			n.tell(src, dst, kind, 0, env.Payload)
		case engine.KindAsk:
			if e := n.tell(src, dst, kind, env.Ref, env.Payload); e != engine.OK {
				// The asker learns at once instead of waiting for its timeout.
				n.sendRemote(src, transport.Envelope{Kind: uint8(engine.KindReply), Status: uint16(e), Ref: env.Ref})
			}
		case engine.KindReply:
			n.reply(dst, env.Ref, engine.Errno(env.Status), env.Payload)
		default:
			n.log.Debug("unknown envelope kind", "peer", from.Name, "kind", env.Kind)
		}
	}
}

func (h handler) HandleCast(from transport.NodeInfo, msg transport.Control) {
	n := h.n
	if err := n.handleCast(from, msg); err != nil {
		n.log.Warn("bad control message", "peer", from.Name, "kind", msg.Kind, "err", err)
	}
}

func (n *Node) handleCast(from transport.NodeInfo, msg transport.Control) error {
	switch msg.Kind {
	case proto.KindModule:
		var m proto.Module
		if err := proto.Unmarshal(msg.Body, &m); err != nil {
			return err
		}
		n.learnModule(from.Name, m.Info)
	case proto.KindSync:
		var s proto.Sync
		if err := proto.Unmarshal(msg.Body, &s); err != nil {
			return err
		}
		for _, info := range s.Modules {
			n.learnModule(from.Name, info)
		}
		for _, c := range s.Names {
			n.mergeName(from, c)
		}
		for _, g := range s.Groups {
			if g.PID.Node == from.Name {
				n.groups.Join(g.Group, g.PID)
			}
		}
	case proto.KindName:
		var c registry.Claim
		if err := proto.Unmarshal(msg.Body, &c); err != nil {
			return err
		}
		n.mergeName(from, c)
	case proto.KindUnname:
		var r proto.NameRef
		if err := proto.Unmarshal(msg.Body, &r); err != nil {
			return err
		}
		n.names.Unregister(r.Name, r.PID)
	case proto.KindJoin, proto.KindLeave:
		var g proto.GroupRef
		if err := proto.Unmarshal(msg.Body, &g); err != nil {
			return err
		}
		if g.PID.Node != from.Name {
			return fmt.Errorf("%w: group change for %s sent by %s", wasmactor.ErrBadArgument, g.PID, from.Name)
		}
		if msg.Kind == proto.KindJoin {
			n.groups.Join(g.Group, g.PID)
		} else {
			n.groups.Leave(g.Group, g.PID)
		}
	case proto.KindMonitor:
		var w proto.Watch
		if err := proto.Unmarshal(msg.Body, &w); err != nil {
			return err
		}
		n.addRemoteWatcher(from, w)
	case proto.KindDemonitor:
		var w proto.Watch
		if err := proto.Unmarshal(msg.Body, &w); err != nil {
			return err
		}
		if a := n.actors.get(w.Target); a != nil {
			a.mu.Lock()
			for ref, x := range a.watchers {
				if x.node == from.Name && x.remoteRef == w.Ref {
					delete(a.watchers, ref)
				}
			}
			a.mu.Unlock()
		}
	case proto.KindDown:
		var d proto.Down
		if err := proto.Unmarshal(msg.Body, &d); err != nil {
			return err
		}
		n.cl.mu.Lock()
		rw, ok := n.cl.rwatch[d.Ref]
		if ok && rw.node == from.Name {
			delete(n.cl.rwatch, d.Ref)
		}
		n.cl.mu.Unlock()
		if ok && rw.node == from.Name {
			n.notifyDown(rw.w, d.Ref, rw.target, d.Reason)
		}
	case proto.KindLink:
		var l proto.Link
		if err := proto.Unmarshal(msg.Body, &l); err != nil {
			return err
		}
		other := PID{Node: from.Name, Incarnation: from.Incarnation, Serial: l.From}
		a := n.actors.get(l.To)
		if a == nil || !n.addRemoteLink(a, other) {
			n.cast(from.Name, proto.KindExit, proto.Exit{From: l.To, To: l.From, Reason: wasmactor.ReasonNoProc})
		}
	case proto.KindUnlink:
		var l proto.Link
		if err := proto.Unmarshal(msg.Body, &l); err != nil {
			return err
		}
		if a := n.actors.get(l.To); a != nil {
			a.mu.Lock()
			delete(a.rlinks, PID{Node: from.Name, Incarnation: from.Incarnation, Serial: l.From})
			a.mu.Unlock()
		}
	case proto.KindExit, proto.KindKill:
		var x proto.Exit
		if err := proto.Unmarshal(msg.Body, &x); err != nil {
			return err
		}
		a := n.actors.get(x.To)
		if a == nil {
			return nil
		}
		src := PID{Node: from.Name, Incarnation: from.Incarnation, Serial: x.From}
		if msg.Kind == proto.KindKill {
			n.exit(a, x.Reason, true, true)
			return nil
		}
		n.exitSignal(a, src, x.Reason)
	default:
		return fmt.Errorf("%w: unknown control kind %d", wasmactor.ErrBadArgument, msg.Kind)
	}
	return nil
}

// exitSignal delivers the death of a linked remote actor to a.
func (n *Node) exitSignal(a *actor, from PID, reason string) {
	a.mu.Lock()
	_, linked := a.rlinks[from]
	delete(a.rlinks, from)
	trap := a.trapExit
	a.mu.Unlock()
	if !linked || !wasmactor.IsAbnormal(reason) {
		return
	}
	if trap {
		n.deliverSystem(a, delivery{kind: engine.KindExit, from: engine.PID{Node: from.Incarnation, Serial: from.Serial}, payload: []byte(reason)})
		return
	}
	n.exit(a, reason, true, true)
}

func (n *Node) mergeName(from transport.NodeInfo, c registry.Claim) {
	if c.PID.Node != from.Name {
		n.log.Warn("name claim for another node's actor ignored", "peer", from.Name, "name", c.Name, "pid", c.PID.String())
		return
	}
	if loser := n.names.Merge(c); loser != nil && loser.PID.Node == n.cfg.Name {
		n.log.Warn("name lost to an earlier registration elsewhere", "name", loser.Name, "pid", loser.PID.String())
	}
}

func (n *Node) learnModule(holder string, info registry.ModuleInfo) {
	n.factories.Add(info)
	n.cl.mu.Lock()
	hs := n.cl.holders[info.Hash]
	if hs == nil {
		hs = make(map[string]bool)
		n.cl.holders[info.Hash] = hs
	}
	hs[holder] = true
	n.cl.mu.Unlock()
}

func (h handler) ServeBlob(ctx context.Context, from transport.PeerInfo, key string) ([]byte, error) {
	hash, err := registry.ParseHash(key)
	if err != nil {
		return nil, toRemote(err)
	}
	b, err := h.n.store.Get(hash)
	return b, toRemote(err)
}

func (h handler) NodeUp(peer transport.NodeInfo) {
	n := h.n
	n.cl.mu.Lock()
	n.cl.peers[peer.Name] = peer
	n.cl.byInc[peer.Incarnation] = peer.Name
	n.cl.seen[peer.Name] = true
	n.cl.mu.Unlock()
	n.log.Info("node up", "peer", peer.Name, "addr", peer.Addr, "incarnation", peer.Incarnation)
	n.cast(peer.Name, proto.KindSync, n.syncState())
}

// syncState is this node's share of the cluster state: the modules it holds
// and the names and groups of its own actors.
func (n *Node) syncState() proto.Sync {
	s := proto.Sync{Modules: n.store.List()}
	for _, c := range n.names.List() {
		if c.PID.Node == n.cfg.Name {
			s.Names = append(s.Names, c)
		}
	}
	for _, g := range n.groups.Groups() {
		for _, p := range n.groups.Members(g) {
			if p.Node == n.cfg.Name {
				s.Groups = append(s.Groups, proto.GroupRef{Group: g, PID: p})
			}
		}
	}
	return s
}

func (h handler) NodeDown(peer transport.NodeInfo, reason error) {
	n := h.n
	n.cl.mu.Lock()
	if cur, ok := n.cl.peers[peer.Name]; ok && cur.Incarnation == peer.Incarnation {
		delete(n.cl.peers, peer.Name)
	}
	delete(n.cl.byInc, peer.Incarnation)
	n.cl.gone[peer.Incarnation] = peer.Name
	for _, hs := range n.cl.holders {
		delete(hs, peer.Name)
	}
	var fired []struct {
		ref uint64
		rw  remoteWatch
	}
	for ref, rw := range n.cl.rwatch {
		if rw.target.Incarnation == peer.Incarnation {
			fired = append(fired, struct {
				ref uint64
				rw  remoteWatch
			}{ref, rw})
			delete(n.cl.rwatch, ref)
		}
	}
	n.cl.mu.Unlock()
	n.log.Warn("node down", "peer", peer.Name, "incarnation", peer.Incarnation, "reason", reason)

	n.names.RemoveNode(peer.Name)
	n.groups.RemoveNode(peer.Name)
	for _, f := range fired {
		n.notifyDown(f.rw.w, f.ref, f.rw.target, wasmactor.ReasonNoConnection)
	}
	// Links to its actors break with "noconnection"; its monitors on ours go.
	for _, a := range n.actors.all() {
		a.mu.Lock()
		var broken []PID
		for p := range a.rlinks {
			if p.Incarnation == peer.Incarnation {
				broken = append(broken, p)
			}
		}
		for ref, w := range a.watchers {
			if w.node == peer.Name {
				delete(a.watchers, ref)
			}
		}
		a.mu.Unlock()
		for _, p := range broken {
			n.exitSignal(a, p, wasmactor.ReasonNoConnection)
		}
	}
	// Calls and asks waiting on it fail now rather than at their timeout.
	n.calls.Range(func(k, v any) bool {
		if v.(*pendingCall).node == peer.Incarnation {
			n.finishCall(k.(uint64), nil, fmt.Errorf("%w: %s", wasmactor.ErrNodeDown, peer.Name))
		}
		return true
	})
	for _, key := range n.asks.toNode(peer.Incarnation) {
		n.replyToActor(key, engine.NodeDown, nil)
	}
}

// watchRemote monitors an actor on another node for a local watcher.
func (n *Node) watchRemote(target PID, w watcher) uint64 {
	ref := n.refs.Add(1)
	n.cl.mu.Lock()
	_, up := n.cl.byInc[target.Incarnation]
	if up {
		n.cl.rwatch[ref] = remoteWatch{node: target.Node, target: target, w: w}
	}
	n.cl.mu.Unlock()
	if !up {
		n.notifyDown(w, ref, target, wasmactor.ReasonNoConnection)
		return ref
	}
	if w.actor != nil {
		w.actor.mu.Lock()
		if w.actor.watching == nil {
			w.actor.watching = make(map[uint64]*actor)
		}
		w.actor.watching[ref] = nil // nil: the target is remote, see cl.rwatch
		w.actor.mu.Unlock()
	}
	var watcherSerial uint64
	if w.actor != nil {
		watcherSerial = w.actor.serial
	}
	n.cast(target.Node, proto.KindMonitor, proto.Watch{Watcher: watcherSerial, Target: target.Serial, Ref: ref})
	return ref
}

func (n *Node) unwatchRemote(ref uint64) {
	n.cl.mu.Lock()
	rw, ok := n.cl.rwatch[ref]
	delete(n.cl.rwatch, ref)
	n.cl.mu.Unlock()
	if ok {
		n.cast(rw.node, proto.KindDemonitor, proto.Watch{Target: rw.target.Serial, Ref: ref})
	}
}

// addRemoteWatcher records a peer's monitor on a local actor.
func (n *Node) addRemoteWatcher(from transport.NodeInfo, w proto.Watch) {
	a := n.actors.get(w.Target)
	if a != nil {
		ref := n.refs.Add(1)
		a.mu.Lock()
		ok := a.alive()
		if ok {
			if a.watchers == nil {
				a.watchers = make(map[uint64]watcher)
			}
			a.watchers[ref] = watcher{node: from.Name, remoteRef: w.Ref}
		}
		a.mu.Unlock()
		if ok {
			return
		}
	}
	n.cast(from.Name, proto.KindDown, proto.Down{Watcher: w.Watcher, Target: w.Target, Ref: w.Ref, Reason: wasmactor.ReasonNoProc})
}

// addRemoteLink records a link from local actor a to a remote actor.
func (n *Node) addRemoteLink(a *actor, other PID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.alive() {
		return false
	}
	if a.rlinks == nil {
		a.rlinks = make(map[PID]struct{})
	}
	a.rlinks[other] = struct{}{}
	return true
}

// linkRemote links local actor a to a remote actor.
func (n *Node) linkRemote(a *actor, other PID) error {
	if _, e := n.peerByInc(other.Incarnation); e != engine.OK {
		return fmt.Errorf("%w: %s", e.Err(), other)
	}
	if !n.addRemoteLink(a, other) {
		return fmt.Errorf("%w: %s", wasmactor.ErrNoProc, n.pidOf(a))
	}
	n.cast(other.Node, proto.KindLink, proto.Link{From: a.serial, To: other.Serial})
	return nil
}

// pull fetches a module this node lacks from a node that holds it, checks
// its hash and stores it. Concurrent pulls of one module share one transfer.
func (n *Node) pull(ctx context.Context, info registry.ModuleInfo) error {
	n.cl.pullMu.Lock()
	if p, ok := n.cl.pulling[info.Hash]; ok {
		n.cl.pullMu.Unlock()
		select {
		case <-p.done:
			return p.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p := &pullCall{done: make(chan struct{})}
	n.cl.pulling[info.Hash] = p
	n.cl.pullMu.Unlock()

	p.err = n.fetch(ctx, info)
	n.cl.pullMu.Lock()
	delete(n.cl.pulling, info.Hash)
	n.cl.pullMu.Unlock()
	close(p.done)
	return p.err
}

func (n *Node) fetch(ctx context.Context, info registry.ModuleInfo) error {
	if n.cl.tr == nil {
		return fmt.Errorf("%w: module %s is not stored here", wasmactor.ErrModuleUnavailable, info.Hash.Short())
	}
	if info.Size > int64(n.cfg.MaxModuleSize) {
		return fmt.Errorf("%w: module %s is %d bytes, the cap is %d", wasmactor.ErrTooLarge, info.Hash.Short(), info.Size, n.cfg.MaxModuleSize)
	}
	n.cl.mu.RLock()
	var holders []string
	for h := range n.cl.holders[info.Hash] {
		holders = append(holders, h)
	}
	n.cl.mu.RUnlock()
	sort.Strings(holders)
	if len(holders) == 0 {
		return fmt.Errorf("%w: no connected node holds module %s", wasmactor.ErrModuleUnavailable, info.Hash.Short())
	}
	var last error
	for _, h := range holders {
		b, err := n.cl.tr.FetchBlob(ctx, h, info.Hash.String(), info.Size)
		if err != nil {
			last = fmt.Errorf("fetching module %s from %s: %w", info.Hash.Short(), h, fromRemote(err))
			continue
		}
		if registry.HashOf(b) != info.Hash {
			last = fmt.Errorf("%w: module from %s does not match its hash %s", wasmactor.ErrBadModule, h, info.Hash.Short())
			n.log.Warn("module transfer failed its hash check", "peer", h, "module", info.Hash.Short())
			continue
		}
		if err := n.store.Put(info, b); err != nil {
			return err
		}
		n.cl.pulls.Add(1)
		n.log.Info("module pulled", "module", info.Hash.Short(), "from", h, "size", len(b))
		n.broadcast(proto.KindModule, proto.Module{Info: info})
		return nil
	}
	return last
}

// holderOf names a node that holds the module: this one if it does, else a
// connected holder, else "".
func (n *Node) holderOf(h registry.Hash) string {
	if _, ok := n.store.Info(h); ok {
		return n.cfg.Name
	}
	n.cl.mu.RLock()
	defer n.cl.mu.RUnlock()
	for name := range n.cl.holders[h] {
		return name
	}
	return ""
}

// Pulls is how many modules this node has fetched from peers since it started.
func (n *Node) Pulls() uint64 { return n.cl.pulls.Load() }

// Members lists the other nodes this node has seen come up and not yet go
// down, by name.
func (n *Node) Members() []transport.NodeInfo {
	n.cl.mu.RLock()
	m := make([]transport.NodeInfo, 0, len(n.cl.peers))
	for _, p := range n.cl.peers {
		m = append(m, p)
	}
	n.cl.mu.RUnlock()
	sort.Slice(m, func(i, j int) bool { return m[i].Name < m[j].Name })
	return m
}

// place chooses the node for a spawn that names none: the least-loaded
// member (by actor count, refreshed at most once a second), this node on a tie.
func (n *Node) placement(ctx context.Context) string {
	n.cl.mu.RLock()
	alone := len(n.cl.peers) == 0
	n.cl.mu.RUnlock()
	if alone { // the common case of a single node: nothing to allocate
		return n.cfg.Name
	}
	members := n.Members()
	n.cl.loadMu.Lock()
	defer n.cl.loadMu.Unlock()
	if time.Since(n.cl.loadAt) > time.Second {
		loads := make(map[string]int, len(members))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, m := range members {
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				defer cancel()
				var st proto.NodeStatus
				if err := n.call(cctx, m.Name, proto.KindStatus, proto.Empty{}, &st); err == nil {
					mu.Lock()
					loads[m.Name] = st.Actors
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		n.cl.loadPeer, n.cl.loadAt = loads, time.Now()
	}
	best, bestLoad := n.cfg.Name, n.actors.len()
	for _, m := range members {
		if l, ok := n.cl.loadPeer[m.Name]; ok && l < bestLoad {
			best, bestLoad = m.Name, l
		}
	}
	if best != n.cfg.Name {
		n.cl.loadPeer[best]++ // so a burst of spawns spreads out
	}
	return best
}
