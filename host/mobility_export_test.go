package host

import (
	"context"
	"fmt"

	"github.com/wasmactor/wasmactor/internal/proto"
	"github.com/wasmactor/wasmactor/transport"
)

// DebugMigrations describes the migration state of n, for a test that failed.
func (n *Node) DebugMigrations() string {
	out := ""
	for _, a := range n.actors.all() {
		m := a.mig.Load()
		a.mu.Lock()
		st := fmt.Sprintf("%s actor %d state %d route %d mv %v quota %d mailbox %d", n.cfg.Name, a.serial, a.state.Load(), a.route.Load(), a.mv != nil, a.quota.Outstanding(), a.inst.Load().mailbox.Len())
		if m != nil && m.arr != nil {
			held := 0
			for _, h := range m.arr.held {
				held += len(h)
			}
			st += fmt.Sprintf(" ARRIVAL from %d committed %v announced %v expect %v passed %v held %d", m.arr.fromInc, m.arr.committed, m.arr.announced, m.arr.expect, m.arr.passed, held)
		}
		a.mu.Unlock()
		out += st + "\n"
	}
	n.mob.mu.RLock()
	out += fmt.Sprintf("%s stubs %d fences %v arriving %d aliases %d\n", n.cfg.Name, len(n.mob.stubs), n.mob.fences, len(n.mob.arriving), len(n.mob.aliases))
	n.mob.mu.RUnlock()
	st := n.Stats()
	out += fmt.Sprintf("%s stats mailboxfull %d remoterefused %d refusalslost %d\n", n.cfg.Name, st.MailboxFull, st.RemoteRefused, st.RefusalsLost)
	return out
}

// MarkArrived makes the live actor pid look as if it had arrived by
// migration from old and were still settling (some node's fence not
// passed: old's node's, so what that node sends it directly is held), for
// tests of what a peer may say about such an actor.
func MarkArrived(n *Node, pid PID, old PID) {
	a := n.actors.get(pid.Serial)
	a.mu.Lock()
	a.mig.Store(&migration{arr: &arrival{old: old, from: old.Node, fromInc: old.Incarnation, committed: true,
		expect: map[uint64]bool{old.Incarnation: true}}})
	a.mu.Unlock()
}

// RequestAs hands n a node request as if from had sent it, for tests of
// what a peer may say about migrations (migrate.go).
func RequestAs(to, from *Node, kind uint16, body any) error {
	_, _, err := to.serveMigration(context.Background(), transport.PeerInfo{NodeInfo: transport.NodeInfo{Name: from.cfg.Name, Incarnation: from.incarnation}},
		kind, proto.Marshal(body))
	return err
}

// ForwardAs hands to a forwarded record for its actor serial as if from
// had forwarded it from a stub (forwarding.go), naming from's host as the
// sender.
func ForwardAs(to, from *Node, serial uint64, kind uint16, payload []byte) {
	fw := proto.Forward{FromIncarnation: from.incarnation, Kind: kind, Payload: payload}
	to.handleMoveEnvelope(transport.NodeInfo{Name: from.cfg.Name, Incarnation: from.incarnation},
		transport.Envelope{Kind: proto.EnvForward, Payload: proto.Marshal(fw)}, serial, 0)
}
