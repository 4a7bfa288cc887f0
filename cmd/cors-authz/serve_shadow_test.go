package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// shadowInfo reads /shadow.
type shadowInfo struct {
	Generation      uint64 `json:"generation"`
	SHA256          string `json:"sha256"`
	Source          string `json:"source"`
	Checks          uint64 `json:"checks"`
	LastReloadError *struct {
		Message string `json:"message"`
	} `json:"last_reload_error"`
	Disagreements []struct {
		Class string `json:"class"`
		Kind  string `json:"kind"`
		Count uint64 `json:"count"`
	} `json:"disagreements"`
}

func (p *serveProc) shadow() shadowInfo {
	p.t.Helper()
	code, body := p.get("/shadow")
	if code != 200 {
		p.t.Fatalf("/shadow = %d %s", code, body)
	}
	var v shadowInfo
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		p.t.Fatal(err)
	}
	return v
}

// --shadow-config: the shadow policy is decided on every Check and never
// enforced; its disagreements are counted, shown in /shadow and
// /metrics, and follow the shadow file as it is reloaded.
func TestServeShadow(t *testing.T) {
	enforced := tempPolicy(t, servePolicy(servePartnerA))
	shadowPath := filepath.Join(t.TempDir(), "shadow.yaml")
	replaceFile(t, shadowPath, servePolicy(servePartnerB))
	p := startServe(t, "--config", enforced, "--shadow-config", shadowPath, "--reload-debounce", "20ms")
	c := p.conn()

	// Enforced answers, whatever the shadow says.
	if got := acaoFor(t, c, servePartnerA); got != servePartnerA {
		t.Errorf("partner A: ACAO %q, want the enforced grant", got)
	}
	if got := acaoFor(t, c, servePartnerB); got != "" {
		t.Errorf("partner B: ACAO %q: the shadow policy was enforced", got)
	}
	const (
		wouldDeny  = `cors_authz_shadow_disagreements_total{class="public-api",kind="would_deny"}`
		wouldAllow = `cors_authz_shadow_disagreements_total{class="public-api",kind="would_allow"}`
	)
	if d, a := p.metric(wouldDeny), p.metric(wouldAllow); d != "1" || a != "1" {
		t.Errorf("would_deny %q would_allow %q, want 1 and 1", d, a)
	}
	if got := p.metric("cors_authz_shadow_policy_generation"); got != "1" {
		t.Errorf("shadow generation = %q, want 1", got)
	}
	v := p.shadow()
	if v.Generation != 1 || v.Source != shadowPath || v.Checks != 2 || v.LastReloadError != nil {
		t.Errorf("/shadow = %+v", v)
	}
	// cors_authz_policy_info: one series per role, each the file's sha256.
	for role, sha := range map[string]string{"enforced": p.policy().SHA256, "shadow": v.SHA256} {
		if got := p.metric(`cors_authz_policy_info{role="` + role + `",sha256="` + sha + `"}`); got != "1" {
			t.Errorf("policy_info{role=%q} = %q, want 1", role, got)
		}
	}

	// Live reload: the shadow now equals the enforced policy.
	replaceFile(t, shadowPath, servePolicy(servePartnerA))
	waitFor(t, "the shadow reload", func() bool { return p.shadow().Generation == 2 })
	acaoFor(t, c, servePartnerA) // cached enforced answer, fresh shadow outcome
	acaoFor(t, c, servePartnerB)
	if d, a := p.metric(wouldDeny), p.metric(wouldAllow); d != "1" || a != "1" {
		t.Errorf("after the reload: would_deny %q would_allow %q, want them unchanged (1, 1)", d, a)
	}
	if v := p.shadow(); v.Checks != 2 || total(v) != 0 {
		t.Errorf("/shadow after the reload = %+v, want 2 checks and no disagreement for the new shadow", v)
	}

	// A refused shadow file keeps the last good shadow.
	replaceFile(t, shadowPath, refusedPolicy)
	waitFor(t, "the refusal", func() bool { return p.shadow().LastReloadError != nil })
	if got := p.metric(metricShadowReloadFailed); got != "1" {
		t.Errorf("%s = %q, want 1", metricShadowReloadFailed, got)
	}
	if got := p.metric("cors_authz_policy_last_reload_failed"); got != "0" {
		t.Errorf("the enforced policy's reload gauge = %q: a refused shadow must not touch it", got)
	}
	if v := p.shadow(); v.Generation != 2 {
		t.Errorf("shadow generation %d after a refused file, want 2", v.Generation)
	}

	// SIGHUP reloads both files.
	replaceFile(t, shadowPath, servePolicy(servePartnerB))
	replaceFile(t, enforced, servePolicy(servePartnerB))
	p.hup <- syscall.SIGHUP
	waitFor(t, "both reloads", func() bool { return p.shadow().Generation == 3 && p.policy().Generation == 2 })
	if got := acaoFor(t, c, servePartnerB); got != servePartnerB {
		t.Errorf("after reloading both: partner B ACAO %q", got)
	}
}

func total(v shadowInfo) uint64 {
	var n uint64
	for _, d := range v.Disagreements {
		n += d.Count
	}
	return n
}

// A shadow file is validated like the policy: refused, serve does not
// start.
func TestServeShadowRefusedAtStart(t *testing.T) {
	bad := tempPolicy(t, refusedPolicy)
	good := tempPolicy(t, servePolicy(servePartnerA))
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		args []string
		want int
		logs []string
	}{
		{"refused shadow", []string{"--config", good, "--shadow-config", bad}, 1, []string{bad + ":5:", "shadow policy " + bad + " refused"}},
		{"missing shadow", []string{"--shadow-config", bad + ".missing"}, 1, []string{"no such file"}},
		{"negative log rate", []string{"--shadow-log-rate", "-1"}, 2, []string{"--shadow-log-rate"}},
		{"NaN log rate", []string{"--shadow-log-rate", "NaN"}, 2, []string{"--shadow-log-rate"}},
		// Both watchers are running when the port turns out to be taken:
		// they are stopped again (goleak checks) and serve exits 1.
		{"busy port after loading both", []string{"--config", good, "--shadow-config", good, "--grpc-addr", busy.Addr().String()}, 1, []string{"address already in use"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			args := append([]string{"--grpc-addr", "127.0.0.1:0", "--admin-addr="}, tt.args...)
			if code := serve(ctx, args, func(string) (string, bool) { return "", false }, nil, &stderr); code != tt.want {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.want, stderr.String())
			}
			for _, w := range tt.logs {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

func TestServeShadowConfigFromEnv(t *testing.T) {
	env := map[string]string{"CORS_AUTHZ_SHADOW_CONFIG": "/etc/shadow.yaml", "CORS_AUTHZ_SHADOW_LOG_RATE": "0.5", "CORS_AUTHZ_ADMIN_UI": "false"}
	c, err := parseServeConfig(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.shadowConfig != "/etc/shadow.yaml" || c.shadowLogRate != 0.5 || c.adminUI {
		t.Errorf("config = %+v", c)
	}
	c, err = parseServeConfig(nil, func(string) (string, bool) { return "", false }, &bytes.Buffer{})
	if err != nil || c.shadowConfig != "" || c.shadowLogRate != 1 || !c.adminUI {
		t.Errorf("defaults = %+v (%v), want no shadow, 1 record/s, admin UI on", c, err)
	}
}

// The embedded policy with a shadow file: SIGHUP reloads the shadow.
func TestServeShadowWithEmbeddedPolicy(t *testing.T) {
	shadowPath := filepath.Join(t.TempDir(), "shadow.yaml")
	replaceFile(t, shadowPath, servePolicy(servePartnerA))
	p := startServe(t, "--shadow-config", shadowPath, "--reload-debounce", "1h")
	replaceFile(t, shadowPath, servePolicy(servePartnerB))
	p.hup <- syscall.SIGHUP
	waitFor(t, "the shadow reload", func() bool { return p.shadow().Generation == 2 })
	if _, ok := p.logs.Find("SIGHUP ignored: serving the embedded policy, which has no file to reload"); ok {
		t.Error("SIGHUP was reported as ignored although it reloaded the shadow policy")
	}
}

// The admin page is on by default and off with --admin-ui=false; the JSON
// endpoints stay.
func TestServeAdminUI(t *testing.T) {
	path := tempPolicy(t, servePolicy(servePartnerA))
	on := startServe(t, "--config", path)
	if code, body := on.get("/"); code != 200 || !strings.Contains(body, "Try a request") {
		t.Errorf("GET / = %d, want the page", code)
	}
	off := startServe(t, "--config", path, "--admin-ui=false")
	for path, want := range map[string]int{"/": 404, "/explain?format=html": 404, "/explain?origin=https://x.example": 200, "/policy": 200, "/shadow": 404} {
		if code, _ := off.get(path); code != want {
			t.Errorf("--admin-ui=false: GET %s = %d, want %d", path, code, want)
		}
	}
}

// /explain answers with exactly what `cors-authz explain --json` prints
// for the same input and policy file.
func TestServeExplainMatchesCLI(t *testing.T) {
	path := tempPolicy(t, servePolicy(servePartnerA))
	p := startServe(t, "--config", path)
	tests := []struct {
		name    string
		flags   []string
		query   url.Values
		headers []string
	}{
		{"allowed", []string{"--origin", servePartnerA, "--path", "/api/x"}, url.Values{"origin": {servePartnerA}, "path": {"/api/x"}}, nil},
		{"refused", []string{"--origin", "https://evil.example", "--path", "/api/x", "--host", "api.example.com"},
			url.Values{"origin": {"https://evil.example"}, "path": {"/api/x"}, "host": {"api.example.com"}}, nil},
		{"preflight", []string{"--origin", servePartnerA, "--path", "/api/x", "--method", "OPTIONS"},
			url.Values{"origin": {servePartnerA}, "path": {"/api/x"}, "method": {"OPTIONS"}},
			[]string{"Access-Control-Request-Method: PUT", "Access-Control-Request-Headers: x-custom"}},
		{"internal", []string{"--origin", servePartnerA, "--path", "/internal"}, url.Values{"origin": {servePartnerA}, "path": {"/internal"}}, nil},
		{"hint", []string{"--origin", servePartnerA, "--class", "nope"}, url.Values{"origin": {servePartnerA}, "class": {"nope"}}, nil},
		{"no origin", []string{"--path", "/api/x"}, url.Values{"path": {"/api/x"}}, nil},
		{"hostile", []string{"--origin", `"><img src=x onerror=alert(1)>`}, url.Values{"origin": {`"><img src=x onerror=alert(1)>`}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--config", path, "--json"}, tt.flags...)
			for _, h := range tt.headers {
				args = append(args, "--header", h)
				tt.query.Add("header", h)
			}
			var cli, stderr bytes.Buffer
			if code := explainCmd(context.Background(), args, &cli, &stderr); code != 0 {
				t.Fatalf("explain exited %d: %s", code, stderr.String())
			}
			code, body := p.get("/explain?" + tt.query.Encode())
			if code != 200 {
				t.Fatalf("/explain = %d %s", code, body)
			}
			if body != cli.String() {
				t.Errorf("/explain differs from the CLI:\n/explain: %s\nCLI:      %s", body, cli.String())
			}
		})
	}
}

func TestFanOut(t *testing.T) {
	in := make(chan os.Signal)
	outs, stop := fanOut(in, 2)
	in <- syscall.SIGHUP
	in <- syscall.SIGHUP // both outputs are full: dropped, not blocking
	// The second send returns once the fan-out goroutine has taken the
	// signal, possibly before it tried the outputs; stop waits for it to
	// finish (and exit), so the outputs below hold all it delivered.
	stop()
	for i, o := range outs {
		if sig := <-o; sig != syscall.SIGHUP {
			t.Errorf("output %d got %v", i, sig)
		}
		select {
		case sig := <-o:
			t.Errorf("output %d got a second signal %v: a pending reload already covers it", i, sig)
		default:
		}
	}
	stop() // idempotent
}
