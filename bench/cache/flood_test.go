package cache

import (
	"context"
	"fmt"
	"testing"

	"github.com/cors-authz/cors-authz/bench/baseline"
	"github.com/cors-authz/cors-authz/bench/fixture"
	"github.com/cors-authz/cors-authz/pkg/check"
)

// Workload sizes: the default cache, 100 hot origins, and up to 500,000
// never-repeating ones (50 times the cache, so it churns many times over).
const (
	hotOrigins = 100
	maxFlood   = 500_000
)

// BenchmarkFlood reports ns per Check under the hot-set-plus-flood load,
// the hot origins' hit rate, the cache's entries and the heap the service
// holds at the end.
func BenchmarkFlood(b *testing.B) {
	f, err := NewFlood(check.DefaultCacheSize, hotOrigins, maxFlood)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ok, err := f.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if !ok {
			b.Fatalf("ran out of never-repeating origins after %d requests: raise maxFlood or lower -benchtime", f.i)
		}
	}
	b.StopTimer()
	s, err := f.Stats()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(100*s.HotHitRate, "hot-hit-%")
	b.ReportMetric(100*s.HitRate, "hit-%")
	b.ReportMetric(float64(s.Entries), "entries")
	b.ReportMetric(float64(s.HeldHeap)/(1<<20), "heap-MiB")
}

// BenchmarkCheck is one allowed actual request through the in-process
// Check: hit (the same origin again), miss (a new origin each time, cache
// churning) and nocache (the cache disabled).
func BenchmarkCheck(b *testing.B) {
	for _, tc := range []struct {
		name      string
		cacheSize int
		distinct  int
	}{
		{"hit", check.DefaultCacheSize, 1},
		{"miss", 256, 4096},
		{"nocache", 0, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := baseline.CheckService(tc.cacheSize)
			if err != nil {
				b.Fatal(err)
			}
			c := fixture.Cases[0]
			req, ctx := fixture.CheckRequest(c, 1), context.Background()
			hdrs := req.GetAttributes().GetRequest().GetHttp().GetHeaders()
			origins := baseline.MissOrigins(c, tc.distinct)
			hdrs["origin"] = origins[0]
			if _, err := s.Check(ctx, req); err != nil {
				b.Fatal(err)
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				hdrs["origin"] = origins[i%len(origins)]
				i++
				_, _ = s.Check(ctx, req)
			}
		})
	}
}

// TestFlood checks the workload is what it claims: every request is an
// allowed verdict, cold origins never hit, and the counters add up.
func TestFlood(t *testing.T) {
	const cold = 5000
	f, err := NewFlood(1000, 20, cold)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 * cold {
		if ok, err := f.Next(ctx); err != nil || !ok {
			t.Fatalf("Next = %t, %v before the cold origins ran out", ok, err)
		}
	}
	if ok, _ := f.Next(ctx); !ok { // a hot request still goes through
		t.Fatal("no hot request after the last cold one")
	}
	if ok, _ := f.Next(ctx); ok {
		t.Fatal("Next kept going after the cold origins ran out")
	}
	s, err := f.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", s)
	if s.Requests != 2*cold+1 {
		t.Errorf("requests %d, want %d", s.Requests, 2*cold+1)
	}
	if s.Hits+s.Misses != s.Requests {
		t.Errorf("hits %d + misses %d != requests %d", s.Hits, s.Misses, s.Requests)
	}
	if s.Hits > s.HotRequests {
		t.Errorf("hits %d exceed hot requests %d: a never-repeating origin hit", s.Hits, s.HotRequests)
	}
	if s.Entries == 0 || s.Entries > 1000 {
		t.Errorf("entries %d, want 1..1000", s.Entries)
	}
	if s.HeldHeap == 0 {
		t.Error("no heap measured")
	}
}

func ExampleFlood() {
	f, err := NewFlood(100, 10, 50)
	if err != nil {
		panic(err)
	}
	for range 100 {
		if ok, err := f.Next(context.Background()); err != nil || !ok {
			break
		}
	}
	s, _ := f.Stats()
	fmt.Println(s.Requests, s.Hits+s.Misses == s.Requests)
	// Output: 100 true
}
