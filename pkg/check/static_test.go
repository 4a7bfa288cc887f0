package check

import (
	"context"
	"fmt"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// TestStaticResponsesAreShared: answers without request-derived content are
// built once per snapshot and class, whatever the origin.
func TestStaticResponsesAreShared(t *testing.T) {
	s, _ := newTestService(t, 100)
	cases := []struct {
		name string
		req  func(i int) reqSpec
	}{
		{"denied actual", func(i int) reqSpec { return get("/api/v1/x", "Origin", fmt.Sprintf("https://evil%d.example", i)) }},
		{"rejected actual", func(i int) reqSpec { return get("/strict/x", "Origin", fmt.Sprintf("https://evil%d.example", i)) }},
		{"refused preflight", func(i int) reqSpec {
			return options("/api/v1/x", "Origin", fmt.Sprintf("https://evil%d.example", i), "Access-Control-Request-Method", "PUT")
		}},
		{"not cors", func(i int) reqSpec { return get(fmt.Sprintf("/api/v1/%d", i)) }},
		{"same origin", func(i int) reqSpec { return get(fmt.Sprintf("/api/v1/%d", i), "Origin", "https://app.example.com") }},
		{"self_origin", func(i int) reqSpec { return get("/self/x", "Origin", fmt.Sprintf("https://evil%d.example", i)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var first *authv3.CheckResponse
			for i := range 50 {
				resp, err := s.Check(context.Background(), tc.req(i).build())
				if err != nil {
					t.Fatal(err)
				}
				assertResponse(t, resp)
				if first == nil {
					first = resp
				} else if resp != first {
					t.Fatalf("request %d got a newly built response", i)
				}
			}
		})
	}
	if n := s.cur.Load().cache.len(); n != 0 {
		t.Errorf("static answers entered the cache: %d entries", n)
	}
}

// TestStaticVariantsBounded: deny_action self_origin answers vary with the
// request's host; each is right, and at most maxStaticVariants are kept.
func TestStaticVariantsBounded(t *testing.T) {
	const n = maxStaticVariants + 4
	var b strings.Builder
	b.WriteString("version: 1\nself_origins:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - https://app%d.example.com\n", i)
	}
	b.WriteString("classes:\n  - name: selfish\n    match: {path_prefixes: [/]}\n    allow_origins: [https://partner.example.org]\n    deny_action: self_origin\n")
	s := New(Options{CacheSize: 100})
	s.SetPolicy(mustPolicy(t, b.String()))
	for round := range 2 {
		for i := range n {
			rs := get("/x", "Origin", "https://evil.example")
			rs.Host = fmt.Sprintf("app%d.example.com", i)
			resp, err := s.Check(context.Background(), rs.build())
			if err != nil {
				t.Fatal(err)
			}
			want := forward(fmt.Sprintf("access-control-allow-origin: https://app%d.example.com; vary: Origin", i))
			if got := assertResponse(t, resp); got != want {
				t.Fatalf("round %d host %d: got %v, want %v", round, i, got, want)
			}
		}
	}
	snap := s.cur.Load()
	cs := snap.classState(snap.pol.Class("selfish"))
	v := policy.Verdict{Kind: policy.Actual}
	if kept := len(*cs.statics.slots[shapeOf(&v)].Load()); kept != maxStaticVariants {
		t.Errorf("kept %d variants, want %d", kept, maxStaticVariants)
	}
}
