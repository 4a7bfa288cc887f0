package check

import (
	"context"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
)

// Expected header lines of testPolicyYAML's answers.
const (
	partner = "https://partner.example.org"
	tenant  = "https://a.tenant.example.com"

	varyOrigin    = "vary: Origin"
	varyPreflight = "vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
	publicActual  = "access-control-allow-credentials: true; access-control-expose-headers: X-Request-Id; " + varyOrigin
	publicPreHdrs = "access-control-allow-credentials: true; access-control-allow-methods: GET, POST, PUT, PATCH, DELETE; " +
		"access-control-allow-headers: content-type, authorization, x-request-id; access-control-max-age: 600; " + varyPreflight
)

var (
	forwardNothing = answer{Code: codes.OK}
	refused        = answer{Code: codes.PermissionDenied, HTTP: 403}
)

func forward(headers string) answer { return answer{Code: codes.OK, Headers: headers} }
func preflightOK(headers string) answer {
	return answer{Code: codes.PermissionDenied, HTTP: 204, Headers: headers}
}

// decisionCases covers every decision of the policy engine, as Envoy asks
// for it. Each runs with both header encodings.
var decisionCases = []struct {
	name string
	req  reqSpec
	want answer
}{
	{"allowed actual, exact origin",
		get("/api/v1/items", "Origin", partner),
		forward("access-control-allow-origin: " + partner + "; " + publicActual)},
	{"allowed actual, wildcard origin",
		get("/api/v1/items?q=1", "Origin", tenant),
		forward("access-control-allow-origin: " + tenant + "; " + publicActual)},
	{"allowed actual POST with mixed-case header name",
		reqSpec{Method: "POST", Scheme: "https", Host: "api.example.com", Path: "/api/v1/items", Headers: pairs([]string{"ORIGIN", partner})},
		forward("access-control-allow-origin: " + partner + "; " + publicActual)},
	{"disallowed origin, omit: no CORS headers, Vary kept",
		get("/api/v1/items", "Origin", "https://evil.example"),
		forward(varyOrigin)},
	{"wildcard never matches the apex",
		get("/api/v1/items", "Origin", "https://tenant.example.com"),
		forward(varyOrigin)},
	{"wildcard never matches a look-alike suffix",
		get("/api/v1/items", "Origin", "https://a.tenant.example.com.evil.net"),
		forward(varyOrigin)},
	{"wildcard never matches http",
		get("/api/v1/items", "Origin", "http://a.tenant.example.com"),
		forward(varyOrigin)},
	{"invalid origin is never echoed",
		get("/api/v1/items", "Origin", "https://partner.example.org/"),
		forward(varyOrigin)},
	{"null origin",
		get("/api/v1/items", "Origin", "null"),
		forward(varyOrigin)},
	{"empty origin",
		get("/api/v1/items", "Origin", ""),
		forward(varyOrigin)},
	{"origin with CRLF is never echoed",
		get("/api/v1/items", "Origin", partner+"\r\nset-cookie: a=b"),
		forward(varyOrigin)},
	{"two Origin lines are an invalid origin",
		get("/api/v1/items", "Origin", partner, "Origin", partner),
		forward(varyOrigin)},
	{"comma-joined origin list",
		get("/api/v1/items", "Origin", partner+","+tenant),
		forward(varyOrigin)},
	{"preflight allowed",
		options("/api/v1/items", "Origin", partner, "Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "content-type,x-request-id"),
		preflightOK("access-control-allow-origin: " + partner + "; " + publicPreHdrs)},
	{"preflight allowed, header list split over two lines",
		options("/api/v1/items", "Origin", partner, "Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "content-type", "Access-Control-Request-Headers", "X-Request-Id"),
		preflightOK("access-control-allow-origin: " + partner + "; " + publicPreHdrs)},
	{"preflight allowed, no request headers: no ACAH",
		options("/api/v1/items", "Origin", tenant, "Access-Control-Request-Method", "DELETE"),
		preflightOK("access-control-allow-origin: " + tenant + "; access-control-allow-credentials: true; " +
			"access-control-allow-methods: GET, POST, PUT, PATCH, DELETE; access-control-max-age: 600; " + varyPreflight)},
	{"preflight with private network on a class that allows it, reflecting headers",
		options("/reflect/x", "Origin", tenant, "Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "x-foo, x-bar", "Access-Control-Request-Private-Network", "true"),
		preflightOK("access-control-allow-origin: " + tenant + "; access-control-allow-methods: PUT; " +
			"access-control-allow-headers: x-foo, x-bar; access-control-allow-private-network: true; " +
			varyPreflight + ", Access-Control-Request-Private-Network")},
	{"preflight refused: origin",
		options("/api/v1/items", "Origin", "https://evil.example", "Access-Control-Request-Method", "PUT"),
		refused},
	{"preflight refused: method case differs",
		options("/api/v1/items", "Origin", partner, "Access-Control-Request-Method", "patch"),
		refused},
	{"preflight refused: header",
		options("/api/v1/items", "Origin", partner, "Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "content-type,x-secret"),
		refused},
	{"preflight refused: private network not allowed",
		options("/api/v1/items", "Origin", partner, "Access-Control-Request-Method", "GET",
			"Access-Control-Request-Private-Network", "true"),
		refused},
	{"preflight: private network other than exactly true is a plain preflight",
		options("/api/v1/items", "Origin", partner, "Access-Control-Request-Method", "DELETE",
			"Access-Control-Request-Private-Network", "TRUE"),
		preflightOK("access-control-allow-origin: " + partner + "; access-control-allow-credentials: true; " +
			"access-control-allow-methods: GET, POST, PUT, PATCH, DELETE; access-control-max-age: 600; " + varyPreflight)},
	{"no method: no grant, even after a GET from the same origin was cached",
		reqSpec{Scheme: "https", Host: "api.example.com", Path: "/api/v1/items", Headers: pairs([]string{"Origin", partner})},
		forward(varyOrigin)},
	{"no method on a deny_action reject class: 403",
		reqSpec{Scheme: "https", Host: "api.example.com", Path: "/strict/x", Headers: pairs([]string{"Origin", partner})},
		refused},
	{"dot segments: classified on the normal form (the internal class)",
		get("/api/v1/%2e%2e/admin", "Origin", partner),
		forwardNothing},
	{"encoded slash: no grant, even after a GET to the class was cached",
		get("/api/v1/..%2Fadmin", "Origin", partner),
		forward(varyOrigin)},
	{"backslash: preflight refused",
		options(`/api/v1/..\admin`, "Origin", partner, "Access-Control-Request-Method", "PUT"),
		refused},
	{"single dot segment keeps the grant",
		get("/api/v1/./items", "Origin", partner),
		forward("access-control-allow-origin: " + partner + "; " + publicActual)},
	{"preflight refused: internal class",
		options("/admin", "Origin", partner, "Access-Control-Request-Method", "GET"),
		refused},
	{"OPTIONS without ACRM is an actual request",
		options("/api/v1/items", "Origin", partner),
		forward("access-control-allow-origin: " + partner + "; " + publicActual)},
	{"not CORS on an external class: only Vary",
		get("/api/v1/items"),
		forward(varyOrigin)},
	{"not CORS on the internal class: untouched",
		get("/admin"),
		forwardNothing},
	{"OPTIONS without Origin is not CORS",
		options("/admin", "Access-Control-Request-Method", "GET"),
		forwardNothing},
	{"same origin: a self origin",
		get("/api/v1/items", "Origin", "https://app.example.com"),
		forward(varyOrigin)},
	{"same origin: the request's own scheme://host",
		get("/admin", "Origin", "https://api.example.com"),
		forwardNothing},
	{"same-origin preflight is forwarded",
		options("/admin", "Origin", "https://app.example.com", "Access-Control-Request-Method", "PUT"),
		forwardNothing},
	{"cross-origin actual request to the internal class: untouched",
		get("/admin", "Origin", partner),
		forwardNothing},
	{"deny_action reject answers 403",
		get("/strict/x", "Origin", "https://evil.example"),
		refused},
	{"deny_action reject still allows listed origins",
		get("/strict/x", "Origin", partner),
		forward("access-control-allow-origin: " + partner + "; " + varyOrigin)},
	{"deny_action reject never rejects non-CORS requests",
		get("/strict/x"),
		forward(varyOrigin)},
	{"deny_action self_origin sends the first self origin",
		get("/self/x", "Origin", "https://evil.example"),
		forward("access-control-allow-origin: https://app.example.com; " + varyOrigin)},
	{"deny_action self_origin prefers the self origin of the request's host",
		reqSpec{Method: "GET", Scheme: "https", Host: "other-app.example.com", Path: "/self/x", Headers: pairs([]string{"Origin", "https://evil.example"})},
		forward("access-control-allow-origin: https://other-app.example.com; " + varyOrigin)},
	{"deny_action self_origin: a trailing dot names the same host",
		reqSpec{Method: "GET", Scheme: "https", Host: "other-app.example.com.:443", Path: "/self/x", Headers: pairs([]string{"Origin", "https://evil.example"})},
		forward("access-control-allow-origin: https://other-app.example.com; " + varyOrigin)},
	{"same origin: the request's own host with a trailing dot is never rejected",
		reqSpec{Method: "GET", Scheme: "https", Host: "api.example.com.", Path: "/strict/x", Headers: pairs([]string{"Origin", "https://api.example.com"})},
		forward(varyOrigin)},
	{"context extension selects the class",
		reqSpec{Method: "GET", Scheme: "https", Host: "api.example.com", Path: "/admin", Class: "public-api", Headers: pairs([]string{"Origin", partner})},
		forward("access-control-allow-origin: " + partner + "; " + publicActual)},
	{"context extension overrides a matching class",
		reqSpec{Method: "GET", Scheme: "https", Host: "api.example.com", Path: "/api/v1/items", Class: "internal", Headers: pairs([]string{"Origin", partner})},
		forwardNothing},
	{"unknown class in context extension: default deny",
		reqSpec{Method: "GET", Scheme: "https", Host: "api.example.com", Path: "/api/v1/items", Class: "no-such-class", Headers: pairs([]string{"Origin", partner})},
		forwardNothing},
	{"unknown class in context extension: preflight refused",
		reqSpec{Method: "OPTIONS", Scheme: "https", Host: "api.example.com", Path: "/api/v1/items", Class: "no-such-class",
			Headers: pairs([]string{"Origin", partner, "Access-Control-Request-Method", "GET"})},
		refused},
}

func TestCheckDecisionsOverGRPC(t *testing.T) {
	s, _ := newTestService(t, DefaultCacheSize)
	client := serve(t, s)
	for _, raw := range []bool{false, true} {
		enc := "headers"
		if raw {
			enc = "header_map"
		}
		for _, tc := range decisionCases {
			t.Run(enc+"/"+tc.name, func(t *testing.T) {
				rs := tc.req
				rs.Raw = raw
				// Twice: the second answer may come from the cache and
				// must be the same.
				for i := range 2 {
					resp, err := client.Check(context.Background(), rs.build())
					if err != nil {
						t.Fatalf("Check: %v", err)
					}
					if got := assertResponse(t, resp); got != tc.want {
						t.Errorf("call %d:\n got %v\nwant %v", i+1, got, tc.want)
					}
				}
			})
		}
	}
}

// TestCheckMalformed: requests missing what Envoy always sends are answered
// (forwarded with no CORS headers: the CORS default deny), never an error.
func TestCheckMalformed(t *testing.T) {
	s, reg := newTestService(t, DefaultCacheSize)
	client := serve(t, s)
	withHTTP := func(h *authv3.AttributeContext_HttpRequest) *authv3.CheckRequest {
		return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: h}}}
	}
	cases := []struct {
		name      string
		req       *authv3.CheckRequest
		malformed bool
		want      answer
	}{
		{"empty request", &authv3.CheckRequest{}, true, forwardNothing},
		{"nil request", nil, true, forwardNothing},
		{"attributes without request", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{}}, true, forwardNothing},
		{"request without http", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{}}}, true, forwardNothing},
		{"http without anything", withHTTP(&authv3.AttributeContext_HttpRequest{}), false, forwardNothing},
		{"origin but no method, host or path", withHTTP(&authv3.AttributeContext_HttpRequest{
			Headers: map[string]string{"origin": partner}}), false, forwardNothing},
		{"empty header_map", withHTTP(&authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/api/v1/x"}), false, forward(varyOrigin)},
		{"path only in http.path, origin only in header_map", withHTTP(&authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: "/api/v1/x", Host: "api.example.com", Scheme: "https",
			HeaderMap: (reqSpec{Raw: true, Headers: pairs([]string{"origin", partner})}).build().GetAttributes().GetRequest().GetHttp().GetHeaderMap(),
		}), false, forward("access-control-allow-origin: " + partner + "; " + publicActual)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := counterValue(t, reg, metricChecks, "verdict", "malformed")
			var (
				resp *authv3.CheckResponse
				err  error
			)
			if tc.req == nil {
				resp, err = s.Check(context.Background(), nil) // gRPC never passes nil
			} else {
				resp, err = client.Check(context.Background(), tc.req)
			}
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got := assertResponse(t, resp); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			delta := counterValue(t, reg, metricChecks, "verdict", "malformed") - before
			if want := map[bool]float64{true: 1, false: 0}[tc.malformed]; delta != want {
				t.Errorf("malformed count +%v, want +%v", delta, want)
			}
		})
	}
}

// TestCheckBeforePolicy: before SetPolicy the service is not ready but
// answers with the default deny of an empty policy.
func TestCheckBeforePolicy(t *testing.T) {
	s := New(Options{CacheSize: 10})
	if s.Ready() {
		t.Fatal("Ready before SetPolicy")
	}
	if cur := s.Current(); cur.Policy != nil || cur.Generation != 0 || !cur.LoadedAt.IsZero() {
		t.Fatalf("Current before SetPolicy = %+v, want zero", cur)
	}
	client := serve(t, s)
	for _, tc := range []struct {
		req  reqSpec
		want answer
	}{
		{get("/api/v1/items", "Origin", partner), forwardNothing},
		{get("/api/v1/items"), forwardNothing},
		{options("/api/v1/items", "Origin", partner, "Access-Control-Request-Method", "GET"), refused},
	} {
		resp, err := client.Check(context.Background(), tc.req.build())
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if got := assertResponse(t, resp); got != tc.want {
			t.Errorf("%s %s: got %v, want %v", tc.req.Method, tc.req.Path, got, tc.want)
		}
	}
	gen := s.SetPolicy(mustPolicy(t, testPolicyYAML))
	if gen != 1 || !s.Ready() || s.Current().Generation != 1 || s.Current().Policy == nil || s.Current().LoadedAt.IsZero() {
		t.Fatalf("after SetPolicy: gen %d ready %v current %+v", gen, s.Ready(), s.Current())
	}
	if s.SetPolicy(nil) != 1 || s.Current().Generation != 1 {
		t.Fatal("SetPolicy(nil) changed the generation")
	}
}

// TestSetPolicyChangesVerdictsLive: a reload takes effect for the very next
// Check, cached answers of the old policy included.
func TestSetPolicyChangesVerdictsLive(t *testing.T) {
	s, reg := newTestService(t, DefaultCacheSize)
	client := serve(t, s)
	allowed := forward("access-control-allow-origin: " + partner + "; " + publicActual)
	denied := forward(varyOrigin)
	check := func(want answer) {
		t.Helper()
		resp, err := client.Check(context.Background(), get("/api/v1/items", "Origin", partner).build())
		if err != nil {
			t.Fatal(err)
		}
		if got := assertResponse(t, resp); got != want {
			t.Fatalf("gen %d: got %v, want %v", s.Current().Generation, got, want)
		}
	}
	check(allowed)
	check(allowed) // now cached
	if hits := counterValue(t, reg, metricHits); hits != 1 {
		t.Fatalf("cache hits %v, want 1", hits)
	}
	for gen := uint64(2); gen <= 5; gen++ {
		yaml, want := testPolicyNoPartnerYAML, denied
		if gen%2 == 1 {
			yaml, want = testPolicyYAML, allowed
		}
		if got := s.SetPolicy(mustPolicy(t, yaml)); got != gen {
			t.Fatalf("SetPolicy returned generation %d, want %d", got, gen)
		}
		if g := gaugeValue(t, reg, metricGeneration); g != float64(gen) {
			t.Fatalf("generation gauge %v, want %d", g, gen)
		}
		check(want)
		check(want)
	}
}
