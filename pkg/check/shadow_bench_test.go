package check_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

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
//	denied        an origin both refuse (never cached: decided under both)
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
	repeat("denied", candidate, checktest.Request("GET", "/api/v1/items", "https://evil.example"))
	b.Run("miss", func(b *testing.B) {
		s := check.New(check.Options{CacheSize: check.DefaultCacheSize})
		s.SetPolicy(parsePolicy(b, "enforced.yaml", enforced))
		s.SetShadow(parsePolicy(b, "shadow.yaml", candidate))
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
