package browser

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cors-authz/cors-authz/internal/atomicfile"
)

// delegatedBase is the harness policy's shape as a base policy whose
// public-api class teams extend under partners.test (plain-http loopback
// origins, hence the http scheme and the insecure opt-in), adding at most
// PUT and X-Custom for the origins they grant.
func delegatedBase(self string) []byte {
	return []byte(fmt.Sprintf(`version: 1
self_origins: [%s]
classes:
  - name: public-api
    match: {path_prefixes: [/api/v1/]}
    allow_methods: [GET, POST]
    allow_headers: [Content-Type]
    expose_headers: [X-App]
    allow_credentials: true
    dangerously_allow_insecure_origins: true
    max_age: 5
    delegate:
      origin_domains: [partners.test]
      origin_schemes: [http]
      allow_methods: [PUT]
      allow_headers: [X-Custom]
  - name: internal
    match: {path_prefixes: [/]}
`, self))
}

func teamFragment(origins, additions string) []byte {
	return []byte("version: 1\nextend:\n  - class: public-api\n    allow_origins: [" + origins + "]\n" + additions)
}

// TestBrowserDelegation: team A's fragment grants its partner page, which
// then reads the API and passes a preflight for A's PUT with X-Custom,
// while team B's fragment, which also grants an origin outside its
// guardrails, is refused alone: B's partner stays blocked until B fixes
// its file, and then gets the class without A's additions.
func TestBrowserDelegation(t *testing.T) {
	r := startRig(t)
	browser, app := r.browser, r.app
	var (
		api      = r.api
		partnerA = r.page("a.partners.test")
		partnerB = r.page("b.partners.test")
		evil     = r.page("evil.test")
	)
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"policy.yaml": delegatedBase(api),
		"team-a.yaml": teamFragment(partnerA, "    allow_methods: [PUT]\n    allow_headers: [X-Custom]\n"),
		"team-b.yaml": teamFragment(partnerB+", "+evil, ""),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	authz, _ := serveModel(t, r.proxyLn, app.URL, dir, nil)
	put := `{method: "PUT", credentials: "include", headers: {"X-Custom": "42", "Content-Type": "application/json"}, body: "{}"}`

	tabA := open(t, browser, partnerA+"/")
	tabB := open(t, browser, partnerB+"/")
	tabEvil := open(t, browser, evil+"/")

	t.Run("team B's fragment is refused alone", func(t *testing.T) {
		m, err := authz.Metrics()
		if err != nil {
			t.Fatal(err)
		}
		if m.Value(`cors_authz_policy_file_state{file="team-b.yaml",state="refused"}`) != 1 ||
			m.Value(`cors_authz_policy_file_state{file="team-a.yaml",state="loaded"}`) != 1 {
			t.Errorf("file states: team-b refused %v, team-a loaded %v",
				m.Value(`cors_authz_policy_file_state{file="team-b.yaml",state="refused"}`),
				m.Value(`cors_authz_policy_file_state{file="team-a.yaml",state="loaded"}`))
		}
		if authz.Log.Count("policy file refused; it is not served") == 0 {
			t.Errorf("no log line for team B's refusal:\n%s", authz.Log)
		}
	})

	t.Run("team A's partner reads the API and passes A's preflight", func(t *testing.T) {
		get := tabA.fetch(t, api+"/api/v1/data", `{credentials: "include"}`)
		report(t, "team A's partner GET /api/v1/data", get)
		if !get.OK || get.Body != `{"data":"public"}` || get.XApp != "1" {
			t.Errorf("team A's partner GET: %s", get)
		}
		r := tabA.fetch(t, api+"/api/v1/items", put)
		report(t, "team A's partner PUT /api/v1/items (X-Custom)", r)
		if !r.OK || r.Body != `{"updated":true,"custom":"42"}` {
			t.Errorf("team A's partner PUT: %s", r)
		}
	})

	t.Run("team B's partner and the origin outside B's guardrails are blocked", func(t *testing.T) {
		for _, c := range []struct {
			name string
			tab  *tab
		}{{"team B's partner", tabB}, {"evil", tabEvil}} {
			r := c.tab.fetch(t, api+"/api/v1/data", "")
			report(t, c.name+" GET /api/v1/data", r)
			if !r.blocked() {
				t.Errorf("%s read the API although team B's fragment is refused: %s", c.name, r)
			}
		}
	})

	t.Run("team B fixes its fragment: its partner gets the class, not A's additions", func(t *testing.T) {
		if err := atomicfile.Write(filepath.Join(dir, "team-b.yaml"), teamFragment(partnerB, "")); err != nil {
			t.Fatal(err)
		}
		var got fetchResult
		for attempt := 0; attempt < 100; attempt++ {
			if got = tabB.fetch(t, api+"/api/v1/data", ""); !got.blocked() {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		report(t, "team B's partner GET /api/v1/data after the fix", got)
		if !got.OK || got.Body != `{"data":"public"}` {
			t.Fatalf("team B's partner still blocked 10 s after the fix: %s\ncors-authz log:\n%s", got, authz.Log)
		}
		r := tabB.fetch(t, api+"/api/v1/items", put)
		report(t, "team B's partner PUT /api/v1/items (X-Custom: team A's additions)", r)
		if !r.blocked() {
			t.Errorf("team B's partner got team A's PUT and X-Custom: %s", r)
		}
		if r := tabA.fetch(t, api+"/api/v1/items", put); !r.OK {
			t.Errorf("team A's partner lost its PUT: %s", r)
		}
		if r := tabEvil.fetch(t, api+"/api/v1/data", ""); !r.blocked() {
			t.Errorf("evil allowed after team B's fix: %s", r)
		}
	})
}
