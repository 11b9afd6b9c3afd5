package host

import "fmt"

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
