package quic

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor/transport"
)

// memberCounts reads, on the loop, how many members tr tracks and how many
// of them are learned and unverified.
func memberCounts(tr *Transport) (all, learned int) {
	done := make(chan struct{})
	tr.exec(func() {
		all = len(tr.members)
		for _, m := range tr.members {
			if m.learned {
				learned++
			}
		}
		close(done)
	})
	<-done
	return all, learned
}

// TestMemberFloodBounded: a peer that holds the cookie announces thousands
// of members, all at an address where nothing answers. The victim tracks
// at most MaxMembers of them, dials at most maxLearnDials at once, and so
// runs a bounded number of goroutines; none of them counts as a member.
// Before, every entry became a member with a dialling goroutine, redialled
// for ReconnectFor (10 minutes): 5,120 fake members made 17,000 goroutines.
func TestMemberFloodBounded(t *testing.T) {
	// Packets to the fake members go here and are never answered.
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer sink.Close()

	vcfg := testConfig("victim")
	vcfg.MaxMembers = 500
	hv := newHandler()
	v := startNode(t, vcfg, hv)
	m := startNode(t, testConfig("mallory"), newHandler())
	require.NoError(t, m.Join(joinCtx(t), []string{v.Self().Addr}))
	waitFor(t, 5*time.Second, "connected", func() bool { return len(m.Members()) == 1 && len(v.Members()) == 1 })
	require.True(t, hv.nextEvent(t, 5*time.Second).up)

	before := runtime.NumGoroutine()
	fakes := make([]transport.NodeInfo, 5000)
	for i := range fakes {
		fakes[i] = transport.NodeInfo{Name: fmt.Sprintf("fake-%d", i), Incarnation: uint64(i + 1), Addr: sink.LocalAddr().String()}
	}
	sess := liveSessions(m)
	require.Len(t, sess, 1)
	m.exec(func() { sess[0].queueMembers(fakes) })

	waitFor(t, 5*time.Second, "the list arrives", func() bool {
		_, learned := memberCounts(v)
		return learned > 0
	})
	peak := 0
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		peak = max(peak, runtime.NumGoroutine()-before)
	}
	all, learned := memberCounts(v)
	t.Logf("5000 members announced: %d tracked (%d unverified), peak %d extra goroutines", all, learned, peak)
	require.LessOrEqual(t, all, vcfg.MaxMembers)
	// Each dial in flight runs a few goroutines (ours, quic-go's).
	require.Less(t, peak, 20*maxLearnDials, "goroutines while dialling the announced members")
	require.Equal(t, []transport.NodeInfo{m.Self()}, v.Members(), "an announced node is not a member")
	requireNoEvent(t, hv)
}

// TestUnverifiedMemberForgotten: a member named by a peer that never
// answers is dialled 1+learnRetries times, with backoff, then forgotten
// (not redialled for ReconnectFor).
func TestUnverifiedMemberForgotten(t *testing.T) {
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer sink.Close()
	vcfg := testConfig("victim")
	vcfg.HandshakeTimeout = 200 * time.Millisecond
	v := startNode(t, vcfg, newHandler())
	v.exec(func() {
		v.learn("test", []transport.NodeInfo{{Name: "ghost", Incarnation: 1, Addr: sink.LocalAddr().String()}})
	})
	all, learned := memberCounts(v)
	require.Equal(t, 1, all)
	require.Equal(t, 1, learned)
	waitFor(t, 10*time.Second, "ghost forgotten", func() bool {
		all, _ := memberCounts(v)
		return all == 0
	})
}
