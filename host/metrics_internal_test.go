package host

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// The per-turn size histogram puts every size in the bucket a
// prometheus.Histogram with the same bounds would, and exposes the same
// cumulative counts, count and sum.
func TestSizeHistogramMatchesPrometheus(t *testing.T) {
	ref := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ref", Buckets: prometheus.ExponentialBuckets(16, 4, 9)})
	h := newSizeHistogram()
	var tally sizeTally
	sizes := []int{0, 1, 15, 16, 17, 63, 64, 65, 255, 256, 257, 1023, 1024, 1025, 1 << 20, 1<<20 + 1, 8 << 20}
	for i, s := range sizes {
		tally.observe(s)
		ref.Observe(float64(s))
		if i%5 == 4 {
			h.add(&tally) // several turns
		}
	}
	h.add(&tally)
	var want dto.Metric
	require.NoError(t, ref.Write(&want))
	ch := make(chan prometheus.Metric, 1)
	h.Collect(ch)
	var got dto.Metric
	require.NoError(t, (<-ch).Write(&got))
	require.Equal(t, want.Histogram.GetSampleCount(), got.Histogram.GetSampleCount())
	require.Equal(t, want.Histogram.GetSampleSum(), got.Histogram.GetSampleSum())
	require.Len(t, got.Histogram.Bucket, len(want.Histogram.Bucket))
	for i, b := range want.Histogram.Bucket {
		require.Equal(t, b.GetUpperBound(), got.Histogram.Bucket[i].GetUpperBound())
		require.Equal(t, b.GetCumulativeCount(), got.Histogram.Bucket[i].GetCumulativeCount(), "bucket ≤ %v", b.GetUpperBound())
	}
}
