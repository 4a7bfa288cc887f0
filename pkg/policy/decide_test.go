package policy_test

import (
	"strings"
	"testing"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

const testPolicy = `version: 1
self_origins:
  - https://app.example.com
  - https://admin.example.com:8443
classes:
  - name: public-api
    match:
      hosts: [api.example.com, "*.api.example.com", "localhost:8080"]
      path_prefixes: [/api/v1/]
      paths: [/api/v1]
    allow_origins:
      - https://partner.example.org
      - https://*.tenant.example.com
      - chrome-extension://abcdefghijklmnopabcdefghijklmnop
      - http://localhost:3000
    allow_methods: [GET, POST, PUT, PATCH, DELETE]
    allow_headers: [Content-Type, Authorization, X-Request-Id]
    expose_headers: [X-Request-Id]
    allow_credentials: true
    max_age: 10m
    allow_private_network: true
  - name: open-api
    match: {path_prefixes: [/open/]}
    allow_origins: [https://partner.example.org]
    allow_headers: ["*"]
    deny_action: reject
  - name: selfish
    match: {path_prefixes: [/self/]}
    deny_action: self_origin
  - name: internal
    match: {path_prefixes: [/]}
`

func mustParse(t testing.TB, src string) *policy.Policy {
	t.Helper()
	p, _, err := policy.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

// req builds a request to https://api.example.com with an Origin.
func req(method, path, origin string) policy.Request {
	return policy.Request{Method: method, Scheme: "https", Host: "api.example.com", Path: path, Origin: origin, HasOrigin: true}
}

func preflight(path, origin, acrm, acrh string) policy.Request {
	r := req("OPTIONS", path, origin)
	r.ACRM, r.ACRH = acrm, acrh
	return r
}

type want struct {
	class   string
	kind    policy.Kind
	allowed bool
	respond bool
	status  int
	reason  string            // ReasonText
	headers map[string]string // exactly these headers
}

const (
	partner  = "https://partner.example.org"
	varyPF   = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
	acamList = "GET, POST, PUT, PATCH, DELETE"
)

type decideCase struct {
	name string
	r    policy.Request
	want want
}

func TestDecide(t *testing.T) {
	p := mustParse(t, testPolicy)
	noOrigin := req("GET", "/api/v1/users", "")
	noOrigin.HasOrigin = false
	emptyOrigin := req("GET", "/api/v1/users", "")
	hinted := req("GET", "/internal/x", partner)
	hinted.ClassHint = "public-api"
	badHint := req("GET", "/api/v1/x", partner)
	badHint.ClassHint = "no-such-class"
	pn := preflight("/api/v1/x", partner, "PUT", "")
	pn.ACRPN = "true"
	pnDenied := preflight("/open/x", partner, "GET", "")
	pnDenied.ACRPN = "true"
	sameHost := req("POST", "/internal/x", "https://api.example.com")
	samePort := req("POST", "/internal/x", "https://api.example.com")
	samePort.Host = "api.example.com:443"
	otherPort := req("POST", "/internal/x", "https://api.example.com:8443")
	httpScheme := req("POST", "/internal/x", "http://api.example.com")
	selfHost := req("GET", "/self/x", "https://evil.example.net")
	selfHost.Host = "admin.example.com:8443"

	tests := []decideCase{
		{"no origin is not CORS, Vary still set", noOrigin, want{class: "public-api", kind: policy.NotCORS, allowed: true, reason: "not_cors",
			headers: map[string]string{"vary": "Origin"}}},
		{"no origin on internal class: untouched", func() policy.Request { r := noOrigin; r.Path = "/"; return r }(),
			want{class: "internal", kind: policy.NotCORS, allowed: true, reason: "not_cors", headers: map[string]string{}}},
		{"self origin is same-origin", req("PUT", "/internal/x", "https://app.example.com"),
			want{class: "internal", kind: policy.SameOrigin, allowed: true, reason: "same_origin", headers: map[string]string{}}},
		{"request's own scheme://host is same-origin", sameHost,
			want{class: "internal", kind: policy.SameOrigin, allowed: true, reason: "same_origin", headers: map[string]string{}}},
		{"default port in :authority still same-origin", samePort,
			want{class: "internal", kind: policy.SameOrigin, allowed: true, reason: "same_origin", headers: map[string]string{}}},
		{"other port is cross-origin", otherPort,
			want{class: "internal", kind: policy.Actual, reason: "cross_origin_to_internal", headers: map[string]string{}}},
		{"other scheme is cross-origin", httpScheme,
			want{class: "internal", kind: policy.Actual, reason: "cross_origin_to_internal", headers: map[string]string{}}},
		{"allowed actual GET", req("GET", "/api/v1/users?x=1", partner),
			want{class: "public-api", kind: policy.Actual, allowed: true, reason: "origin_allowed", headers: map[string]string{
				"access-control-allow-origin": partner, "access-control-allow-credentials": "true",
				"access-control-expose-headers": "X-Request-Id", "vary": "Origin"}}},
		{"exact path match", req("GET", "/api/v1", partner),
			want{class: "public-api", kind: policy.Actual, allowed: true, reason: "origin_allowed", headers: map[string]string{
				"access-control-allow-origin": partner, "access-control-allow-credentials": "true",
				"access-control-expose-headers": "X-Request-Id", "vary": "Origin"}}},
		{"OPTIONS without ACRM is an actual request", req("OPTIONS", "/api/v1/x", partner),
			want{class: "public-api", kind: policy.Actual, allowed: true, reason: "origin_allowed", headers: map[string]string{
				"access-control-allow-origin": partner, "access-control-allow-credentials": "true",
				"access-control-expose-headers": "X-Request-Id", "vary": "Origin"}}},
		{"wildcard subdomain allowed", req("GET", "/api/v1/x", "https://a.b.tenant.example.com"),
			want{class: "public-api", kind: policy.Actual, allowed: true, reason: "origin_allowed", headers: map[string]string{
				"access-control-allow-origin": "https://a.b.tenant.example.com", "access-control-allow-credentials": "true",
				"access-control-expose-headers": "X-Request-Id", "vary": "Origin"}}},
		{"non-http scheme exact entry", req("GET", "/api/v1/x", "chrome-extension://abcdefghijklmnopabcdefghijklmnop"),
			want{class: "public-api", kind: policy.Actual, allowed: true, reason: "origin_allowed", headers: map[string]string{
				"access-control-allow-origin": "chrome-extension://abcdefghijklmnopabcdefghijklmnop", "access-control-allow-credentials": "true",
				"access-control-expose-headers": "X-Request-Id", "vary": "Origin"}}},
		{"unlisted origin: omit, only Vary", req("GET", "/api/v1/x", "https://evil.example.net"),
			want{class: "public-api", kind: policy.Actual, reason: "origin_not_allowed", headers: map[string]string{"vary": "Origin"}}},
		{"empty Origin header is invalid", emptyOrigin,
			want{class: "public-api", kind: policy.Actual, reason: "origin_invalid", headers: map[string]string{"vary": "Origin"}}},
		{"internal class refuses partner", req("GET", "/internal/x", partner),
			want{class: "internal", kind: policy.Actual, reason: "cross_origin_to_internal", headers: map[string]string{}}},
		{"cors_class hint overrides match", hinted,
			want{class: "public-api", kind: policy.Actual, allowed: true, reason: "origin_allowed", headers: map[string]string{
				"access-control-allow-origin": partner, "access-control-allow-credentials": "true",
				"access-control-expose-headers": "X-Request-Id", "vary": "Origin"}}},
		{"unknown cors_class: default deny with reason", badHint,
			want{class: policy.FallbackClass, kind: policy.Actual, reason: "unknown_class: no-such-class", headers: map[string]string{}}},
		{"deny_action reject answers 403", req("GET", "/open/x", "https://evil.example.net"),
			want{class: "open-api", kind: policy.Actual, respond: true, status: 403, reason: "origin_not_allowed", headers: map[string]string{}}},
		{"deny_action reject never rejects no-Origin", func() policy.Request { r := req("GET", "/open/x", ""); r.HasOrigin = false; return r }(),
			want{class: "open-api", kind: policy.NotCORS, allowed: true, reason: "not_cors", headers: map[string]string{"vary": "Origin"}}},
		{"deny_action reject never rejects same-origin", req("GET", "/open/x", "https://app.example.com"),
			want{class: "open-api", kind: policy.SameOrigin, allowed: true, reason: "same_origin", headers: map[string]string{"vary": "Origin"}}},
		{"deny_action self_origin: first self origin", req("GET", "/self/x", "https://evil.example.net"),
			want{class: "selfish", kind: policy.Actual, reason: "cross_origin_to_internal", headers: map[string]string{
				"access-control-allow-origin": "https://app.example.com", "vary": "Origin"}}},
		{"deny_action self_origin: self origin of the request's host", selfHost,
			want{class: "selfish", kind: policy.Actual, reason: "cross_origin_to_internal", headers: map[string]string{
				"access-control-allow-origin": "https://admin.example.com:8443", "vary": "Origin"}}},

		{"preflight allowed", preflight("/api/v1/x", partner, "PUT", "content-type,x-request-id"),
			want{class: "public-api", kind: policy.Preflight, allowed: true, respond: true, status: 204, reason: "preflight_allowed", headers: map[string]string{
				"access-control-allow-origin": partner, "access-control-allow-credentials": "true",
				"access-control-allow-methods": acamList, "access-control-allow-headers": "content-type, authorization, x-request-id",
				"access-control-max-age": "600", "vary": varyPF}}},
		{"preflight ACRH split, spaced, mixed case, empty elements", preflight("/api/v1/x", partner, "DELETE", " ,Content-Type ,\tX-REQUEST-ID,, authorization"),
			want{class: "public-api", kind: policy.Preflight, allowed: true, respond: true, status: 204, reason: "preflight_allowed", headers: map[string]string{
				"access-control-allow-origin": partner, "access-control-allow-credentials": "true",
				"access-control-allow-methods": acamList, "access-control-allow-headers": "content-type, authorization, x-request-id",
				"access-control-max-age": "600", "vary": varyPF}}},
		{"preflight without headers sends no ACAH", preflight("/api/v1/x", partner, "PATCH", ""),
			want{class: "public-api", kind: policy.Preflight, allowed: true, respond: true, status: 204, reason: "preflight_allowed", headers: map[string]string{
				"access-control-allow-origin": partner, "access-control-allow-credentials": "true",
				"access-control-allow-methods": acamList, "access-control-max-age": "600", "vary": varyPF}}},
		{"preflight safelisted method always allowed", preflight("/open/x", partner, "POST", ""),
			want{class: "open-api", kind: policy.Preflight, allowed: true, respond: true, status: 204, reason: "preflight_allowed", headers: map[string]string{
				"access-control-allow-origin": partner, "vary": varyPF}}},
		{"preflight lower-case patch is not PATCH", preflight("/api/v1/x", partner, "patch", ""),
			want{class: "public-api", kind: policy.Preflight, respond: true, status: 403, reason: "method_not_allowed: patch", headers: map[string]string{}}},
		{"preflight method not allowed", preflight("/api/v1/x", partner, "PROPFIND", ""),
			want{class: "public-api", kind: policy.Preflight, respond: true, status: 403, reason: "method_not_allowed: PROPFIND", headers: map[string]string{}}},
		{"preflight invalid method", preflight("/api/v1/x", partner, "GE T", ""),
			want{class: "public-api", kind: policy.Preflight, respond: true, status: 403, reason: "method_invalid", headers: map[string]string{}}},
		{"preflight header not allowed", preflight("/api/v1/x", partner, "PUT", "content-type,x-foo"),
			want{class: "public-api", kind: policy.Preflight, respond: true, status: 403, reason: "header_not_allowed: x-foo", headers: map[string]string{}}},
		{"preflight malformed header list", preflight("/api/v1/x", partner, "PUT", "content-type;x"),
			want{class: "public-api", kind: policy.Preflight, respond: true, status: 403, reason: "request_headers_invalid", headers: map[string]string{}}},
		{"preflight oversized header list", preflight("/api/v1/x", partner, "PUT", strings.Repeat("content-type,", 5000)),
			want{class: "public-api", kind: policy.Preflight, respond: true, status: 403, reason: "request_headers_invalid", headers: map[string]string{}}},
		{"preflight from unlisted origin", preflight("/api/v1/x", "https://evil.example.net", "PUT", ""),
			want{class: "public-api", kind: policy.Preflight, respond: true, status: 403, reason: "origin_not_allowed", headers: map[string]string{}}},
		{"preflight to internal class refused", preflight("/internal/x", partner, "PUT", ""),
			want{class: "internal", kind: policy.Preflight, respond: true, status: 403, reason: "cross_origin_to_internal", headers: map[string]string{}}},
		{"star headers: any name echoed", preflight("/open/x", partner, "GET", "x-anything,x-other"),
			want{class: "open-api", kind: policy.Preflight, allowed: true, respond: true, status: 204, reason: "preflight_allowed", headers: map[string]string{
				"access-control-allow-origin": partner, "access-control-allow-headers": "x-anything,x-other", "vary": varyPF}}},
		{"star headers exclude Authorization", preflight("/open/x", partner, "GET", "authorization"),
			want{class: "open-api", kind: policy.Preflight, respond: true, status: 403, reason: "header_not_allowed: authorization", headers: map[string]string{}}},
		{"private network allowed", pn,
			want{class: "public-api", kind: policy.Preflight, allowed: true, respond: true, status: 204, reason: "preflight_allowed", headers: map[string]string{
				"access-control-allow-origin": partner, "access-control-allow-credentials": "true",
				"access-control-allow-methods": acamList, "access-control-max-age": "600",
				"access-control-allow-private-network": "true", "vary": varyPF + ", Access-Control-Request-Private-Network"}}},
		{"private network not allowed", pnDenied,
			want{class: "open-api", kind: policy.Preflight, respond: true, status: 403, reason: "private_network_not_allowed", headers: map[string]string{}}},

		// Issue 11 item 5: no method, no grant.
		{"no method: no grant", req("", "/api/v1/x", partner),
			want{class: "public-api", kind: policy.Actual, reason: "method_missing", headers: map[string]string{"vary": "Origin"}}},
		{"no method on a deny_action reject class: 403", req("", "/open/x", partner),
			want{class: "open-api", kind: policy.Actual, respond: true, status: 403, reason: "method_missing", headers: map[string]string{}}},
		{"no method, no Origin: forwarded as before", func() policy.Request { r := req("", "/api/v1/x", ""); r.HasOrigin = false; return r }(),
			want{class: "public-api", kind: policy.NotCORS, allowed: true, reason: "not_cors", headers: map[string]string{"vary": "Origin"}}},
		{"no method, unlisted origin: the origin is the reason", req("", "/api/v1/x", "https://evil.example.net"),
			want{class: "public-api", kind: policy.Actual, reason: "origin_not_allowed", headers: map[string]string{"vary": "Origin"}}},
	}
	// Issue 11 item 6: only the exact value "true" asks for private-network
	// access; anything else is a plain preflight (no ACAPN, no PNA in Vary).
	for _, v := range []string{"TRUE", "True", "true ", " true", "1", "yes", "true,true", "false"} {
		on := preflight("/api/v1/x", partner, "PUT", "")
		on.ACRPN = v
		off := preflight("/open/x", partner, "GET", "")
		off.ACRPN = v
		tests = append(tests,
			decideCase{"ACRPN " + v + " is a plain preflight", on,
				want{class: "public-api", kind: policy.Preflight, allowed: true, respond: true, status: 204, reason: "preflight_allowed", headers: map[string]string{
					"access-control-allow-origin": partner, "access-control-allow-credentials": "true",
					"access-control-allow-methods": acamList, "access-control-max-age": "600", "vary": varyPF}}},
			decideCase{"ACRPN " + v + " on a class without private network", off,
				want{class: "open-api", kind: policy.Preflight, allowed: true, respond: true, status: 204, reason: "preflight_allowed", headers: map[string]string{
					"access-control-allow-origin": partner, "vary": varyPF}}},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := p.Decide(&tt.r)
			checkVerdict(t, &v, tt.want)
		})
	}
}

// TestDecidePathNormalisation (issue 11 item 2): classes are chosen on the
// path's normal form, and a path whose meaning depends on decoding gets no
// grant from a class a path rule chose.
func TestDecidePathNormalisation(t *testing.T) {
	p := mustParse(t, testPolicy)
	granted := want{class: "public-api", kind: policy.Actual, allowed: true, reason: "origin_allowed", headers: map[string]string{
		"access-control-allow-origin": partner, "access-control-allow-credentials": "true",
		"access-control-expose-headers": "X-Request-Id", "vary": "Origin"}}
	internal := want{class: "internal", kind: policy.Actual, reason: "cross_origin_to_internal", headers: map[string]string{}}
	ambiguous := want{class: "public-api", kind: policy.Actual, reason: "path_ambiguous", headers: map[string]string{"vary": "Origin"}}
	hinted := req("GET", "/api/v1/..%2Fadmin", partner)
	hinted.ClassHint = "public-api"
	tests := []decideCase{
		{"dot segments resolved", req("GET", "/api/v1/../admin", partner), internal},
		{"dot segments climbing out", req("GET", "/api/v1/../../admin", partner), internal},
		{"percent-encoded dot segments", req("GET", "/api/v1/%2e%2e/admin", partner), internal},
		{"mixed-case encoded dots", req("GET", "/api/v1/.%2E/%2e./admin", partner), internal},
		{"merged slashes cannot dodge a prefix", req("GET", "//api/v1/x", partner), granted},
		{"single dot keeps the grant", req("GET", "/api/v1/./x", partner), granted},
		{"encoded single dot keeps the grant", req("GET", "/api/v1/%2e/x", partner), granted},
		{"a path that resolves into the class is granted", req("GET", "/admin/../api/v1/x?y", partner), granted},
		{"escaped unreserved characters decoded", req("GET", "/%61pi/v1/x", partner), granted},
		{"encoded slash: no grant", req("GET", "/api/v1/..%2Fadmin", partner), ambiguous},
		{"lower-case encoded slash: no grant", req("GET", "/api/v1/a%2fb", partner), ambiguous},
		{"encoded backslash: no grant", req("GET", "/api/v1/..%5Cadmin", partner), ambiguous},
		{"backslash: no grant", req("GET", `/api/v1/..\admin`, partner), ambiguous},
		{"dot segment with parameters: no grant", req("GET", "/api/v1/..;/admin", partner), ambiguous},
		{"ambiguous preflight refused", preflight("/api/v1/..%2Fadmin", partner, "PUT", ""),
			want{class: "public-api", kind: policy.Preflight, respond: true, status: 403, reason: "path_ambiguous", headers: map[string]string{}}},
		{"ambiguous path on a reject class: 403", req("GET", "/open/..%2Fx", partner),
			want{class: "open-api", kind: policy.Actual, respond: true, status: 403, reason: "path_ambiguous", headers: map[string]string{}}},
		{"ambiguous path, unlisted origin: the origin is the reason", req("GET", "/api/v1/a%2Fb", "https://evil.example.net"),
			want{class: "public-api", kind: policy.Actual, reason: "origin_not_allowed", headers: map[string]string{"vary": "Origin"}}},
		{"ambiguous path, no Origin: forwarded as before", func() policy.Request { r := req("GET", "/api/v1/a%2Fb", ""); r.HasOrigin = false; return r }(),
			want{class: "public-api", kind: policy.NotCORS, allowed: true, reason: "not_cors", headers: map[string]string{"vary": "Origin"}}},
		{"cors_class hint: the route chose, the grant stands", hinted, granted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := p.Decide(&tt.r)
			checkVerdict(t, &v, tt.want)
		})
	}

	// A class chosen by host alone keeps its grant on an ambiguous path,
	// unless a class with path rules was tried before it.
	q := mustParse(t, `version: 1
classes:
  - name: partner-host
    match: {hosts: [partner-api.example.com]}
    allow_origins: [https://partner.example.org]
  - name: admin
    match: {path_prefixes: [/admin/]}
  - name: api-host
    match: {hosts: [api.example.com]}
    allow_origins: [https://partner.example.org]
  - name: internal
    match: {path_prefixes: [/]}
`)
	hostOnly := []decideCase{
		{"host-only class first: grant stands", func() policy.Request {
			r := req("GET", "/x/..%2Fadmin/y", partner)
			r.Host = "partner-api.example.com"
			return r
		}(),
			want{class: "partner-host", kind: policy.Actual, allowed: true, reason: "origin_allowed", headers: map[string]string{
				"access-control-allow-origin": partner, "vary": "Origin"}}},
		{"host-only class after a path class: no grant", req("GET", "/x/..%2Fadmin/y", partner),
			want{class: "api-host", kind: policy.Actual, reason: "path_ambiguous", headers: map[string]string{"vary": "Origin"}}},
		{"host-only class after a path class, plain path: grant", req("GET", "/x/y", partner),
			want{class: "api-host", kind: policy.Actual, allowed: true, reason: "origin_allowed", headers: map[string]string{
				"access-control-allow-origin": partner, "vary": "Origin"}}},
		{"host-only class after a path class, '#' in the path: no grant", req("GET", "/x/y#z", partner),
			want{class: "api-host", kind: policy.Actual, reason: "path_ambiguous", headers: map[string]string{"vary": "Origin"}}},
		{"dot segments after '#' are resolved: the path class", req("GET", "/x/y#/../../admin/y", partner),
			want{class: "admin", kind: policy.Actual, reason: "cross_origin_to_internal", headers: map[string]string{}}},
		{"host-only class after a path class, absolute-form target: no grant", req("GET", "http://api.example.com/admin/y", partner),
			want{class: "api-host", kind: policy.Actual, reason: "path_ambiguous", headers: map[string]string{"vary": "Origin"}}},
		{"the path class is chosen on the normal form", req("GET", "/x/../admin/y", partner),
			want{class: "admin", kind: policy.Actual, reason: "cross_origin_to_internal", headers: map[string]string{}}},
	}
	for _, tt := range hostOnly {
		t.Run(tt.name, func(t *testing.T) {
			v := q.Decide(&tt.r)
			checkVerdict(t, &v, tt.want)
		})
	}
}

// TestDecideTrailingDot (issue 11 item 3): "admin.example.com." is the
// same DNS name as "admin.example.com", so host rules, the same-origin
// test and the self-origin lookup treat one trailing dot as absent.
func TestDecideTrailingDot(t *testing.T) {
	p := mustParse(t, `version: 1
self_origins: [https://app.example.com, https://other.example.com:8443]
classes:
  - name: admin
    match: {hosts: [admin.example.com, "*.admin.example.com"]}
  - name: public-api
    match: {path_prefixes: [/api/]}
    allow_origins: [https://partner.example.org]
  - name: selfish
    match: {path_prefixes: [/self/]}
    deny_action: self_origin
  - name: internal
    match: {path_prefixes: [/]}
`)
	at := func(host, path, origin string) policy.Request {
		r := req("GET", path, origin)
		r.Host = host
		return r
	}
	admin := want{class: "admin", kind: policy.Actual, reason: "cross_origin_to_internal", headers: map[string]string{}}
	same := func(class string) want {
		return want{class: class, kind: policy.SameOrigin, allowed: true, reason: "same_origin", headers: map[string]string{}}
	}
	selfACAO := func(so string) want {
		return want{class: "selfish", kind: policy.Actual, reason: "cross_origin_to_internal", headers: map[string]string{
			"access-control-allow-origin": so, "vary": "Origin"}}
	}
	tests := []decideCase{
		{"host rule", at("admin.example.com", "/api/x", partner), admin},
		{"host rule, trailing dot", at("admin.example.com.", "/api/x", partner), admin},
		{"host rule, trailing dot and port", at("admin.example.com.:443", "/api/x", partner), admin},
		{"host rule, trailing dot, upper case", at("ADMIN.Example.COM.", "/api/x", partner), admin},
		{"wildcard host rule, trailing dot", at("eu.admin.example.com.", "/api/x", partner), admin},
		{"other host still reaches the external class", at("api.example.com.", "/api/x", partner),
			want{class: "public-api", kind: policy.Actual, allowed: true, reason: "origin_allowed", headers: map[string]string{
				"access-control-allow-origin": partner, "vary": "Origin"}}},
		{"same origin, trailing dot", at("api.example.com.", "/x", "https://api.example.com"), same("internal")},
		{"same origin, trailing dot and default port", at("api.example.com.:443", "/x", "https://api.example.com"), same("internal")},
		{"same origin, trailing dot and port", at("api.example.com.:8443", "/x", "https://api.example.com:8443"), same("internal")},
		{"other port, trailing dot: cross-origin", at("api.example.com.:8443", "/x", "https://api.example.com"),
			want{class: "internal", kind: policy.Actual, reason: "cross_origin_to_internal", headers: map[string]string{}}},
		{"self origin of the host, trailing dot", at("other.example.com.:8443", "/self/x", "https://evil.example.net"), selfACAO("https://other.example.com:8443")},
		{"self origin of the host, no trailing dot", at("other.example.com:8443", "/self/x", "https://evil.example.net"), selfACAO("https://other.example.com:8443")},
		{"self origin, trailing dot and default port", at("app.example.com.:443", "/self/x", "https://evil.example.net"), selfACAO("https://app.example.com")},
		{"self origin of an unknown host: the first", at("nowhere.example.com.", "/self/x", "https://evil.example.net"), selfACAO("https://app.example.com")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := p.Decide(&tt.r)
			checkVerdict(t, &v, tt.want)
		})
	}
}

// TestDecideDefaultPort: a match.hosts entry with a port names an
// authority, and an :authority without a port is on the scheme's default
// port (RFC 9110 §4.2.2, §4.2.3): browsers never write ":443" for https,
// so "admin.example.com" over https must meet "admin.example.com:443" and
// not fall through to a later external class.
func TestDecideDefaultPort(t *testing.T) {
	p := mustParse(t, `version: 1
classes:
  - name: admin
    match: {hosts: ["admin.example.com:443", "*.admin.example.com:443", "legacy.example.com:80"]}
  - name: partner
    match: {hosts: ["*.example.com"]}
    allow_origins: [https://partner.example.org]
    allow_credentials: true
`)
	at := func(scheme, host string) policy.Request {
		r := req("GET", "/secrets", partner)
		r.Scheme, r.Host = scheme, host
		return r
	}
	admin := want{class: "admin", kind: policy.Actual, reason: "cross_origin_to_internal", headers: map[string]string{}}
	granted := want{class: "partner", kind: policy.Actual, allowed: true, reason: "origin_allowed", headers: map[string]string{
		"access-control-allow-origin": partner, "access-control-allow-credentials": "true", "vary": "Origin"}}
	tests := []decideCase{
		{"https, port written", at("https", "admin.example.com:443"), admin},
		{"https, no port (as browsers send it)", at("https", "admin.example.com"), admin},
		{"https, no port, trailing dot", at("https", "admin.example.com."), admin},
		{"https, wildcard entry, no port", at("https", "eu.admin.example.com"), admin},
		{"http, no port: port 80, not the entry's", at("http", "admin.example.com"), granted},
		{"https, other port", at("https", "admin.example.com:8443"), granted},
		{"http entry, no port", at("http", "legacy.example.com"), admin},
		{"http entry, https request", at("https", "legacy.example.com"), granted},
		{"no scheme: no default port", at("", "admin.example.com"), granted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := p.Decide(&tt.r)
			checkVerdict(t, &v, tt.want)
		})
	}
}

// TestDecideMethodsAsWritten (issue 11 item 7): Fetch upper-cases only
// DELETE, GET, HEAD, OPTIONS, POST and PUT, so fetch(url, {method: "patch"})
// preflights with "patch", which only an exact "patch" entry allows.
func TestDecideMethodsAsWritten(t *testing.T) {
	p := mustParse(t, `version: 1
classes:
  - name: lower
    match: {path_prefixes: [/lower/]}
    allow_origins: [https://partner.example.org]
    allow_methods: [patch, propfind]
  - name: upper
    match: {path_prefixes: [/upper/]}
    allow_origins: [https://partner.example.org]
    allow_methods: [PATCH]
  - name: internal
    match: {path_prefixes: [/]}
`)
	allowed := func(class, acam string) want {
		return want{class: class, kind: policy.Preflight, allowed: true, respond: true, status: 204, reason: "preflight_allowed",
			headers: map[string]string{"access-control-allow-origin": partner, "access-control-allow-methods": acam, "vary": varyPF}}
	}
	refused := func(class, m string) want {
		return want{class: class, kind: policy.Preflight, respond: true, status: 403, reason: "method_not_allowed: " + m, headers: map[string]string{}}
	}
	tests := []decideCase{
		{"patch allowed by patch", preflight("/lower/x", partner, "patch", ""), allowed("lower", "patch, propfind")},
		{"propfind allowed by propfind", preflight("/lower/x", partner, "propfind", ""), allowed("lower", "patch, propfind")},
		{"PATCH not allowed by patch", preflight("/lower/x", partner, "PATCH", ""), refused("lower", "PATCH")},
		{"Patch not allowed by patch", preflight("/lower/x", partner, "Patch", ""), refused("lower", "Patch")},
		{"PATCH allowed by PATCH", preflight("/upper/x", partner, "PATCH", ""), allowed("upper", "PATCH")},
		{"patch not allowed by PATCH", preflight("/upper/x", partner, "patch", ""), refused("upper", "patch")},
		{"get is not safelisted", preflight("/upper/x", partner, "get", ""), refused("upper", "get")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := p.Decide(&tt.r)
			checkVerdict(t, &v, tt.want)
		})
	}
}

func checkVerdict(t *testing.T, v *policy.Verdict, w want) {
	t.Helper()
	if v.Class.Name != w.class || v.Kind != w.kind || v.Allowed != w.allowed || v.Respond != w.respond || v.ReasonText() != w.reason {
		t.Errorf("verdict = class %q kind %v allowed %v respond %v reason %q; want class %q kind %v allowed %v respond %v reason %q",
			v.Class.Name, v.Kind, v.Allowed, v.Respond, v.ReasonText(), w.class, w.kind, w.allowed, w.respond, w.reason)
	}
	if v.Respond && v.Status != w.status {
		t.Errorf("status = %d, want %d", v.Status, w.status)
	}
	got := map[string]string{}
	for _, h := range v.Headers() {
		if _, dup := got[h.Name]; dup {
			t.Errorf("header %s set twice", h.Name)
		}
		got[h.Name] = h.Value
		wantMode := policy.Overwrite
		if h.Name == "vary" && !v.Respond {
			wantMode = policy.Append
		}
		if h.Mode != wantMode {
			t.Errorf("header %s mode %v, want %v", h.Name, h.Mode, wantMode)
		}
		if h.Name == "access-control-allow-origin" && h.Value == "*" {
			t.Errorf("ACAO is *")
		}
	}
	if len(got) != len(w.headers) {
		t.Errorf("headers = %v, want %v", got, w.headers)
		return
	}
	for k, wv := range w.headers {
		if got[k] != wv {
			t.Errorf("header %s = %q, want %q", k, got[k], wv)
		}
	}
}

// TestMaliciousOrigins: no malformed or look-alike origin is ever allowed
// or echoed, on actual requests or preflights.
func TestMaliciousOrigins(t *testing.T) {
	p := mustParse(t, testPolicy)
	origins := []string{
		// wildcard attacks on https://*.tenant.example.com
		"https://tenant.example.com",            // the apex
		"https://eviltenant.example.com",        // no label boundary
		"https://x.tenant.example.com.evil.net", // suffix continues
		"http://x.tenant.example.com",           // other scheme
		"https://x.tenant.example.com:8443",     // other port
		"https://.tenant.example.com",           // empty label
		"https://x..tenant.example.com",         // empty label
		"https://partner.example.org.evil.net",  // exact entry as prefix
		"https://evilpartner.example.org",       // exact entry as suffix
		// not serialized origins
		"https://partner.example.org/",            // trailing slash
		"https://partner.example.org/path",        // path
		"https://user@partner.example.org",        // userinfo
		"HTTPS://PARTNER.EXAMPLE.ORG",             // upper case
		"https://Partner.example.org",             // upper case host
		"https://partner.example.org:443",         // default port
		"http://localhost:3000:3000",              // two ports
		"https://partner.example.org ",            // trailing space
		" https://partner.example.org",            // leading space
		"https://partner .example.org",            // inner space
		"https://partner.example.org\r\nx: y",     // CR/LF
		"https://partner.example.org\x00",         // NUL
		"https://partn\xc3\xa9r.example.org",      // non-ASCII
		"https://partner.example.org,https://a.b", // comma-joined repeats
		"https://partner.example.org,",            // trailing comma
		"null", "*", "", "https://", "://partner.example.org", "partner.example.org",
		"https://partner.example.org:0", "https://partner.example.org:65536", "https://partner.example.org:0443",
		"https://" + strings.Repeat("a", 400) + ".example.org",
	}
	for _, o := range origins {
		for _, r := range []policy.Request{req("GET", "/api/v1/x", o), preflight("/api/v1/x", o, "PUT", "")} {
			v := p.Decide(&r)
			if v.Allowed {
				t.Errorf("%v from %q allowed (%s)", r.Method, o, v.ReasonText())
			}
			for _, h := range v.Headers() {
				if strings.HasPrefix(h.Name, "access-control-") {
					t.Errorf("%v from %q got %s: %q", r.Method, o, h.Name, h.Value)
				}
			}
		}
	}
}

func TestClassify(t *testing.T) {
	p := mustParse(t, testPolicy)
	tests := []struct {
		host, path, hint string
		class            string
		sel              policy.Selection
	}{
		{"api.example.com", "/api/v1/x", "", "public-api", policy.ByMatch},
		{"API.Example.COM", "/api/v1/x", "", "public-api", policy.ByMatch},
		{"api.example.com:8443", "/api/v1/x", "", "public-api", policy.ByMatch}, // port ignored when the entry has none
		{"eu.api.example.com", "/api/v1/x", "", "public-api", policy.ByMatch},
		{"localhost:8080", "/api/v1/x", "", "public-api", policy.ByMatch},
		{"localhost:9090", "/api/v1/x", "", "internal", policy.ByMatch}, // entry with a port needs that port
		{"other.example.com", "/api/v1/x", "", "internal", policy.ByMatch},
		{"api.example.com", "/api/v1?x=1", "", "public-api", policy.ByMatch},
		{"api.example.com", "/api/v1x", "", "internal", policy.ByMatch},
		{"api.example.com", "/api/v2/x", "", "internal", policy.ByMatch},
		{"api.example.com", "/x", "public-api", "public-api", policy.ByHint},
		{"api.example.com", "/x", "nope", policy.FallbackClass, policy.ByDefault},
	}
	for _, tt := range tests {
		r := req("GET", tt.path, partner)
		r.Host, r.ClassHint = tt.host, tt.hint
		rt := p.Classify(&r)
		if rt.Class.Name != tt.class || rt.Selection != tt.sel {
			t.Errorf("Classify(%s%s hint %q) = %s by %v, want %s by %v", tt.host, tt.path, tt.hint, rt.Class.Name, rt.Selection, tt.class, tt.sel)
		}
	}
	// A request no class matches gets default deny.
	q := mustParse(t, "version: 1\nclasses:\n  - name: only\n    match: {paths: [/x]}\n")
	r := req("OPTIONS", "/y", partner)
	r.ACRM = "GET"
	v := q.Decide(&r)
	if v.Class.Name != policy.FallbackClass || v.Selection != policy.ByDefault || v.Allowed || v.Status != 403 || v.Reason != policy.ReasonNoClass {
		t.Errorf("unmatched preflight: %+v", v)
	}
}

// TestCacheKey: requests whose verdicts differ never share a key.
func TestCacheKey(t *testing.T) {
	p := mustParse(t, testPolicy)
	reqs := []policy.Request{
		req("GET", "/api/v1/x", partner),
		req("GET", "/api/v1/x", "https://a.tenant.example.com"),
		preflight("/api/v1/x", partner, "PUT", ""),
		preflight("/api/v1/x", partner, "PUT", "x-request-id"),
		preflight("/api/v1/x", partner, "PATCH", "x-request-id"),
		preflight("/api/v1/x", partner, "PUT\x00x-request-id", ""),
	}
	pnr := preflight("/api/v1/x", partner, "PUT", "")
	pnr.ACRPN = "true"
	reqs = append(reqs, pnr)
	seen := map[string]int{}
	for i := range reqs {
		rt := p.Classify(&reqs[i])
		k, ok := rt.AppendCacheKey(nil, &reqs[i])
		if !ok {
			t.Fatalf("request %d not cacheable", i)
		}
		full := rt.Class.Name + "|" + string(k)
		if j, dup := seen[full]; dup {
			t.Errorf("requests %d and %d share key %q", j, i, full)
		}
		seen[full] = i
	}
	for _, r := range []policy.Request{func() policy.Request { r := req("GET", "/", ""); r.HasOrigin = false; return r }(),
		req("GET", "/", "https://app.example.com"),
		req("", "/api/v1/x", partner),         // no method, no grant: its key would be a GET's
		req("GET", "/api/v1/..%2Fx", partner), // no grant on an ambiguous path: its key would be /api/v1/x's
		preflight("/api/v1/x", partner, "PUT", strings.Repeat("a,", 1000))} {
		rt := p.Classify(&r)
		if _, ok := rt.AppendCacheKey(nil, &r); ok {
			t.Errorf("%+v should not be cacheable", r)
		}
	}
}
