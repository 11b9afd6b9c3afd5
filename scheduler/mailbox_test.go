package scheduler

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMailboxOrder(t *testing.T) {
	var m Mailbox[int]
	require.Zero(t, m.Len())
	require.Empty(t, m.Drain(nil, 10))

	m.Push(1)
	m.Push(2)
	m.PushSystem(100)
	m.Push(3)
	m.PushSystem(101)
	require.Equal(t, 5, m.Len())

	// System lane first, FIFO in each lane, max respected.
	require.Equal(t, []int{100, 101, 1}, m.Drain(nil, 3))
	require.Equal(t, 2, m.Len())
	// A system message pushed now still overtakes queued user messages.
	m.PushSystem(102)
	require.Equal(t, []int{7, 102, 2, 3}, m.Drain([]int{7}, 10), "Drain appends to dst")
	require.Zero(t, m.Len())
	require.Empty(t, m.Drain(nil, 0))
}

func TestMailboxMaxZero(t *testing.T) {
	var m Mailbox[string]
	m.Push("a")
	require.Empty(t, m.Drain(nil, 0))
	require.Empty(t, m.Drain(nil, -1))
	require.Equal(t, 1, m.Len())
}

// TestMailboxWrap exercises the ring across wrap-around, growth in the
// middle of a wrapped buffer, and the shrink after a large burst.
func TestMailboxWrap(t *testing.T) {
	var m Mailbox[int]
	next, want := 0, 0
	var buf []int
	for round := range 200 {
		pushes := 1 + round%37
		for range pushes {
			m.Push(next)
			next++
		}
		buf = m.Drain(buf[:0], 1+round%23)
		for _, v := range buf {
			require.Equal(t, want, v)
			want++
		}
	}
	for m.Len() > 0 {
		buf = m.Drain(buf[:0], 5)
		for _, v := range buf {
			require.Equal(t, want, v)
			want++
		}
	}
	require.Equal(t, next, want)

	// A burst larger than shrinkAbove is released once drained.
	for i := range shrinkAbove * 2 {
		m.Push(i)
	}
	buf = m.Drain(buf[:0], shrinkAbove*2)
	require.Len(t, buf, shrinkAbove*2)
	require.Nil(t, m.user.buf)
}

// TestMailboxClearsDrained makes sure drained slots no longer reference the
// messages, so a mailbox does not keep payloads alive.
func TestMailboxClearsDrained(t *testing.T) {
	var m Mailbox[*int]
	for i := range 10 {
		m.Push(&i)
	}
	m.Drain(nil, 10)
	for _, p := range m.user.buf {
		require.Nil(t, p)
	}
}

// TestMailboxHammer: many producers on both lanes, one consumer. Every
// message arrives exactly once and each producer's messages keep their order
// within their lane.
func TestMailboxHammer(t *testing.T) {
	type msg struct {
		producer, seq int
		system        bool
	}
	var m Mailbox[msg]
	const producers = 8
	const perProducer = 20000
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range perProducer {
				if i%10 == 0 {
					m.PushSystem(msg{p, i, true})
				} else {
					m.Push(msg{p, i, false})
				}
			}
		})
	}
	lastUser := make([]int, producers)
	lastSys := make([]int, producers)
	for i := range producers {
		lastUser[i], lastSys[i] = -1, -1
	}
	got := 0
	var buf []msg
	producersDone := make(chan struct{})
	go func() { wg.Wait(); close(producersDone) }()
	finished := false
	for !finished {
		select {
		case <-producersDone:
			finished = true // one more full drain below
		default:
		}
		for {
			buf = m.Drain(buf[:0], 64)
			if len(buf) == 0 {
				break
			}
			seenUser := false
			for _, v := range buf {
				// Within one batch, no system message after a user message.
				if v.system {
					require.False(t, seenUser, "system message drained after a user message in one batch")
					require.Greater(t, v.seq, lastSys[v.producer])
					lastSys[v.producer] = v.seq
				} else {
					seenUser = true
					require.Greater(t, v.seq, lastUser[v.producer])
					lastUser[v.producer] = v.seq
				}
				got++
			}
		}
	}
	require.Equal(t, producers*perProducer, got)
	require.Zero(t, m.Len())
}
