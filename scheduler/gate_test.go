package scheduler

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExtractKeepsBothSidesInOrder(t *testing.T) {
	var m Mailbox[int]
	// Wrap the ring first so extraction crosses its end.
	for i := range 12 {
		m.Push(1000 + i)
	}
	require.Len(t, m.Drain(nil, 12), 12)
	for i := 1; i <= 10; i++ {
		m.Push(i)
		if i%3 == 0 {
			m.PushSystem(-i)
		}
	}
	even := func(p *int) bool { return *p%2 == 0 }
	sys, user := m.Extract(even)
	require.Equal(t, []int{-6}, sys)
	require.Equal(t, []int{2, 4, 6, 8, 10}, user)
	require.Equal(t, 7, m.Len())
	require.Equal(t, []int{-3, -9, 1, 3, 5, 7, 9}, m.Drain(nil, 100))
	sys, user = m.Extract(even)
	require.Empty(t, sys)
	require.Empty(t, user)
	m.Push(11)
	require.Equal(t, []int{11}, m.Drain(nil, 10), "the ring works after extraction")
}

func TestPushIfRefusesOnceTheGateMoved(t *testing.T) {
	var m Mailbox[int]
	var gate atomic.Uint32
	require.True(t, m.PushIf(1, false, &gate, 0))
	require.True(t, m.PushIf(2, true, &gate, 0))
	gate.Store(1)
	require.False(t, m.PushIf(3, false, &gate, 0))
	require.Equal(t, []int{2, 1}, m.Drain(nil, 10))
}

// A hammer: producers push through the gate and fall back to a side list
// when refused; the consumer closes the gate and extracts. Every message
// ends up exactly once, each producer's in order.
func TestGateAndExtractLoseNothing(t *testing.T) {
	const producers, per = 4, 2000
	var (
		m    Mailbox[[2]int]
		gate atomic.Uint32
		mu   sync.Mutex
		side [][2]int
		wg   sync.WaitGroup
	)
	for p := range producers {
		wg.Go(func() {
			for i := range per {
				v := [2]int{p, i}
				if !m.PushIf(v, false, &gate, 0) {
					mu.Lock()
					side = append(side, v)
					mu.Unlock()
				}
			}
		})
	}
	var got [][2]int
	for len(got) < producers*per/4 {
		got = m.Drain(got, 64)
	}
	gate.Store(1)
	_, rest := m.Extract(func(*[2]int) bool { return true })
	got = append(got, rest...)
	wg.Wait()
	got = append(got, side...)
	require.Len(t, got, producers*per)
	next := make([]int, producers)
	for _, v := range got {
		require.Equal(t, next[v[0]], v[1], "producer %d in order", v[0])
		next[v[0]]++
	}
}
