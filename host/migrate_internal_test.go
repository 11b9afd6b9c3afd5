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
