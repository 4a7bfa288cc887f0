package envoymodel

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// Local replies of filters placed after ext_authz carry the CORS headers an
// OK check returned (so a page can read a 401, 403 or 429); replies of
// filters before it, on routes without the check, or after a failed check
// do not.
func TestLocalRepliesCarryCORSHeaders(t *testing.T) {
	const origin = "https://partner.example.org"
	jwt := func(before bool) LocalReplyFilter {
		return LocalReplyFilter{
			Name: "envoy.filters.http.jwt_authn", BeforeExtAuthz: before, Status: http.StatusUnauthorized,
			Headers: map[string]string{"www-authenticate": `Bearer realm="api"`}, Body: "Jwt is missing",
			Reject: func(_, _ string, h http.Header) bool { return h.Get("authorization") == "" },
		}
	}
	rbac := LocalReplyFilter{Name: "envoy.filters.http.rbac", Status: http.StatusForbidden, Body: "RBAC: access denied",
		Reject: func(method, _ string, _ http.Header) bool { return method == http.MethodDelete }}
	ratelimit := LocalReplyFilter{Name: "envoy.filters.http.local_ratelimit", Status: http.StatusTooManyRequests, Body: "local_rate_limited"}

	checkOK := fixed(okWith(hvo("access-control-allow-origin", origin, overwriteOrAdd), hvo("vary", "Origin", appendOrAdd)))
	tests := []struct {
		name       string
		filters    []LocalReplyFilter
		deadAuthz  bool // the check errs; failure_mode_allow forwards
		deadUp     bool // the upstream refuses connections: the router's 503
		method     string
		path       string
		auth       string
		wantStatus int
		wantCORS   bool
		wantChecks int
	}{
		{name: "jwt_authn after ext_authz: 401 with CORS", filters: []LocalReplyFilter{jwt(false)},
			method: "GET", path: "/api/v1/orders", wantStatus: 401, wantCORS: true, wantChecks: 1},
		{name: "rbac after ext_authz: 403 with CORS", filters: []LocalReplyFilter{jwt(false), rbac},
			method: "DELETE", path: "/api/v1/orders", auth: "Bearer x", wantStatus: 403, wantCORS: true, wantChecks: 1},
		{name: "local_ratelimit after ext_authz: 429 with CORS", filters: []LocalReplyFilter{ratelimit},
			method: "GET", path: "/api/v1/orders", wantStatus: 429, wantCORS: true, wantChecks: 1},
		{name: "router 503 (upstream down): with CORS", deadUp: true,
			method: "GET", path: "/api/v1/orders", wantStatus: 503, wantCORS: true, wantChecks: 1},
		{name: "filters pass: the upstream's 200 with CORS (control)", filters: []LocalReplyFilter{jwt(false), rbac},
			method: "GET", path: "/api/v1/orders", auth: "Bearer x", wantStatus: 200, wantCORS: true, wantChecks: 1},
		{name: "jwt_authn before ext_authz: 401 without CORS, no check", filters: []LocalReplyFilter{jwt(true)},
			method: "GET", path: "/api/v1/orders", wantStatus: 401, wantCORS: false, wantChecks: 0},
		{name: "route without ext_authz: 401 without CORS", filters: []LocalReplyFilter{jwt(false)},
			method: "GET", path: "/healthz", wantStatus: 401, wantCORS: false, wantChecks: 0},
		{name: "check failed, failure_mode_allow: 401 without CORS", filters: []LocalReplyFilter{jwt(false)}, deadAuthz: true,
			method: "GET", path: "/api/v1/orders", wantStatus: 401, wantCORS: false, wantChecks: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fa := startFakeAuthz(t, checkOK)
			authzAddr := fa.addr
			if tc.deadAuthz {
				authzAddr = deadAddr(t)
			}
			up := startUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
			if tc.deadUp {
				up.Close()
			}
			var checks atomic.Int32
			p := startProxy(t, Config{Filters: tc.filters, FailureModeAllow: true,
				OnCheck: func(ev CheckEvent) {
					if ev.Outcome == OutcomeOK {
						checks.Add(1)
					}
				}}, up, authzAddr)
			hdr := http.Header{"Origin": {origin}}
			if tc.auth != "" {
				hdr.Set("Authorization", tc.auth)
			}
			resp, body := do(t, tc.method, p.URL+tc.path, hdr)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tc.wantStatus)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); (got == origin) != tc.wantCORS || (!tc.wantCORS && got != "") {
				t.Errorf("ACAO %q, want CORS headers: %v", got, tc.wantCORS)
			}
			if tc.wantCORS && !strings.Contains(resp.Header.Get("Vary"), "Origin") {
				t.Errorf("Vary %q lacks Origin", resp.Header.Get("Vary"))
			}
			if n := int(checks.Load()); n != tc.wantChecks {
				t.Errorf("%d OK checks, want %d", n, tc.wantChecks)
			}
			if tc.wantStatus == 401 && resp.Header.Get("Www-Authenticate") == "" {
				t.Errorf("the filter's own header is missing")
			}
		})
	}
}

func TestLocalReplyFilterConfigErrors(t *testing.T) {
	for _, status := range []int{0, 199, 600} {
		_, err := New(Config{Upstream: "http://127.0.0.1:1", AuthzTarget: "127.0.0.1:1",
			Filters: []LocalReplyFilter{{Name: "x", Status: status}}})
		if err == nil || !strings.Contains(err.Error(), "filters[0]") {
			t.Errorf("status %d: err %v, want a filters[0] error", status, err)
		}
	}
}
