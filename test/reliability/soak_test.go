//go:build linux

package reliability

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/cors-authz/cors-authz/internal/race"
)

// soakEnv sets the sustained-load duration (`make soak` sets 5m).
const soakEnv = "CORS_AUTHZ_SOAK"

// TestSustainedLoad runs the mixed load at concurrency 64 over 4
// connections for CORS_AUTHZ_SOAK (10 s unless set) and samples the
// process's resident memory (/proc/PID/status VmRSS) and goroutine count
// (go_goroutines on /metrics). After a warm-up (the first quarter), the
// second half of the samples must not have grown past the first half's by
// more than a generous tolerance: a leak of memory or goroutines per
// request or per connection shows as steady growth, which 10 s at tens of
// thousands of calls per second already reveals. Zero errors, every answer
// byte-identical to the oracle's.
func TestSustainedLoad(t *testing.T) {
	dur := 10 * time.Second
	if v := os.Getenv(soakEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a positive duration such as 5m", soakEnv, v)
		}
		dur = d
	}
	const concurrency, conns = 64, 4

	path := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, path, policyA)
	p := startProc(t, "--config", path)
	var cs []*grpc.ClientConn
	for range conns {
		cs = append(cs, p.dial())
	}
	// Idle baseline: every connection up, no call in flight.
	warmup := startLoad(t, loadConfig{conns: cs, workers: conns, items: items(t, newService(t, policyA)), maxPerWorker: 1})
	if st := warmup.wait(); st.answered.Load() != conns {
		t.Fatalf("warm-up: %v", st)
	}
	idle := int(p.metrics().Value("go_goroutines"))
	l := startLoad(t, loadConfig{
		conns:        cs,
		workers:      concurrency,
		items:        items(t, newService(t, policyA)),
		maxPerWorker: int(dur.Seconds()+1) * 1_000_000, // far above any rate this machine reaches
	})

	interval := max(dur/40, 250*time.Millisecond)
	type sample struct {
		at         time.Duration
		rss        int64 // bytes
		goroutines int
		calls      int64
	}
	var samples []sample
	start := time.Now()
	for i := 0; time.Since(start) < dur && i < 1_000_000; i++ {
		time.Sleep(interval)
		rss, err := p.RSS()
		if err != nil {
			t.Fatalf("RSS: %v", err)
		}
		samples = append(samples, sample{
			at:         time.Since(start),
			rss:        rss,
			goroutines: int(p.metrics().Value("go_goroutines")),
			calls:      l.stats.calls.Load(),
		})
	}
	st := l.stop()
	elapsed := time.Since(start)
	// Once the load stops, the goroutines of its calls end: the count
	// returns to the idle baseline (a leak per call or per stream would
	// keep thousands).
	var after int
	waitFor(t, 10*time.Second, "goroutines back to the idle baseline", func() bool {
		after = int(p.metrics().Value("go_goroutines"))
		return after <= idle+2
	})
	p.stop(30 * time.Second)

	warm := len(samples) / 4
	if len(samples)-warm < 4 {
		t.Fatalf("%d samples: too few to compare", len(samples))
	}
	steady := samples[warm:]
	h1, h2 := steady[:len(steady)/2], steady[len(steady)/2:]
	rss := func(ss []sample) []int64 {
		var v []int64
		for _, s := range ss {
			v = append(v, s.rss)
		}
		return v
	}
	gor := func(ss []sample) []int64 {
		var v []int64
		for _, s := range ss {
			v = append(v, int64(s.goroutines))
		}
		return v
	}
	rate := float64(st.calls.Load()) / elapsed.Seconds()
	t.Logf("sustained load: %v at concurrency %d over %d connections (race=%v): %v; %.0f calls/s",
		elapsed.Round(time.Second), concurrency, conns, race.Enabled, st, rate)
	t.Logf("RSS MiB, warm-up %s | first half %s | second half %s", mib(rss(samples[:warm])), mib(rss(h1)), mib(rss(h2)))
	t.Logf("goroutines: idle %d before the load, %d after it; warm-up %v | first half %v | second half %v",
		idle, after, gor(samples[:warm]), gor(h1), gor(h2))

	if st.rpcErrors.Load() != 0 || st.mismatches.Load() != 0 {
		t.Errorf("want 0 RPC errors and 0 mismatches: %v", st)
	}
	// Medians resist a single GC-timed outlier. Tolerances: RSS may rise
	// 25% + 16 MiB (the heap target moves with GC pacing); the goroutine
	// count swings with the calls in flight (one server goroutine per
	// stream, up to the concurrency), so its maximum may rise by that
	// much; the idle check above is the exact one.
	m1, m2 := median(rss(h1)), median(rss(h2))
	if m2 > m1+m1/4+16<<20 {
		t.Errorf("RSS grew after warm-up: median %s MiB in the first half, %s MiB in the second", mib([]int64{m1}), mib([]int64{m2}))
	}
	g1, g2 := slices.Max(gor(h1)), slices.Max(gor(h2))
	if g2 > g1+concurrency {
		t.Errorf("goroutines grew after warm-up: max %d in the first half, %d in the second", g1, g2)
	}
}

func median(v []int64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func mib(v []int64) string {
	var parts []string
	for _, b := range v {
		parts = append(parts, strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64))
	}
	return "[" + strings.Join(parts, " ") + "]"
}
