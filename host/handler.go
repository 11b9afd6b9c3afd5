package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/registry"
	"github.com/wasmactor/wasmactor/token"
	"github.com/wasmactor/wasmactor/transport"
)

var _ transport.Handler = (*handler)(nil)

// handler is the Node as the transport sees it; a separate type keeps the
// Handler methods out of the Node's public API.
type handler struct{ n *Node }

// kindRefused is the envelope kind that carries a refused tell back to its
// sender: Status is the ABI error code, To the sending actor (0: the
// sender's host), From the target. It is a wire kind only, above the ABI's
// record kinds, and never reaches a guest (docs/protocol.md, "Lanes").
const kindRefused = 64

func (h handler) HandleEnvelopes(from transport.NodeInfo, envs []transport.Envelope) {
	n := h.n
	var refused []transport.Envelope // allocated only when something is refused
	for i := range envs {
		env := &envs[i]
		kind := abi.Kind(env.Kind)
		src := abi.PID{Incarnation: from.Incarnation, Serial: env.From}
		if env.ToIncarnation != n.incarnation {
			switch kind {
			case abi.KindAsk:
				n.sendRemote(src, transport.Envelope{Kind: uint8(abi.KindReply), Status: uint16(abi.StaleIncarnation), From: env.To, Ref: env.Ref})
			case abi.KindTell:
				refused = append(refused, refusal(from, env, abi.StaleIncarnation))
			}
			continue
		}
		dst := abi.PID{Incarnation: n.incarnation, Serial: env.To}
		switch kind {
		case abi.KindTell:
			if e := n.tellTraced(src, dst, kind, 0, env.Payload, parseTrace(env.Trace)); e != abi.OK {
				refused = append(refused, refusal(from, env, e))
			}
		case kindRefused:
			n.countRefused(env.To)
		case abi.KindAsk:
			if e := n.tellTraced(src, dst, kind, env.Ref, env.Payload, parseTrace(env.Trace)); e != abi.OK {
				// The asker learns at once instead of waiting for its timeout.
				n.sendRemote(src, transport.Envelope{Kind: uint8(abi.KindReply), Status: uint16(e), From: env.To, Ref: env.Ref})
			}
		case abi.KindReply:
			n.reply(src, dst, env.Ref, abi.Errno(env.Status), env.Payload)
		case abi.Kind(proto.EnvForward), abi.Kind(proto.EnvFence), abi.Kind(proto.EnvFencePassed):
			n.handleMoveEnvelope(from, *env, env.To, env.From)
		default:
			n.log.Debug("unknown envelope kind", "peer", from.Name, "kind", env.Kind)
		}
	}
	if len(refused) > 0 {
		n.sendRefusals(from, refused)
	}
}

// refusal is the REFUSED envelope answering a tell that was not queued.
func refusal(from transport.NodeInfo, env *transport.Envelope, e abi.Errno) transport.Envelope {
	return transport.Envelope{Kind: kindRefused, Status: uint16(e), ToIncarnation: from.Incarnation, To: env.From, From: env.To}
}

// sendRefusals carries a batch's refusals back to the sending node in one
// Send. If its queue is full, their counts go as one cast in the ordered
// control backlog, which waits until the transport takes it. Only if the
// node is gone are they lost, counted here (the tells stay counted at this
// node, and the sender's node sees this one go down).
func (n *Node) sendRefusals(to transport.NodeInfo, refused []transport.Envelope) {
	err := n.cl.tr.Send(to.Name, refused...)
	if err == nil {
		return
	}
	if errors.Is(err, transport.ErrQueueFull) {
		r := proto.Refusals{ToIncarnation: to.Incarnation}
		for _, env := range refused { // a batch's refusals mostly share a sender
			if k := len(r.Counts) - 1; k >= 0 && r.Counts[k].From == env.To {
				r.Counts[k].N++
			} else {
				r.Counts = append(r.Counts, proto.RefusedCount{From: env.To, N: 1})
			}
		}
		n.castMust(to.Name, proto.KindRefusals, r)
		return
	}
	n.stats.refusalsLost.Add(uint64(len(refused)))
	n.log.Debug("refusals not sent", "peer", to.Name, "count", len(refused), "err", err)
}

// countRefused counts a tell that another node refused against its sender:
// the sending actor if it still exists (serial 0 is this node's Go API),
// and the node. The guest is told nothing: a tell is at most once, and a
// refusal arrives long after the send returned.
func (n *Node) countRefused(serial uint64) { n.countRefusedN(serial, 1) }

// countRefusedN is countRefused for k tells of one sender.
func (n *Node) countRefusedN(serial, k uint64) {
	n.stats.remoteRefused.Add(k)
	if serial == 0 {
		return
	}
	if a := n.actors.get(serial); a != nil {
		a.mu.Lock()
		a.ownRels().refused += k
		a.mu.Unlock()
	}
}

func (h handler) HandleCast(from transport.NodeInfo, msg transport.Control) {
	n := h.n
	if err := n.handleCast(from, msg); err != nil {
		n.log.Warn("bad control message", "peer", from.Name, "kind", msg.Kind, "err", err)
	}
}

func (n *Node) handleCast(from transport.NodeInfo, msg transport.Control) error {
	if n.mob.nAlias.Load() > 0 && n.relayed(from, msg) { // for an actor that moved away (relay.go)
		return nil
	}
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
		// Both ways: a run that was drained and then undrained says so
		// here too, to a member that missed the KindDraining.
		n.markDraining(from, s.Draining)
		for _, g := range s.Groups {
			if owns(from, g.PID) {
				n.changeGroup(g.Group, g.PID, true)
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
		if !owns(from, r.PID) {
			return fmt.Errorf("%w: name release for %s sent by %s", wasmactor.ErrBadArgument, r.PID, from.Name)
		}
		n.names.Unregister(r.Name, r.PID)
	case proto.KindJoin, proto.KindLeave:
		var g proto.GroupRef
		if err := proto.Unmarshal(msg.Body, &g); err != nil {
			return err
		}
		if !owns(from, g.PID) {
			return fmt.Errorf("%w: group change for %s sent by %s", wasmactor.ErrBadArgument, g.PID, from.Name)
		}
		n.changeGroup(g.Group, g.PID, msg.Kind == proto.KindJoin)
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
		if a := n.actors.get(w.Target); a != nil && w.ToIncarnation == n.incarnation {
			a.mu.Lock()
			for ref, x := range a.rels().watchers {
				if x.node == from.Name && x.remoteRef == w.Ref {
					delete(a.rels().watchers, ref)
				}
			}
			a.mu.Unlock()
		}
	case proto.KindRefusals:
		var r proto.Refusals
		if err := proto.Unmarshal(msg.Body, &r); err != nil {
			return err
		}
		if r.ToIncarnation != n.incarnation {
			return nil // tells of an earlier run of this node
		}
		for _, c := range r.Counts {
			n.countRefusedN(c.From, c.N)
		}
	case proto.KindDown:
		var d proto.Down
		if err := proto.Unmarshal(msg.Body, &d); err != nil {
			return err
		}
		if d.ToIncarnation != n.incarnation {
			return nil // for a monitor of an earlier run of this node
		}
		n.cl.mu.Lock()
		rw, ok := n.cl.rwatch[d.Ref]
		if ok && rw.node == from.Name {
			delete(n.cl.rwatch, d.Ref)
		} else if ok {
			n.stashMovedDown(from, d) // from where the actor moved, ahead of the Moved?
		}
		n.cl.mu.Unlock()
		if ok && rw.node == from.Name {
			n.notifyDown(rw.w, d.Ref, rw.target, d.Reason)
		} else if !ok {
			n.stashEarlyDown(from, d) // a spawned child's, ahead of its outcome?
		}
	case proto.KindLink:
		var l proto.Link
		if err := proto.Unmarshal(msg.Body, &l); err != nil {
			return err
		}
		other := PID{Node: from.Name, Incarnation: from.Incarnation, Serial: l.From}
		a := n.actors.get(l.To)
		if l.ToIncarnation != n.incarnation {
			a = nil // meant for another run of this node: that actor is gone
		}
		if a == nil || !n.addRemoteLink(a, other) {
			n.castMust(from.Name, proto.KindExit, proto.Exit{From: l.To, To: l.From, Reason: wasmactor.ReasonNoProc, ToIncarnation: from.Incarnation})
		}
	case proto.KindUnlink:
		var l proto.Link
		if err := proto.Unmarshal(msg.Body, &l); err != nil {
			return err
		}
		if a := n.actors.get(l.To); a != nil && l.ToIncarnation == n.incarnation {
			a.mu.Lock()
			delete(a.rels().rlinks, PID{Node: from.Name, Incarnation: from.Incarnation, Serial: l.From})
			a.mu.Unlock()
		}
	case proto.KindSpawnRequest:
		var r proto.SpawnRequest
		if err := proto.Unmarshal(msg.Body, &r); err != nil {
			return err
		}
		n.serveSpawnRequest(from, r)
	case proto.KindSpawned:
		var s proto.Spawned
		if err := proto.Unmarshal(msg.Body, &s); err != nil {
			return err
		}
		n.handleSpawned(from, s)
	case proto.KindExit, proto.KindKill, proto.KindStop:
		var x proto.Exit
		if err := proto.Unmarshal(msg.Body, &x); err != nil {
			return err
		}
		a := n.actors.get(x.To)
		if a == nil || x.ToIncarnation != n.incarnation {
			return nil // gone, or meant for an earlier run of this node
		}
		src := PID{Node: from.Name, Incarnation: from.Incarnation, Serial: x.From}
		switch msg.Kind {
		case proto.KindKill:
			n.exit(a, x.Reason, true, true)
			return nil
		case proto.KindStop:
			n.exit(a, x.Reason, true, false) // final: Node.Stop is
			return nil
		}
		a.mu.Lock()
		_, linked := a.rels().rlinks[src]
		a.mu.Unlock()
		if !linked && n.stashEarlyExit(from, a, x) {
			return nil // a spawned child's, ahead of its outcome
		}
		n.exitSignal(a, src, x.Reason)
	case proto.KindUndeploy:
		return n.handleTombstones(from.Name, msg.Body)
	case proto.KindAliases:
		return n.handleAliases(from, msg.Body)
	case proto.KindRelay:
		return n.handleRelay(from, msg.Body)
	default:
		return fmt.Errorf("%w: unknown control kind %d", wasmactor.ErrBadArgument, msg.Kind)
	}
	return nil
}

func (h handler) ServeBlob(ctx context.Context, from transport.PeerInfo, key string) ([]byte, error) {
	// Nodes pull modules; a client has no use for a module's bytes unless
	// it could deploy them anyway.
	if err := h.n.permitRole(from, token.Admin, "module download"); err != nil {
		return nil, toRemote(err)
	}
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
	how := ReasonJoined
	if last, ok := n.cl.lastInc[peer.Name]; ok {
		how = ReasonRestarted
		if last == peer.Incarnation {
			how = ReasonReconnected
		}
	}
	n.cl.peers[peer.Name] = peer
	n.cl.byInc[peer.Incarnation] = peer.Name
	n.cl.seen[peer.Name] = true
	delete(n.cl.gone, peer.Incarnation) // back after a partition or a reconnect
	if old, ok := n.cl.lastInc[peer.Name]; ok && old != peer.Incarnation {
		n.cl.gone[old] = peer.Name // a new run: the old one is over
	}
	n.cl.lastInc[peer.Name] = peer.Incarnation
	n.cl.upAt[peer.Name] = peerUp{incarnation: peer.Incarnation, at: time.Now()}
	n.cl.mu.Unlock()
	n.log.Info("node up", "peer", peer.Name, "addr", peer.Addr, "incarnation", wasmactor.FormatIncarnation(peer.Incarnation))
	n.sendSync(peer.Name)
	n.sendTombstones(peer.Name)
	n.sendAliases(peer.Name)
	n.nodeUp(peer, how)
}

// syncState is this node's share of the cluster state: the modules it holds
// and the names and groups of its own actors.
func (n *Node) syncState() proto.Sync {
	s := proto.Sync{Modules: n.store.List(), Draining: n.cl.draining.Load()}
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
	if up, ok := n.cl.upAt[peer.Name]; ok && up.incarnation == peer.Incarnation {
		delete(n.cl.upAt, peer.Name)
	}
	delete(n.cl.byInc, peer.Incarnation)
	// Only a run that is over makes its PIDs stale: one that restarted or
	// left. A peer that went silent or reconnected may come back with the
	// same incarnation; meanwhile its PIDs are "node down".
	if errors.Is(reason, transport.ErrPeerRestarted) || errors.Is(reason, transport.ErrPeerLeft) {
		n.cl.gone[peer.Incarnation] = peer.Name
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
	_, over := n.cl.gone[peer.Incarnation]
	n.forgetEarlyDowns(peer.Incarnation, over)
	n.cl.mu.Unlock()
	level := slog.LevelWarn
	if errors.Is(reason, transport.ErrPeerLeft) {
		level = slog.LevelInfo // a clean leave is a normal event
	}
	n.log.Log(n.life, level, "node down", "peer", peer.Name, "incarnation", wasmactor.FormatIncarnation(peer.Incarnation), "reason", reason)
	n.dropBacklog(peer.Name) // nothing crosses sessions: the next one starts afresh

	n.forgetHolder(peer.Name)
	n.markDraining(peer, false) // its next session's sync says again
	n.names.RemoveNode(peer.Name)
	n.removeNodeFromGroups(peer.Name)
	for _, f := range fired {
		n.notifyDown(f.rw.w, f.ref, f.rw.target, wasmactor.ReasonNoConnection)
	}
	// Links to its actors break with "noconnection"; its monitors on ours go.
	for _, a := range n.actors.all() {
		a.mu.Lock()
		var broken []PID
		for p := range a.rels().rlinks {
			if p.Incarnation == peer.Incarnation {
				broken = append(broken, p)
			}
		}
		for ref, w := range a.rels().watchers {
			if w.node == peer.Name {
				delete(a.rels().watchers, ref)
			}
		}
		a.mu.Unlock()
		for _, p := range broken {
			n.exitSignal(a, p, wasmactor.ReasonNoConnection)
		}
	}
	n.migrationNodeDown(peer)
	// Calls and asks waiting on it fail now rather than at their timeout.
	n.calls.Range(func(k, v any) bool {
		if n.followABI(v.(*pendingCall).callee).Incarnation == peer.Incarnation {
			n.finishCall(k.(uint64), nil, fmt.Errorf("%w: %s", wasmactor.ErrNodeDown, peer.Name))
		}
		return true
	})
	for _, key := range n.asks.toNode(peer.Incarnation, n.followABI) {
		n.replyToActor(key, abi.NodeDown, nil)
	}
	for _, req := range n.spawnsToNode(peer) {
		n.remoteSpawnFailed(req, abi.NodeDown)
	}
	n.nodeDown(peer, reason)
}

// HandleCall answers requests from peers (spawn, status) and from the CLI.
func (h handler) HandleCall(ctx context.Context, from transport.PeerInfo, req transport.Control) ([]byte, error) {
	b, err := h.n.serve(ctx, from, req)
	return b, toRemote(err)
}
