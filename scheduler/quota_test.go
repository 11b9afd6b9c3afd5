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

func TestQuotaBytes(t *testing.T) {
	var q Quota
	q.InitBytes(10, 100)
	require.Equal(t, 10, q.Max())
	require.Equal(t, 100, q.MaxBytes())
	require.NoError(t, q.TakeBytes(60))
	require.NoError(t, q.TakeBytes(40))
	require.ErrorIs(t, q.TakeBytes(1), wasmactor.ErrMailboxFull, "the bytes are the bound")
	require.NoError(t, q.Take(), "a message of no size still fits")
	require.Equal(t, 3, q.Outstanding())
	require.Equal(t, 100, q.OutstandingBytes())
	q.GiveBytes(2, 100)
	require.NoError(t, q.TakeBytes(100))
	q.GiveBytes(2, 100)
	require.Zero(t, q.Outstanding())
	require.Zero(t, q.OutstandingBytes())

	// A message over the bound goes only into an empty mailbox.
	require.NoError(t, q.TakeBytes(500))
	require.ErrorIs(t, q.TakeBytes(0), wasmactor.ErrMailboxFull)
	q.GiveBytes(1, 500)
	require.NoError(t, q.TakeBytes(1))
	require.ErrorIs(t, q.TakeBytes(500), wasmactor.ErrMailboxFull)
	q.GiveBytes(1, 1)
	require.PanicsWithValue(t, "scheduler: Quota.Give returned more than was taken", func() { q.GiveBytes(1, 0) })
}

func TestQuotaBoundsValidated(t *testing.T) {
	var q Quota
	require.Panics(t, func() { q.Init(MaxQuotaMessages + 1) })
	require.Panics(t, func() { q.InitBytes(1, 0) })
	require.Panics(t, func() { q.InitBytes(1, MaxQuotaBytes+1) })
	q.InitBytes(MaxQuotaMessages, MaxQuotaBytes)
	require.NoError(t, q.TakeBytes(MaxQuotaBytes))
	require.ErrorIs(t, q.TakeBytes(1), wasmactor.ErrMailboxFull)
}

// TestQuotaBytesHammer: concurrent takers never hold more than the byte
// bound (no message is over it), and everything comes back.
func TestQuotaBytesHammer(t *testing.T) {
	const maxBytes = 1000
	var q Quota
	q.InitBytes(1000, maxBytes)
	var held, peak atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			size := 10 * (g + 1)
			for range 20000 {
				if q.TakeBytes(size) != nil {
					continue
				}
				n := held.Add(int64(size))
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				held.Add(-int64(size))
				q.GiveBytes(1, size)
			}
		})
	}
	wg.Wait()
	require.LessOrEqual(t, peak.Load(), int64(maxBytes))
	require.Zero(t, q.Outstanding())
	require.Zero(t, q.OutstandingBytes())
}
