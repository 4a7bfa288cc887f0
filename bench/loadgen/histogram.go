package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records latencies in fixed memory with a relative error under
// 1/128 (0.8%), in the manner of an HDR histogram: values below 128 ns get
// a bucket each, and every power-of-two range above that is split into 128
// linear sub-buckets. Values beyond 2^40 ns (about 18 minutes) are clamped.
// It is not safe for concurrent use: each worker keeps its own and they
// are merged at the end.
type Histogram struct {
	counts [numBuckets]uint64
	total  uint64
	max    uint64
}

const (
	subBits    = 7
	subCount   = 1 << subBits // sub-buckets per power of two
	maxExp     = 40 - subBits - 1
	numBuckets = subCount + (maxExp+1)*subCount
	maxValue   = 1<<40 - 1
)

func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	if v > maxValue {
		v = maxValue
	}
	e := bits.Len64(v) - subBits - 1 // v >> e is in [128, 256)
	return subCount + e*subCount + int(v>>e) - subCount
}

// bucketRange is the smallest and largest value bucket i holds.
func bucketRange(i int) (lo, hi uint64) {
	if i < subCount {
		return uint64(i), uint64(i)
	}
	e := uint((i - subCount) / subCount)
	m := uint64(subCount + (i-subCount)%subCount)
	return m << e, (m+1)<<e - 1
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)]++
	h.total++
	h.max = max(h.max, v)
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest value recorded (exact).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Quantile returns the value at quantile q (0 < q <= 1): the midpoint of
// the bucket holding the ceil(q*n)-th smallest value, never above Max.
// It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			return time.Duration(min(lo+(hi-lo)/2, h.max))
		}
	}
	return time.Duration(h.max)
}
