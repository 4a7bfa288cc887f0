package scale

import (
	"fmt"
	"testing"
	"time"

	"github.com/cors-authz/cors-authz/bench/baseline"
	"github.com/cors-authz/cors-authz/bench/fixture"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// BenchmarkScale reports, per size: Compile (ns/op is one policy.Parse of
// the whole file, i.e. a reload's parse and compile; heap-MiB is what the
// compiled policy holds) and Decide/<case> for the four fixture cases plus
// an origin allowed through one of the 1,000 wildcard patterns.
func BenchmarkScale(b *testing.B) {
	for _, n := range Sizes {
		data := PolicyYAML(n)
		b.Run(fmt.Sprintf("exact=%d", n), func(b *testing.B) {
			b.Run("Compile", func(b *testing.B) {
				_, held, err := HeldHeap(data)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := policy.Parse("scale.yaml", data); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(held)/(1<<20), "heap-MiB")
				b.ReportMetric(float64(len(data))/(1<<20), "file-MiB")
			})
			p, _, err := policy.Parse("scale.yaml", data)
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range scaleCases() {
				b.Run("Decide/"+c.Name, func(b *testing.B) {
					r := baseline.PolicyRequest(c)
					b.ReportAllocs()
					for b.Loop() {
						sink = p.Decide(&r)
					}
				})
			}
		})
	}
}

var sink policy.Verdict

// scaleCases are the fixture's four cases plus an actual request allowed
// by a wildcard pattern.
func scaleCases() []fixture.Case {
	cs := append([]fixture.Case(nil), fixture.Cases...)
	w := fixture.Cases[0]
	w.Name, w.Origin = "wildcard_actual", fixture.WildcardMatch
	return append(cs, w)
}

// TestScaledPolicies checks that the scaled policies compile and decide
// every case as the benchmark names it, at a small and at the largest size
// (the largest shows the generated allowlist is valid, which a benchmark
// would otherwise only discover by failing).
func TestScaledPolicies(t *testing.T) {
	for _, n := range []int{10, Sizes[len(Sizes)-1]} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			if n > 1000 && testing.Short() {
				t.Skip("large policy skipped with -short")
			}
			start := time.Now()
			p, held, err := HeldHeap(PolicyYAML(n))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d exact origins + %d wildcards: parse+compile %v, heap held %.1f MiB", n, Wildcards, time.Since(start), float64(held)/(1<<20))
			if got := len(p.Spec().Classes[0].AllowOrigins); got != n+Wildcards {
				t.Errorf("compiled %d allow_origins, want %d", got, n+Wildcards)
			}
			for _, c := range scaleCases() {
				r := baseline.PolicyRequest(c)
				if v := p.Decide(&r); v.Allowed != c.Allowed {
					t.Errorf("%s: Allowed = %t (%s), want %t", c.Name, v.Allowed, v.ReasonText(), c.Allowed)
				}
			}
		})
	}
}
