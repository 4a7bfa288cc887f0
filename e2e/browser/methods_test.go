package browser

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cors-authz/cors-authz/e2e/envoymodel"
	"github.com/cors-authz/cors-authz/internal/atomicfile"
)

// methodPolicy is a policy whose public-api class (the class deploy/envoy.yaml
// routes /api/v1/ to) allows the partner exactly the methods listed.
func methodPolicy(partner, methods string) []byte {
	return fmt.Appendf(nil, `version: 1
classes:
  - name: public-api
    match: {path_prefixes: [/api/v1/]}
    allow_origins: [%s]
    allow_methods: [%s]
    # No preflight caching: every fetch below is preflighted afresh.
    max_age: 0
  - name: internal
    match: {path_prefixes: [/]}
`, partner, methods)
}

// TestBrowserPatchMethodAsWritten (issue 11 item 7): Fetch upper-cases only
// DELETE, GET, HEAD, OPTIONS, POST and PUT (Fetch §2.2.1 "normalize"), so
// fetch(url, {method: "patch"}) sends "patch", preflights with
// Access-Control-Request-Method: patch, and succeeds only against a class
// that lists "patch" as written; a class listing only "PATCH" refuses it
// (and the reverse holds for "PATCH").
func TestBrowserPatchMethodAsWritten(t *testing.T) {
	r := startRig(t)
	browser, app := r.browser, r.app
	dir := t.TempDir()
	api, partner := r.api, r.page("partner.test")

	// First the class lists "patch" as written (validate accepts it).
	policyPath := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyPath, methodPolicy(partner, "patch"), 0o644); err != nil {
		t.Fatal(err)
	}
	checks := &checkLog{}
	authz, _ := serveModel(t, r.proxyLn, app.URL, policyPath, func(cfg *envoymodel.Config) { cfg.OnCheck = checks.add })
	partnerTab := open(t, browser, partner+"/")

	// try fetches /api/v1/data with method m from the partner's page and
	// checks the outcome, the preflight cors-authz saw and what the
	// application received.
	try := func(t *testing.T, m string, wantOK bool) {
		t.Helper()
		before := len(app.Seen())
		r := partnerTab.fetch(t, api+"/api/v1/data", fmt.Sprintf(`{method: %q}`, m))
		t.Logf("observed: partner fetch(/api/v1/data, {method: %q}) → %s", m, r)
		pre := checks.find("OPTIONS", "/api/v1/data")
		if len(pre) == 0 {
			t.Fatalf("no preflight for %q reached cors-authz", m)
		}
		last := pre[len(pre)-1]
		acrm := last.Request.GetAttributes().GetRequest().GetHttp().GetHeaders()["access-control-request-method"]
		t.Logf("observed: preflight check acrm=%q → %s %d", acrm, last.Outcome, last.Status)
		if acrm != m {
			t.Errorf("Chromium preflighted with Access-Control-Request-Method %q, want %q as written", acrm, m)
		}
		seen := slices.Contains(app.Seen()[before:], m+" /api/v1/data")
		if wantOK {
			if !r.OK || r.Body != `{"data":"public"}` {
				t.Errorf("fetch with method %q: %s; want ok", m, r)
			}
			if last.Status != http.StatusNoContent || !seen {
				t.Errorf("preflight status %d, app saw %q: want 204 and the %s request", last.Status, app.Seen()[before:], m)
			}
			return
		}
		if !r.blocked() {
			t.Errorf("fetch with method %q: %s; want blocked", m, r)
		}
		if last.Status != http.StatusForbidden || seen {
			t.Errorf("preflight status %d, app saw %q: want 403 and no %s request", last.Status, app.Seen()[before:], m)
		}
	}

	t.Run("class listing patch", func(t *testing.T) {
		try(t, "patch", true)
		try(t, "PATCH", false)
	})

	loaded := authz.Log.Count("policy loaded")
	if err := atomicfile.Write(policyPath, methodPolicy(partner, "PATCH")); err != nil {
		t.Fatal(err)
	}
	if !authz.WaitLog("policy loaded", loaded+1, 10*time.Second) {
		t.Fatalf("the PATCH-only policy was not loaded within 10 s:\n%s", authz.Log)
	}

	t.Run("class listing only PATCH", func(t *testing.T) {
		try(t, "patch", false)
		try(t, "PATCH", true)
	})
}
