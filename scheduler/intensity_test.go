package scheduler

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmactor/wasmactor"
)

func TestIntensity(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		reason string
		at     time.Duration
		want   bool
	}
	abnormal := "trap: unreachable"
	tests := []struct {
		name    string
		restart wasmactor.Restart
		steps   []step
	}{
		{
			name:    "temporary never restarts",
			restart: wasmactor.Restart{Policy: wasmactor.Temporary},
			steps: []step{
				{abnormal, 0, false},
				{wasmactor.ReasonNormal, time.Second, false},
				{wasmactor.ReasonKilled, time.Hour, false},
			},
		},
		{
			name:    "transient restarts only on abnormal reasons",
			restart: wasmactor.Restart{Policy: wasmactor.Transient},
			steps: []step{
				{wasmactor.ReasonNormal, 0, false},
				{wasmactor.ReasonShutdown, 0, false},
				{abnormal, 0, true},
				{wasmactor.ReasonKilled, time.Second, true},
				{wasmactor.ReasonNoConnection, 2 * time.Second, true},
				// Normal stops are not restarts and do not count.
				{wasmactor.ReasonNormal, 3 * time.Second, false},
				// A 4th abnormal stop within 5s exceeds the default intensity.
				{abnormal, 4 * time.Second, false},
				// Given up for good, even much later.
				{abnormal, time.Hour, false},
			},
		},
		{
			name:    "permanent always restarts within intensity",
			restart: wasmactor.Restart{Policy: wasmactor.Permanent},
			steps: []step{
				{wasmactor.ReasonNormal, 0, true},
				{wasmactor.ReasonShutdown, time.Second, true},
				{abnormal, 2 * time.Second, true},
				{abnormal, 3 * time.Second, false},
				{wasmactor.ReasonNormal, time.Hour, false},
			},
		},
		{
			name:    "sliding window forgets old restarts",
			restart: wasmactor.Restart{Policy: wasmactor.Permanent, MaxRestarts: 2, Period: 10 * time.Second},
			steps: []step{
				{abnormal, 0, true},
				{abnormal, 5 * time.Second, true},
				// The restart at 0 is exactly one period old: out of the window.
				{abnormal, 10 * time.Second, true},
				{abnormal, 16 * time.Second, true},  // window (6s,16s]: 10s, 16s
				{abnormal, 19 * time.Second, false}, // 10s, 16s, 19s: 3 > 2
			},
		},
		{
			name:    "spread out restarts go on forever",
			restart: wasmactor.Restart{Policy: wasmactor.Permanent, MaxRestarts: 1, Period: time.Second},
			steps: []step{
				{abnormal, 0, true},
				{abnormal, time.Second, true},
				{abnormal, 2 * time.Second, true},
				{abnormal, 3 * time.Second, true},
				{abnormal, 3*time.Second + time.Millisecond, false},
			},
		},
		{
			name:    "negative max restarts allows none",
			restart: wasmactor.Restart{Policy: wasmactor.Permanent, MaxRestarts: -1},
			steps: []step{
				{abnormal, 0, false},
				{abnormal, time.Hour, false},
			},
		},
		{
			name:    "unknown policy fails safe",
			restart: wasmactor.Restart{Policy: 42},
			steps:   []step{{abnormal, 0, false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := NewIntensity(tt.restart)
			for i, s := range tt.steps {
				require.Equal(t, s.want, in.ShouldRestart(s.reason, at(s.at)), "step %d: %q at %v", i, s.reason, s.at)
			}
		})
	}
}

func TestIntensityDefaults(t *testing.T) {
	in := NewIntensity(wasmactor.Restart{Policy: wasmactor.Permanent})
	require.Equal(t, DefaultMaxRestarts, in.maxRestarts)
	require.Equal(t, DefaultPeriod, in.period)
	require.False(t, in.Exhausted())
	now := time.Unix(0, 0)
	for range DefaultMaxRestarts {
		require.True(t, in.ShouldRestart("trap", now))
	}
	require.False(t, in.ShouldRestart("trap", now.Add(DefaultPeriod-1)))
	require.True(t, in.Exhausted())
}

// TestIntensityConcurrent: concurrent stops at the same instant grant exactly
// MaxRestarts restarts.
func TestIntensityConcurrent(t *testing.T) {
	in := NewIntensity(wasmactor.Restart{Policy: wasmactor.Permanent, MaxRestarts: 10, Period: time.Minute})
	now := time.Unix(0, 0)
	var granted atomic.Int32
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if in.ShouldRestart("trap", now) {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 10, granted.Load())
	require.True(t, in.Exhausted())
}
