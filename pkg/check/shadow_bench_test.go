package check_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/pkg/check"
)

// withTenants adds a wildcard origin to public-api, for requests with
// never-repeating allowed origins.
func withTenants(yaml string) string {
	return strings.Replace(yaml, "allow_origins: [https://", "allow_origins: [https://*.tenant.example.com, https://", 1)
}

// BenchmarkCheckShadow measures what a shadow policy adds to the
// in-process Check (compare with BenchmarkCheck):
//
//	hit_noshadow  cache hit, no shadow policy: the baseline
//	hit           cache hit, the shadow agrees (its outcome comes from the
//	              cache entry's memo after classifying under the shadow)
//	hit_disagree  cache hit, the shadow disagrees (counted, log sampled out)
//	miss          an allowed origin never seen before, decided under both
//	              (miss_noshadow: without a shadow policy)
//	denied        an origin both refuse (never cached: decided under both;
//	              denied_noshadow: without a shadow policy)
//	hit_ratio     hit and hit_noshadow interleaved in batches of 1,000
//	              Checks; reports the ratio of their fastest batches
//	              ("shadow/plain"), which a busy machine disturbs less than
//	              two separate runs
//	hit_ratio_rerouted  the same with a candidate that routes requests
//	              differently (adds a class), so hits classify under it
//	hit_ratio_rerouted_hint  the same for a route that names its class
//	              (cors_class), which needs no classification
//
// The target is hit / hit_noshadow < 1.3.
func BenchmarkCheckShadow(b *testing.B) {
	ctx := context.Background()
	enforced, candidate := withTenants(shadowEnforcedYAML), withTenants(shadowCandidateYAML)
	repeat := func(name, shadowYAML string, req *authv3.CheckRequest) {
		b.Run(name, func(b *testing.B) {
			s := check.New(check.Options{CacheSize: check.DefaultCacheSize, ShadowLogRate: 1e-9})
			s.SetPolicy(parsePolicy(b, "enforced.yaml", enforced))
			if shadowYAML != "" {
				s.SetShadow(parsePolicy(b, "shadow.yaml", shadowYAML))
			}
			for range 3 { // fill the cache, promote the entry, log the one sampled record
				_, _ = s.Check(ctx, req)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				_, _ = s.Check(ctx, req)
			}
		})
	}
	agreed := checktest.Request("GET", "/api/v1/items", "https://b.example.org")
	repeat("hit_noshadow", "", agreed)
	repeat("hit", candidate, agreed)
	repeat("hit_disagree", candidate, checktest.Request("GET", "/api/v1/items", "https://a.example.org"))
	repeat("denied_noshadow", "", checktest.Request("GET", "/api/v1/items", "https://evil.example"))
	repeat("denied", candidate, checktest.Request("GET", "/api/v1/items", "https://evil.example"))
	ratio := func(name, shadowYAML string, agreed *authv3.CheckRequest) {
		b.Run(name, func(b *testing.B) {
			const batch = 1000
			var svcs [2]*check.Service
			for i, y := range []string{"", shadowYAML} {
				svcs[i] = check.New(check.Options{CacheSize: check.DefaultCacheSize})
				svcs[i].SetPolicy(parsePolicy(b, "enforced.yaml", enforced))
				if y != "" {
					svcs[i].SetShadow(parsePolicy(b, "shadow.yaml", y))
				}
				for range 3 {
					_, _ = svcs[i].Check(ctx, agreed)
				}
			}
			best := [2]time.Duration{time.Hour, time.Hour}
			b.ResetTimer()
			for n := 0; n < b.N; n += batch {
				for i, s := range svcs {
					start := time.Now()
					for range batch {
						_, _ = s.Check(ctx, agreed)
					}
					best[i] = min(best[i], time.Since(start))
				}
			}
			b.ReportMetric(float64(best[1])/float64(best[0]), "shadow/plain")
			b.ReportMetric(float64(best[0].Nanoseconds())/batch, "plain-ns/check")
			b.ReportMetric(float64(best[1].Nanoseconds())/batch, "shadow-ns/check")
		})
	}
	ratio("hit_ratio", candidate, agreed)
	// A candidate that adds a class: the hit classifies under the shadow,
	// unless the route names its class.
	rerouted := strings.Replace(candidate, "classes:\n", "classes:\n  - name: api-v2\n    match: {path_prefixes: [/api/v2/]}\n", 1)
	ratio("hit_ratio_rerouted", rerouted, agreed)
	ratio("hit_ratio_rerouted_hint", rerouted, checktest.Request("GET", "/api/v1/items", "https://b.example.org", checktest.Class("public-api")))
	miss := func(name, shadowYAML string) {
		b.Run(name, func(b *testing.B) {
			s := check.New(check.Options{CacheSize: check.DefaultCacheSize})
			s.SetPolicy(parsePolicy(b, "enforced.yaml", enforced))
			if shadowYAML != "" {
				s.SetShadow(parsePolicy(b, "shadow.yaml", shadowYAML))
			}
			origins := make([]string, b.N)
			for i := range origins {
				origins[i] = fmt.Sprintf("https://u%d.tenant.example.com", i)
			}
			req := checktest.Request("GET", "/api/v1/items", "https://x.tenant.example.com")
			hdrs := req.Attributes.Request.Http.Headers
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				hdrs["origin"] = origins[i]
				_, _ = s.Check(ctx, req)
			}
		})
	}
	miss("miss_noshadow", "")
	miss("miss", candidate)
}
