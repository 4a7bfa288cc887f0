package realenvoy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cors-authz/cors-authz/e2e/internal/harness"
	"github.com/cors-authz/cors-authz/internal/atomicfile"
	"github.com/cors-authz/cors-authz/internal/servetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.Cleanup(servetest.Exit)) }

// stack is one running topology: cors-authz, the application, and a proxy
// (real Envoy or the model) in front of them.
type stack struct {
	proxy string // base URL to dial, http://127.0.0.1:PORT
	host  string // :authority browsers would use, app.test:PORT

	self, partner, evil, late string

	app        *harness.App
	authz      *servetest.Server
	policyPath string
}

// startBackends builds and starts cors-authz and the application for a
// proxy that will listen on proxyPort.
func startBackends(t *testing.T, proxyPort int) *stack {
	t.Helper()
	dir := t.TempDir()
	s := &stack{
		proxy:   fmt.Sprintf("http://127.0.0.1:%d", proxyPort),
		host:    fmt.Sprintf("app.test:%d", proxyPort),
		self:    fmt.Sprintf("http://app.test:%d", proxyPort),
		partner: "http://partner.test:7001",
		evil:    "http://evil.test:7001",
		late:    "http://late.test:7001",
	}
	s.policyPath = filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(s.policyPath, harness.Policy(harness.PolicyParams{SelfOrigin: s.self, Partners: []string{s.partner}}), 0o644); err != nil {
		t.Fatal(err)
	}
	s.app = harness.StartApp()
	t.Cleanup(s.app.Close)
	s.authz = servetest.Run(t, servetest.Options{Args: []string{"--config", s.policyPath}, Ready: true})
	return s
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type result struct {
	status int
	header http.Header
	body   string
}

// send makes one request through the proxy as a browser on origin would
// (origin "" sends none).
func (s *stack) send(t *testing.T, method, path, origin string, hdr map[string]string) result {
	t.Helper()
	req, err := http.NewRequest(method, s.proxy+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = s.host
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableKeepAlives: true, Proxy: nil}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (r result) String() string {
	var acs []string
	for k, vs := range r.header {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") || strings.EqualFold(k, "vary") {
			acs = append(acs, fmt.Sprintf("%s=%q", k, vs))
		}
	}
	slices.Sort(acs)
	return fmt.Sprintf("%d %s [%s]", r.status, r.body, strings.Join(acs, " "))
}

// acao returns every Access-Control-Allow-Origin line.
func (r result) acao() []string { return r.header.Values("Access-Control-Allow-Origin") }

// noCORS reports whether the response carries no Access-Control-* header.
func (r result) noCORS() bool {
	for k := range r.header {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			return false
		}
	}
	return true
}

// runScenarios runs the end-to-end scenarios at the HTTP level
// (what a browser would receive) against s.
func runScenarios(t *testing.T, s *stack) {
	t.Run("same-origin requests are untouched", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{{"GET", "/api/v1/data"}, {"POST", "/internal/data"}} {
			r := s.send(t, c.method, c.path, s.self, nil)
			t.Logf("observed: %s %s Origin=self → %s", c.method, c.path, r)
			if r.status != 200 || !r.noCORS() {
				t.Errorf("%s %s from self: %s; want 200 and no CORS headers", c.method, c.path, r)
			}
		}
	})
	t.Run("allowlisted partner GET", func(t *testing.T) {
		r := s.send(t, "GET", "/api/v1/data", s.partner, nil)
		t.Logf("observed: GET /api/v1/data Origin=partner → %s", r)
		if r.status != 200 || !slices.Equal(r.acao(), []string{s.partner}) ||
			r.header.Get("Access-Control-Allow-Credentials") != "true" ||
			!strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Origin") {
			t.Errorf("partner GET: %s; want ACAO=%s, ACAC=true, Vary: Origin", r, s.partner)
		}
	})
	t.Run("partner preflight then credentialed PUT", func(t *testing.T) {
		before := len(s.app.Seen())
		pre := s.send(t, "OPTIONS", "/api/v1/items", s.partner, map[string]string{
			"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type,x-custom",
		})
		t.Logf("observed: preflight PUT /api/v1/items Origin=partner → %s", pre)
		if pre.status != 204 || !slices.Equal(pre.acao(), []string{s.partner}) ||
			pre.header.Get("Access-Control-Allow-Credentials") != "true" ||
			!strings.Contains(pre.header.Get("Access-Control-Allow-Methods"), "PUT") ||
			!strings.Contains(strings.ToLower(pre.header.Get("Access-Control-Allow-Headers")), "x-custom") {
			t.Errorf("preflight: %s", pre)
		}
		put := s.send(t, "PUT", "/api/v1/items", s.partner, map[string]string{"X-Custom": "42"})
		t.Logf("observed: PUT /api/v1/items Origin=partner → %s", put)
		if put.status != 200 || !slices.Equal(put.acao(), []string{s.partner}) || put.body != `{"updated":true,"custom":"42"}` {
			t.Errorf("PUT: %s", put)
		}
		if seen := s.app.Seen()[before:]; slices.Contains(seen, "OPTIONS /api/v1/items") {
			t.Errorf("the preflight reached the application: %q", seen)
		}
	})
	t.Run("unlisted origin gets no CORS headers", func(t *testing.T) {
		get := s.send(t, "GET", "/api/v1/data", s.evil, nil)
		t.Logf("observed: GET /api/v1/data Origin=evil → %s", get)
		if len(get.acao()) != 0 || get.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("evil GET: %s", get)
		}
		pre := s.send(t, "OPTIONS", "/api/v1/items", s.evil, map[string]string{"Access-Control-Request-Method": "PUT"})
		t.Logf("observed: preflight PUT /api/v1/items Origin=evil → %s", pre)
		if pre.status != 403 || !pre.noCORS() {
			t.Errorf("evil preflight: %s; want 403 without CORS headers", pre)
		}
	})
	t.Run("server-to-server call without Origin is unaffected", func(t *testing.T) {
		r := s.send(t, "GET", "/api/v1/data", "", nil)
		t.Logf("observed: GET /api/v1/data without Origin → %s", r)
		if r.status != 200 || r.body != `{"data":"public"}` || !r.noCORS() {
			t.Errorf("no-Origin GET: %s", r)
		}
	})
	t.Run("internal class refuses the partner", func(t *testing.T) {
		for _, path := range []string{"/internal/data", "/api/v1/%2e%2e/%2e%2e/internal/data", "//api/v1/../../internal/data"} {
			r := s.send(t, "GET", path, s.partner, nil)
			t.Logf("observed: GET %s Origin=partner → %s", path, r)
			if len(r.acao()) != 0 {
				t.Errorf("GET %s from partner: %s; want no ACAO", path, r)
			}
		}
		pre := s.send(t, "OPTIONS", "/internal/data", s.partner, map[string]string{"Access-Control-Request-Method": "PUT"})
		t.Logf("observed: preflight PUT /internal/data Origin=partner → %s", pre)
		if pre.status != 403 || !pre.noCORS() {
			t.Errorf("internal preflight: %s; want 403 without CORS headers", pre)
		}
	})
	t.Run("application's own ACAO * does not widen the policy", func(t *testing.T) {
		evil := s.send(t, "GET", "/api/v1/wildcard", s.evil, nil)
		t.Logf("observed: GET /api/v1/wildcard Origin=evil → %s", evil)
		if len(evil.acao()) != 0 {
			t.Errorf("evil on the wildcard endpoint: %s; want no ACAO", evil)
		}
		partner := s.send(t, "GET", "/api/v1/wildcard", s.partner, nil)
		t.Logf("observed: GET /api/v1/wildcard Origin=partner → %s", partner)
		if !slices.Equal(partner.acao(), []string{s.partner}) {
			t.Errorf("partner on the wildcard endpoint: %s; want exactly ACAO=%s", partner, s.partner)
		}
	})
	t.Run("allowlist change applies live without a restart", func(t *testing.T) {
		if r := s.send(t, "GET", "/api/v1/data", s.late, nil); len(r.acao()) != 0 {
			t.Fatalf("late origin allowed before the change: %s", r)
		}
		pid := s.authz.PID()
		written := time.Now()
		if err := atomicfile.Write(s.policyPath, harness.Policy(harness.PolicyParams{
			SelfOrigin: s.self, Partners: []string{s.partner, s.late},
		})); err != nil {
			t.Fatal(err)
		}
		var r result
		for attempt := 0; attempt < 100 && time.Since(written) < 10*time.Second; attempt++ {
			if r = s.send(t, "GET", "/api/v1/data", s.late, nil); len(r.acao()) > 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("observed: GET /api/v1/data Origin=late after the change (%.2fs) → %s", time.Since(written).Seconds(), r)
		if !slices.Equal(r.acao(), []string{s.late}) {
			t.Fatalf("late origin not allowed 10 s after the change: %s\n%s", r, s.authz.Log)
		}
		if s.authz.Exited() || s.authz.PID() != pid {
			t.Errorf("cors-authz restarted")
		}
	})
}
