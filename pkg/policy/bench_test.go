package policy_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// scalePolicy has n exact origins and w wildcard patterns in one class,
// plus the partner origin the benchmarks request.
func scalePolicy(n, w int) string {
	var b strings.Builder
	b.WriteString("version: 1\nclasses:\n  - name: api\n    match: {path_prefixes: [/api/]}\n    allow_origins:\n")
	for i := 0; i < n-1; i++ {
		fmt.Fprintf(&b, "      - https://site%d.example.net\n", i)
	}
	b.WriteString("      - https://partner.example.org\n")
	for i := 0; i < w; i++ {
		fmt.Fprintf(&b, "      - https://*.tenant%d.example.com\n", i)
	}
	b.WriteString("    allow_methods: [GET, POST, PUT, DELETE]\n    allow_headers: [Authorization, Content-Type, X-Request-Id]\n")
	b.WriteString("    expose_headers: [X-Request-Id]\n    allow_credentials: true\n    max_age: 600\n")
	return b.String()
}

// benchDecideCase is one request of the decision benchmarks.
type benchDecideCase struct {
	name string
	r    policy.Request
}

// decideCases are the four cases of issue 2: an allowed and a disallowed
// actual request (the allowed one from origin), an allowed and a rejected
// preflight (the allowed one from partner).
func decideCases(origin string) []benchDecideCase {
	return []benchDecideCase{
		{"allowed-actual", policy.Request{Method: "GET", Scheme: "https", Host: "api.example.com", Path: "/api/users", Origin: origin, HasOrigin: true}},
		{"disallowed-actual", policy.Request{Method: "GET", Scheme: "https", Host: "api.example.com", Path: "/api/users", Origin: "https://evil.example.net", HasOrigin: true}},
		{"allowed-preflight", policy.Request{Method: "OPTIONS", Scheme: "https", Host: "api.example.com", Path: "/api/users", Origin: partner, HasOrigin: true, ACRM: "PUT", ACRH: "authorization,content-type"}},
		{"rejected-preflight", policy.Request{Method: "OPTIONS", Scheme: "https", Host: "api.example.com", Path: "/api/users", Origin: "https://evil.example.net", HasOrigin: true, ACRM: "PUT", ACRH: "authorization,content-type"}},
	}
}

// BenchmarkDecide measures the four cases of issue 2 at 10 and 100,000
// exact origins (plus 1,000 wildcard patterns). Compare the sizes' ns/op:
// the target is within 1.5x; allocs/op must be 0 everywhere.
func BenchmarkDecide(b *testing.B) {
	for _, size := range []struct{ exact, wild int }{{10, 1}, {100000, 1000}} {
		p := mustParse(b, scalePolicy(size.exact, size.wild))
		cases := decideCases(partner)
		for _, c := range cases {
			b.Run(fmt.Sprintf("origins=%d/%s", size.exact, c.name), func(b *testing.B) {
				r := c.r
				b.ReportAllocs()
				for b.Loop() {
					v := p.Decide(&r)
					if v.Status == 1 {
						b.Fatal("impossible")
					}
				}
			})
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		src := []byte(scalePolicy(n, 1000))
		b.Run(fmt.Sprintf("origins=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := policy.Parse("bench.yaml", src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
