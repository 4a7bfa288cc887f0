package loadgen

import (
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	// Every value lies in its bucket; values below 128 ns have exact buckets,
	// larger ones buckets at most 1/128 of their lower bound wide.
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 12345, 1 << 20, 3<<30 + 7, maxValue} {
		lo, hi := bucketRange(bucketOf(v))
		if v < lo || v > hi {
			t.Errorf("value %d in bucket [%d, %d]", v, lo, hi)
		}
		if lo >= subCount && float64(hi-lo+1)/float64(lo) > 1.0/128+1e-9 {
			t.Errorf("bucket [%d, %d] wider than 1/128 of its value", lo, hi)
		}
	}
	if got := bucketOf(maxValue + 1000); got != numBuckets-1 {
		t.Errorf("bucketOf(beyond max) = %d, want the last bucket %d", got, numBuckets-1)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	tests := []struct {
		name   string
		values func(record func(time.Duration))
		q      float64
		want   time.Duration
	}{
		{"empty", func(func(time.Duration)) {}, 0.5, 0},
		{"single", func(r func(time.Duration)) { r(100 * time.Microsecond) }, 0.99, 100 * time.Microsecond},
		{"uniform p50", uniform, 0.50, 500 * time.Microsecond},
		{"uniform p90", uniform, 0.90, 900 * time.Microsecond},
		{"uniform p99", uniform, 0.99, 990 * time.Microsecond},
		{"uniform p99.9", uniform, 0.999, 999 * time.Microsecond},
		{"tail p99", func(r func(time.Duration)) {
			for range 990 {
				r(50 * time.Microsecond)
			}
			for range 10 {
				r(20 * time.Millisecond)
			}
		}, 0.99, 50 * time.Microsecond},
		{"tail p99.9", func(r func(time.Duration)) {
			for range 990 {
				r(50 * time.Microsecond)
			}
			for range 10 {
				r(20 * time.Millisecond)
			}
		}, 0.999, 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			tt.values(h.Record)
			got := h.Quantile(tt.q)
			if diff := float64(got-tt.want) / float64(max(tt.want, 1)); diff > 0.01 || diff < -0.01 {
				t.Errorf("Quantile(%v) = %v, want %v ±1%%", tt.q, got, tt.want)
			}
		})
	}
}

// uniform records 1µs, 2µs, ..., 1000µs.
func uniform(r func(time.Duration)) {
	for i := 1; i <= 1000; i++ {
		r(time.Duration(i) * time.Microsecond)
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b Histogram
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	b.Record(2 * time.Millisecond)
	a.Merge(&b)
	if a.Count() != 3 || a.Max() != 3*time.Millisecond {
		t.Fatalf("merged count %d max %v, want 3 and 3ms", a.Count(), a.Max())
	}
	if got := a.Quantile(0.5); got < 1990*time.Microsecond || got > 2010*time.Microsecond {
		t.Errorf("merged median %v, want 2ms", got)
	}
}
