package check

import (
	"testing"
	"time"
)

// The sampler's clock is an argument, so its behaviour is checked on a
// synthetic timeline.
func TestSampler(t *testing.T) {
	const sec = int64(time.Second)
	tests := []struct {
		name  string
		rate  float64
		at    []int64 // event times
		allow []bool
	}{
		{"off", 0, []int64{0, sec, 10 * sec}, []bool{false, false, false}},
		{"NaN is off", nanRate(), []int64{0}, []bool{false}},
		{"1/s: one per second", 1, []int64{0, 1, sec / 2, sec, sec + 1, 3 * sec}, []bool{true, false, false, true, false, true}},
		{"2/s: burst of 2, then one per half second", 2, []int64{0, 1, 2, sec / 2, sec/2 + 1}, []bool{true, true, false, true, false}},
		{"idle time does not build a burst beyond the limit", 1, []int64{100 * sec, 100*sec + 1, 100*sec + 2}, []bool{true, false, false}},
		{"0.5/s: one per two seconds", 0.5, []int64{0, sec, 2 * sec}, []bool{true, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newSampler(tt.rate)
			var refused uint64
			for i, now := range tt.at {
				got := l != nil && l.allow(now)
				if got != tt.allow[i] {
					t.Fatalf("event %d at %v: allow = %v, want %v", i, time.Duration(now), got, tt.allow[i])
				}
				if !got {
					refused++
				}
			}
			if l != nil {
				if got := l.takeSuppressed(); got != refused {
					t.Errorf("suppressed = %d, want %d", got, refused)
				}
				if got := l.takeSuppressed(); got != 0 {
					t.Errorf("suppressed after take = %d, want 0", got)
				}
			}
		})
	}
}

func nanRate() float64 {
	zero := 0.0
	return zero / zero
}
