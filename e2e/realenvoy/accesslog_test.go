package realenvoy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cors-authz/cors-authz/e2e/envoymodel"
	"github.com/cors-authz/cors-authz/internal/logtest"
	"github.com/cors-authz/cors-authz/pkg/envoyauth"
)

// TestAccessLogModel sends an allowed preflight, a refused origin and a
// request to an internal route through the Envoy model configured from
// deploy/envoy.yaml, access log included, in front of the real cors-authz,
// and checks each logged line: the status, Envoy's flags and details, and
// the decision cors-authz put in the dynamic metadata (class, kind,
// reason, the policy's short sha256 and generation). go test -v prints
// the lines (docs/deploy.md shows them).
func TestAccessLogModel(t *testing.T) {
	var log logtest.Lines // the access log
	s := startModel(t, func(cfg *envoymodel.Config) {
		if cfg.AccessLogFormat == "" {
			t.Fatal("deploy/envoy.yaml configures no access log")
		}
		cfg.AccessLog = &log
	})
	pol, err := s.authz.Policy()
	if err != nil {
		t.Fatal(err)
	}
	policy := fmt.Sprintf("cors_policy=%s cors_generation=%d", pol.SHA256[:envoyauth.ShortSHA256Len], pol.Generation)

	tests := []struct {
		name         string
		method, path string
		origin       string
		hdr          map[string]string
		want         []string // substrings of the line
	}{
		{"allowed preflight", "OPTIONS", "/api/v1/items", s.partner,
			map[string]string{"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type"},
			[]string{`"OPTIONS /api/v1/items HTTP/1.1" 204 UAEX ext_authz_denied`, `origin="` + s.partner + `"`,
				"cors_class=public-api cors_kind=preflight cors_reason=preflight_allowed", policy}},
		{"refused origin", "GET", "/api/v1/data", s.evil, nil,
			[]string{`"GET /api/v1/data HTTP/1.1" 200 - via_upstream`, `origin="` + s.evil + `"`,
				"cors_class=public-api cors_kind=actual cors_reason=origin_not_allowed", policy}},
		{"internal route", "GET", "/internal/data", s.partner, nil,
			[]string{`"GET /internal/data HTTP/1.1" 200 - via_upstream`, `origin="` + s.partner + `"`,
				"cors_class=internal cors_kind=actual cors_reason=cross_origin_to_internal", policy}},
		{"no Origin", "GET", "/api/v1/data", "", nil,
			[]string{`"GET /api/v1/data HTTP/1.1" 200 - via_upstream`, `origin="-"`,
				"cors_class=public-api cors_kind=not_cors cors_reason=not_cors", policy}},
	}
	for _, tt := range tests {
		log.Reset()
		s.send(t, tt.method, tt.path, tt.origin, tt.hdr)
		line := log.WaitLine(t)
		t.Logf("%s: %s", tt.name, strings.TrimSuffix(line, "\n"))
		for _, w := range tt.want {
			if !strings.Contains(line, w) {
				t.Errorf("%s: the access log line lacks %q:\n%s", tt.name, w, line)
			}
		}
	}
}
