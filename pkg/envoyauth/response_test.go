package envoyauth_test

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

const partner = "https://partner.example.org"

// testPolicyYAML has a credentialed class and a deny_action reject class:
// forwarded, answered 204 and answered 403 verdicts.
const testPolicyYAML = `version: 1
self_origins:
  - https://app.example.com
classes:
  - name: public-api
    match:
      path_prefixes: [/api/v1/]
    allow_origins:
      - https://partner.example.org
    allow_methods: [GET, POST, PUT, PATCH, DELETE]
    allow_headers: [Content-Type, Authorization, X-Request-Id]
    expose_headers: [X-Request-Id]
    allow_credentials: true
    max_age: 10m
  - name: strict
    match:
      path_prefixes: [/strict/]
    allow_origins: [https://partner.example.org]
    deny_action: reject
`

func mustPolicy(t testing.TB, yaml string) *policy.Policy {
	t.Helper()
	p, _, err := policy.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("policy.Parse: %v", err)
	}
	return p
}

// assertResponse is checktest.AssertResponse (the contract every server
// test checks) plus what Response promises beyond it: no header sets the
// deprecated append flag, a 403 carries no header, ok_response.headers
// (request mutations) is never used.
func assertResponse(t testing.TB, resp *authv3.CheckResponse) {
	t.Helper()
	a := checktest.AssertResponse(t, resp)
	hs := resp.GetOkResponse().GetResponseHeadersToAdd()
	if len(resp.GetOkResponse().GetHeaders()) > 0 {
		t.Errorf("OK response mutates the request: %v", resp.GetOkResponse())
	}
	if d := resp.GetDeniedResponse(); d != nil {
		hs = d.GetHeaders()
		if a.HTTP == 403 && len(hs) > 0 {
			t.Errorf("403 carries headers: %v", hs)
		}
	}
	for _, o := range hs {
		//lint:ignore SA1019 the deprecated flag is what must stay unset
		if o.GetAppend() != nil {
			t.Errorf("header %q: deprecated append flag set", o.GetHeader().GetKey())
		}
	}
}

// TestResponse checks the Envoy mapping of a verdict, including the
// one thing the policy leaves to this package: the append action of each
// header on forwarded and answered responses.
func TestResponse(t *testing.T) {
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
			if md := envoyauth.Response(&v).GetDynamicMetadata(); md != nil {
				t.Errorf("Response carries metadata %v: only ResponseWithMetadata adds it", md)
			}
			md := envoyauth.Metadata(envoyauth.Decision{Class: v.Class.Name, Kind: v.Kind, Reason: v.Reason, SHA256: p.SHA256(), Generation: 1})
			resp := envoyauth.ResponseWithMetadata(&v, md)
			assertResponse(t, resp)
			if resp.GetDynamicMetadata() != md {
				t.Error("ResponseWithMetadata copied the metadata instead of sharing it")
			}
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
