package check

import (
	"context"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Every answer names its decision: the class that decided, the kind, the
// reason and the policy snapshot, whether it is built, cached or shared
// static, in both header encodings, and through the gRPC handler's
// pre-encoded bytes.
func TestDecisionMetadata(t *testing.T) {
	named := func(rs reqSpec, class string) reqSpec { rs.Class = class; return rs }
	raw := func(rs reqSpec) reqSpec { rs.Raw = true; return rs }
	tests := []struct {
		name                string
		req                 reqSpec
		class, kind, reason string
	}{
		{"allowed actual", get("/api/v1/x", "Origin", partner), "public-api", "actual", "origin_allowed"},
		{"allowed actual, raw headers", raw(get("/api/v1/x", "Origin", partner)), "public-api", "actual", "origin_allowed"},
		{"allowed preflight", options("/api/v1/x", "Origin", partner, "Access-Control-Request-Method", "PUT"), "public-api", "preflight", "preflight_allowed"},
		{"unlisted origin", get("/api/v1/x", "Origin", "https://evil.example"), "public-api", "actual", "origin_not_allowed"},
		{"invalid origin, same class and shape", get("/api/v1/x", "Origin", "null"), "public-api", "actual", "origin_invalid"},
		{"unlisted origin, raw headers", raw(get("/api/v1/x", "Origin", "https://evil.example")), "public-api", "actual", "origin_not_allowed"},
		{"refused header", options("/api/v1/x", "Origin", partner, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "x-nope"), "public-api", "preflight", "header_not_allowed"},
		{"rejected", get("/strict/x", "Origin", "https://evil.example"), "strict", "actual", "origin_not_allowed"},
		{"internal preflight", options("/admin", "Origin", partner, "Access-Control-Request-Method", "GET"), "internal", "preflight", "cross_origin_to_internal"},
		{"no origin", get("/admin"), "internal", "not_cors", "not_cors"},
		{"same origin", get("/admin", "Origin", "https://app.example.com"), "internal", "same_origin", "same_origin"},
		{"unknown cors_class: the fallback, never the hint", named(get("/api/v1/x", "Origin", partner), "evil-<class>"), policy.FallbackClass, "actual", "unknown_class"},
	}
	for _, cacheSize := range []int{DefaultCacheSize, 0} {
		s, _ := newTestService(t, cacheSize)
		sum := s.Current().Policy.SHA256()[:envoyauth.ShortSHA256Len]
		for _, tt := range tests {
			for round := range 3 { // built, then cached or shared
				resp, err := s.Check(context.Background(), tt.req.build())
				if err != nil {
					t.Fatal(err)
				}
				assertResponse(t, resp)
				d, _ := envoyauth.DecisionOf(resp)
				want := map[string]string{"class": tt.class, "kind": tt.kind, "reason": tt.reason, "policy_sha256": sum, "policy_generation": "1"}
				for k, v := range want {
					if d[k] != v {
						t.Errorf("cache %d, %s, round %d: %s = %q, want %q", cacheSize, tt.name, round, k, d[k], v)
					}
				}
			}
		}
	}
}

// The pre-encoded bytes the gRPC handler writes carry the same metadata.
func TestDecisionMetadataOverGRPC(t *testing.T) {
	s, _ := newTestService(t, DefaultCacheSize)
	c := serve(t, s)
	for _, rs := range []reqSpec{get("/api/v1/x", "Origin", partner), get("/api/v1/x", "Origin", "https://evil.example"), get("/admin")} {
		for range 2 {
			want, err := s.Check(context.Background(), rs.build())
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Check(context.Background(), rs.build())
			if err != nil {
				t.Fatal(err)
			}
			assertResponse(t, got)
			if !proto.Equal(got.GetDynamicMetadata(), want.GetDynamicMetadata()) {
				t.Errorf("%+v: over gRPC %v, in process %v", rs, got.GetDynamicMetadata(), want.GetDynamicMetadata())
			}
		}
	}
}

// A new policy's answers name the new generation and sha256 at once,
// cached and static alike; answers before any policy name none.
func TestDecisionMetadataFollowsThePolicy(t *testing.T) {
	s := New(Options{CacheSize: DefaultCacheSize})
	decision := func(rs reqSpec) map[string]string {
		t.Helper()
		resp, err := s.Check(context.Background(), rs.build())
		if err != nil {
			t.Fatal(err)
		}
		assertResponse(t, resp)
		d, _ := envoyauth.DecisionOf(resp)
		return d
	}
	allowed, denied := get("/api/v1/x", "Origin", partner), get("/api/v1/x", "Origin", "https://evil.example")
	// Before a policy, the built-in empty one denies (generation 0, no file).
	if d := decision(allowed); d["policy_generation"] != "0" || d["policy_sha256"] != "" || d["reason"] != "no_class_matched" || d["class"] != policy.FallbackClass {
		t.Errorf("before a policy: %v", d)
	}
	a, b := mustPolicy(t, testPolicyYAML), mustPolicy(t, testPolicyNoPartnerYAML)
	for gen, p := range []*policy.Policy{a, b, a} {
		s.SetPolicy(p)
		for _, rs := range []reqSpec{allowed, allowed, denied, denied} {
			d := decision(rs)
			if d["policy_generation"] != []string{"1", "2", "3"}[gen] || d["policy_sha256"] != p.SHA256()[:envoyauth.ShortSHA256Len] {
				t.Errorf("generation %d: %v", gen+1, d)
			}
		}
	}
	// A request without HTTP attributes says so.
	resp, err := s.Check(context.Background(), &authv3.CheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	assertResponse(t, resp)
	if d, _ := envoyauth.DecisionOf(resp); d["reason"] != string(reasonMalformed) || d["kind"] != "not_cors" || d["policy_generation"] != "3" {
		t.Errorf("malformed: %v", d)
	}
}
