package check

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/internal/race"
	"github.com/cors-authz/cors-authz/pkg/policy"
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

// A cache hit stays allocation-free with a shadow policy, whether the
// shadow agrees or not, and whether it routes alike or not.
func TestShadowHitAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts differ under the race detector")
	}
	const enforced = `version: 1
classes:
  - name: api
    match: {path_prefixes: [/api/]}
    allow_origins: [https://a.example.org, https://b.example.org]
  - name: internal
    match: {path_prefixes: [/]}
`
	candidates := map[string]string{
		"same routing":       strings.Replace(enforced, "https://a.example.org, ", "", 1),
		"rerouted":           strings.Replace(enforced, "classes:\n", "classes:\n  - name: v2\n    match: {path_prefixes: [/api/v2/]}\n", 1),
		"other self origins": strings.Replace(enforced, "classes:\n", "self_origins: [https://app.example.com]\nclasses:\n", 1),
	}
	ctx := context.Background()
	for name, candidate := range candidates {
		s := New(Options{CacheSize: DefaultCacheSize, ShadowLogRate: 1e-9})
		s.SetPolicy(mustParse(t, enforced))
		s.SetShadow(mustParse(t, candidate))
		for _, origin := range []string{"https://a.example.org", "https://b.example.org"} {
			req := checktest.Request("GET", "/api/v1/x", origin)
			for range 3 {
				_, _ = s.Check(ctx, req)
			}
			if n := testing.AllocsPerRun(100, func() { _, _ = s.Check(ctx, req) }); n != 0 {
				t.Errorf("%s, %s: %v allocs per Check, want 0", name, origin, n)
			}
		}
	}
}

func mustParse(t *testing.T, yaml string) *policy.Policy {
	t.Helper()
	p, _, err := policy.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
