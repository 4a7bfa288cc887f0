package check

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"

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

// TestBuildResponse checks the Envoy mapping of a verdict, including the
// one thing the policy leaves to this package: the append action of each
// header on forwarded and answered responses.
func TestBuildResponse(t *testing.T) {
	p := mustPolicy(t, testPolicyYAML)
	overwrite, appendAct := corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD, corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
	cases := []struct {
		name    string
		req     policy.Request
		code    codes.Code
		status  int
		actions []corev3.HeaderValueOption_HeaderAppendAction
	}{
		{"allowed actual", policy.Request{Method: "GET", Path: "/api/v1/x", Origin: partner, HasOrigin: true},
			codes.OK, 0, []corev3.HeaderValueOption_HeaderAppendAction{overwrite, overwrite, overwrite, appendAct}},
		{"allowed preflight: Vary overwrites on a local reply",
			policy.Request{Method: "OPTIONS", Path: "/api/v1/x", Origin: partner, HasOrigin: true, ACRM: "PUT"},
			codes.PermissionDenied, 204, []corev3.HeaderValueOption_HeaderAppendAction{overwrite, overwrite, overwrite, overwrite, overwrite}},
		{"rejected", policy.Request{Method: "GET", Path: "/strict/x", Origin: "https://evil.example", HasOrigin: true},
			codes.PermissionDenied, 403, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := p.Decide(&tc.req)
			resp := buildResponse(&v)
			assertResponse(t, resp)
			if got := codes.Code(resp.GetStatus().GetCode()); got != tc.code {
				t.Fatalf("code %v, want %v", got, tc.code)
			}
			hs := resp.GetOkResponse().GetResponseHeadersToAdd()
			if tc.code != codes.OK {
				hs = resp.GetDeniedResponse().GetHeaders()
				if got := int(resp.GetDeniedResponse().GetStatus().GetCode()); got != tc.status {
					t.Errorf("HTTP status %d, want %d", got, tc.status)
				}
			}
			if len(hs) != len(v.Headers()) || len(hs) != len(tc.actions) {
				t.Fatalf("%d headers, verdict has %d, want %d", len(hs), len(v.Headers()), len(tc.actions))
			}
			for i, h := range v.Headers() {
				if hs[i].GetHeader().GetKey() != h.Name || hs[i].GetHeader().GetValue() != h.Value || hs[i].GetAppendAction() != tc.actions[i] {
					t.Errorf("header %d = %v, want %s: %s (%v)", i, hs[i], h.Name, h.Value, tc.actions[i])
				}
			}
		})
	}
}
