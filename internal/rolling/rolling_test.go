package rolling

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunBoundsParallelismAndReportsAll(t *testing.T) {
	var inFlight, most atomic.Int32
	var reported []int
	notStarted := Run(context.Background(), []int{1, 2, 3, 4, 5, 6, 7}, 3, false,
		func(_ context.Context, x int) (int, error) {
			k := inFlight.Add(1)
			for {
				m := most.Load()
				if k <= m || most.CompareAndSwap(m, k) {
					break
				}
			}
			inFlight.Add(-1)
			return 10 * x, nil
		},
		func(x, r int, err error) {
			require.NoError(t, err)
			require.Equal(t, 10*x, r)
			reported = append(reported, x)
		})
	require.Zero(t, notStarted)
	require.ElementsMatch(t, []int{1, 2, 3, 4, 5, 6, 7}, reported)
	require.LessOrEqual(t, most.Load(), int32(3))
}

func TestRunStopsAtTheFirstFailureUnlessToldToGoOn(t *testing.T) {
	boom := errors.New("boom")
	do := func(_ context.Context, x int) (int, error) {
		if x == 2 {
			return 0, boom
		}
		return x, nil
	}
	var got []int
	notStarted := Run(context.Background(), []int{1, 2, 3, 4}, 1, false, do, func(x, _ int, _ error) { got = append(got, x) })
	require.Equal(t, []int{1, 2}, got)
	require.Equal(t, 2, notStarted)

	got = nil
	notStarted = Run(context.Background(), []int{1, 2, 3, 4}, 1, true, do, func(x, _ int, _ error) { got = append(got, x) })
	require.Equal(t, []int{1, 2, 3, 4}, got)
	require.Zero(t, notStarted)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.Equal(t, 4, Run(ctx, []int{1, 2, 3, 4}, 2, true, do, func(int, int, error) {}))
}
