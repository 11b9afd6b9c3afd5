package host

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStubsAreBounded: a node keeps at most maxStubs stubs of actors that
// left it; past that the oldest goes, from both of its tables.
func TestStubsAreBounded(t *testing.T) {
	var m mobility
	m.init()
	to := PID{Node: "n2", Incarnation: 7, Serial: 1}
	for serial := uint64(1); serial <= maxStubs+3; serial++ {
		s := &stub{serial: serial, to: to}
		m.mu.Lock()
		m.stubs[serial] = s
		m.stubsTo[to] = append(m.stubsTo[to], s)
		m.evictStubs()
		m.mu.Unlock()
	}
	require.Len(t, m.stubs, maxStubs)
	require.Len(t, m.stubsTo[to], maxStubs)
	for serial := uint64(1); serial <= 3; serial++ {
		require.NotContains(t, m.stubs, serial, "the oldest go first")
	}
	require.Contains(t, m.stubs, uint64(maxStubs+3))
}

// TestAliasTableStaysBounded: past maxAliases the alias table forgets
// aliases, and its reverse table forgets them too (before, the reverse
// table kept every old PID it was ever told of).
func TestAliasTableStaysBounded(t *testing.T) {
	var m mobility
	m.init()
	for serial := uint64(1); serial <= maxAliases+100; serial++ {
		old := PID{Node: "n1", Incarnation: 1, Serial: serial}
		mid := PID{Node: "n2", Incarnation: 2, Serial: serial}
		m.learnMove(old, mid)
		m.learnMove(mid, PID{Node: "n3", Incarnation: 3, Serial: serial}) // collapsed: old and mid lead there
	}
	require.LessOrEqual(t, len(m.aliases), maxAliases)
	require.Equal(t, len(m.aliases), int(m.nAlias.Load()))
	behind := 0
	for cur, olds := range m.behind {
		behind += len(olds)
		for _, o := range olds {
			require.Equal(t, cur, m.aliases[o], "each old PID behind cur leads to cur")
		}
	}
	require.Equal(t, len(m.aliases), behind, "the reverse table holds exactly the aliases")
}

// TestFencesAreBoundedPerNode: a node's fences whose copies have not all
// come are bounded; past the bound that node's new fences are not counted
// while another node's are, and a node that goes down leaves none behind.
func TestFencesAreBoundedPerNode(t *testing.T) {
	var m mobility
	m.init()
	for id := uint64(1); id <= maxFencesPerNode; id++ {
		done, ok := m.countFence(fenceKey{stub: 1, node: 7, id: id}, 2)
		require.True(t, ok)
		require.False(t, done)
	}
	_, ok := m.countFence(fenceKey{stub: 1, node: 7, id: maxFencesPerNode + 1}, 2)
	require.False(t, ok, "node 7 is at its bound")
	done, ok := m.countFence(fenceKey{stub: 1, node: 7, id: 1}, 2)
	require.True(t, ok, "a fence already pending is still counted")
	require.True(t, done, "and passes with its last copy")

	done, ok = m.countFence(fenceKey{stub: 1, node: 8, id: 1}, 1)
	require.True(t, ok && done, "another node's fence is counted")

	m.dropFences(func(k fenceKey) bool { return k.node == 7 }) // node 7 went down
	require.Empty(t, m.fences)
	require.Empty(t, m.fencesOf)
	_, ok = m.countFence(fenceKey{stub: 1, node: 7, id: 99}, 2)
	require.True(t, ok)
}

// TestNoMigrationGoroutineStartsAfterCloseWaited: once Close has waited
// for the migrations' goroutines, none starts (before, a turn or a peer's
// request racing Close added one to a WaitGroup already waited for).
func TestNoMigrationGoroutineStartsAfterCloseWaited(t *testing.T) {
	var m mobility
	m.init()
	ran := make(chan struct{})
	require.True(t, m.goBG(func() { close(ran) }))
	<-ran
	m.waitBG()
	require.False(t, m.goBG(func() { t.Error("started after the wait") }))
	m.waitBG() // idempotent
}
