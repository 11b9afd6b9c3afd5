package scheduler

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
)

func TestQuota(t *testing.T) {
	q := NewQuota(3)
	require.Equal(t, 3, q.Max())
	for range 3 {
		require.NoError(t, q.Take())
	}
	err := q.Take()
	require.ErrorIs(t, err, wasmactor.ErrMailboxFull)
	require.Equal(t, 3, q.Outstanding())
	q.Give(2)
	require.NoError(t, q.Take())
	require.NoError(t, q.Take())
	require.ErrorIs(t, q.Take(), wasmactor.ErrMailboxFull)
	q.Give(0) // no-op
	q.Give(3)
	require.Zero(t, q.Outstanding())
	require.PanicsWithValue(t, "scheduler: Quota.Give returned more than was taken", func() { q.Give(1) })
}

func TestQuotaZeroValueRefuses(t *testing.T) {
	var q Quota
	require.ErrorIs(t, q.Take(), wasmactor.ErrMailboxFull)
}

func TestQuotaInitValidates(t *testing.T) {
	var q Quota
	require.Panics(t, func() { q.Init(0) })
	require.Panics(t, func() { q.Init(-5) })
	q.Init(1)
	require.NoError(t, q.Take())
}

// TestQuotaHammer: concurrent takers and givers never see more than max
// outstanding, and the count returns to zero.
func TestQuotaHammer(t *testing.T) {
	const max = 50
	q := NewQuota(max)
	var inFlight, peak atomic.Int64
	var full atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 20000 {
				if err := q.Take(); err != nil {
					if !errors.Is(err, wasmactor.ErrMailboxFull) {
						t.Errorf("unexpected error %v", err)
						return
					}
					full.Add(1)
					continue
				}
				n := inFlight.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				inFlight.Add(-1)
				q.Give(1)
			}
		})
	}
	wg.Wait()
	require.LessOrEqual(t, peak.Load(), int64(max))
	require.Zero(t, q.Outstanding())
}
