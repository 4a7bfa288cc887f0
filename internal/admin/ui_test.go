package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cors-authz/cors-authz/internal/admin"
	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/internal/explain"
	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Hostile strings: each must reach the page as text, never as markup.
const (
	hostileScript = `<script>alert(1)</script>`
	hostileAttr   = `"><img src=x onerror=alert(1)>`
)

const uiShadowPolicy = `version: 1
self_origins: [https://app.example.com]
classes:
  - name: public
    match: {path_prefixes: [/api/]}
    allow_origins: ["https://partner.example.org", "https://new.example.org"]
    expose_headers: [X-Total]
  - name: internal
    match: {path_prefixes: [/]}
`

// uiHandler serves testPolicy (from admin_test.go) as the enforced policy
// under a hostile source name with a refused reload quoting hostile
// values, and, with shadow, uiShadowPolicy as the shadow.
func uiHandler(t *testing.T, shadow bool, disableUI bool) http.Handler {
	t.Helper()
	pol, _, err := policy.Parse("/etc/"+hostileScript+"/policy.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	failure := &policy.ReloadFailure{At: at, Message: "policy refused: " + hostileAttr, Issues: []policy.Issue{
		{File: "policy.yaml", Line: 7, Column: 5, Path: "classes[0].allow_origins[0]", Value: hostileScript, Msg: "not an origin " + hostileAttr},
	}}
	opts := admin.Options{
		Policy: func() policy.Snapshot {
			return policy.Snapshot{Policy: pol, Generation: 3, LoadedAt: at, Reload: &policy.ReloadStatus{LastSuccess: at, LastError: failure}}
		},
		DisableUI: disableUI,
	}
	if shadow {
		sp, _, err := policy.Parse("shadow.yaml", []byte(uiShadowPolicy))
		if err != nil {
			t.Fatal(err)
		}
		opts.Shadow = func() policy.Shadow {
			return policy.Shadow{
				Snapshot: policy.Snapshot{Policy: sp, Generation: 2, LoadedAt: at, Reload: &policy.ReloadStatus{LastSuccess: at}},
				Checks:   40,
				Disagreements: []policy.Disagreement{
					{Class: "public", Kind: policy.WouldAllow, Count: 7}, {Class: "public", Kind: policy.WouldDeny, Count: 0},
					{Class: "public", Kind: policy.HeadersDiffer, Count: 12},
				},
			}
		}
	}
	return admin.New(opts)
}

func explainURL(params ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Add(params[i], params[i+1])
	}
	return "/explain?" + v.Encode()
}

// assertEscaped fails if body carries a hostile string as markup.
func assertEscaped(t *testing.T, body string) {
	t.Helper()
	for _, bad := range []string{"<script", "<img", `onerror=alert(1)>`} {
		if strings.Contains(body, bad) {
			t.Errorf("page carries %q unescaped", bad)
		}
	}
}

func TestUIEscapesEverything(t *testing.T) {
	h := uiHandler(t, true, false)
	t.Run("policy view", func(t *testing.T) {
		code, hdr, body := get(t, h, "GET", "/")
		if code != 200 || hdr.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("GET / = %d %s", code, hdr.Get("Content-Type"))
		}
		assertEscaped(t, body)
		for _, want := range []string{
			"/etc/&lt;script&gt;alert(1)&lt;/script&gt;/policy.yaml", // the source name
			"policy refused: &#34;&gt;&lt;img src=x onerror=alert(1)&gt;",
			"<code>&#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;</code>", // the issue's value, quoted
		} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
	})
	t.Run("explain result", func(t *testing.T) {
		for _, hostile := range []string{hostileScript, hostileAttr} {
			u := explainURL("format", "html", "origin", hostile, "path", "/api/"+hostile, "host", hostile,
				"class", hostile, "headers", "Access-Control-Request-Headers: "+hostile+"\nX-Other: "+hostile, "method", "OPTIONS")
			code, _, body := get(t, h, "GET", u)
			if code != 200 {
				t.Fatalf("GET %s = %d\n%s", u, code, body)
			}
			assertEscaped(t, body)
			esc := strings.NewReplacer("<", "&lt;", ">", "&gt;", `"`, "&#34;").Replace(hostile)
			if !strings.Contains(body, `<code id="req-origin">`+esc+`</code>`) {
				t.Errorf("the origin %q is not shown as escaped text", hostile)
			}
			if !strings.Contains(body, `name="origin" value="`+esc+`"`) {
				t.Errorf("the form does not keep the origin %q as an escaped attribute", hostile)
			}
		}
	})
}

func TestUISecurityHeadersAndMethods(t *testing.T) {
	h := uiHandler(t, true, false)
	for _, path := range []string{"/", explainURL("format", "html", "origin", "https://partner.example.org")} {
		_, hdr, _ := get(t, h, "GET", path)
		for name, want := range map[string]string{
			"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
			"Cache-Control":           "no-store",
		} {
			if got := hdr.Get(name); got != want {
				t.Errorf("GET %s: %s = %q, want %q", path, name, got, want)
			}
		}
	}
	for _, path := range []string{"/", "/explain", "/policy", "/shadow", "/metrics", "/healthz"} {
		for _, method := range []string{"POST", "PUT", "DELETE", "PATCH"} {
			if code, hdr, _ := get(t, h, method, path); code != http.StatusMethodNotAllowed || !strings.Contains(hdr.Get("Allow"), "GET") {
				t.Errorf("%s %s = %d (Allow %q), want 405 allowing GET", method, path, code, hdr.Get("Allow"))
			}
		}
		if code, _, _ := get(t, h, "HEAD", path); code != 200 {
			t.Errorf("HEAD %s = %d, want 200", path, code)
		}
	}
}

func TestUIDisabled(t *testing.T) {
	h := uiHandler(t, true, true)
	tests := []struct {
		path string
		want int
	}{
		{"/", 404},
		{explainURL("format", "html", "origin", "https://partner.example.org"), 404},
		{explainURL("origin", "https://partner.example.org", "path", "/api/x"), 200},
		{"/policy", 200},
		{"/shadow", 200},
		{"/nope", 404},
	}
	for _, tt := range tests {
		if code, _, body := get(t, h, "GET", tt.path); code != tt.want {
			t.Errorf("GET %s = %d, want %d: %.200s", tt.path, code, tt.want, body)
		}
	}
}

func TestUIOverview(t *testing.T) {
	t.Run("with shadow", func(t *testing.T) {
		_, _, body := get(t, uiHandler(t, true, false), "GET", "/")
		for _, want := range []string{
			`id="enforced-generation">3<`, `id="shadow-generation">2<`,
			"https://partner.example.org", "https://new.example.org", // both policies, class by class
			`<span class="badge warn">7</span>`, `<span class="badge warn">12</span>`, // disagreement counts
			"(19 of 40 checks)",
			`action="/explain"`, `name="format" value="html"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("overview lacks %q", want)
			}
		}
		if strings.Contains(body, "<script") || strings.Contains(body, "http://") && strings.Contains(body, "<link") {
			t.Error("the page loads something from elsewhere")
		}
	})
	t.Run("without shadow", func(t *testing.T) {
		_, _, body := get(t, uiHandler(t, false, false), "GET", "/")
		if !strings.Contains(body, "No shadow policy") || strings.Contains(body, `id="disagreements"`) {
			t.Error("overview without a shadow policy should say so and show no counts")
		}
	})
	t.Run("no policy", func(t *testing.T) {
		code, _, body := get(t, admin.New(admin.Options{}), "GET", "/")
		if code != 200 || !strings.Contains(body, "No policy loaded yet") {
			t.Errorf("GET / without a policy = %d", code)
		}
	})
}

func TestUIExplainVerdicts(t *testing.T) {
	h := uiHandler(t, true, false)
	tests := []struct {
		name, origin, path string
		want               []string
	}{
		{"allowed", "https://partner.example.org", "/api/x", []string{`<span class="badge ok">allowed</span>`, "origin_allowed", "access-control-allow-origin", `id="agreement">headers_differ<`}},
		{"blocked", "https://evil.example", "/api/x", []string{`<span class="badge no">denied</span>`, "origin_not_allowed", `id="agreement">agrees<`}},
		{"blocked, shadow would allow", "https://new.example.org", "/api/x", []string{"origin_not_allowed", `id="agreement">would_allow<`}},
		{"internal", "https://partner.example.org", "/admin", []string{"cross_origin_to_internal", `<strong class="class">internal</strong>`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := get(t, h, "GET", explainURL("format", "html", "origin", tt.origin, "path", tt.path, "host", "api.example.com"))
			if code != 200 {
				t.Fatalf("%d: %s", code, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("result page lacks %q", w)
				}
			}
		})
	}
	t.Run("preflight answer", func(t *testing.T) {
		_, _, body := get(t, h, "GET", explainURL("format", "html", "origin", "https://partner.example.org", "path", "/api/x",
			"method", "OPTIONS", "headers", "Access-Control-Request-Method: PUT\r\n\r\n"))
		if !strings.Contains(body, "HTTP 204") && !strings.Contains(body, "HTTP 403") {
			t.Errorf("a preflight's answer should show Envoy's own status:\n%s", body)
		}
	})
	t.Run("refused query", func(t *testing.T) {
		code, hdr, body := get(t, h, "GET", explainURL("format", "html", "headers", "no colon here"))
		if code != 400 || !strings.Contains(body, `id="explain-error"`) || hdr.Get("Content-Security-Policy") == "" {
			t.Errorf("a bad header line: %d, want 400 with the message on the page", code)
		}
	})
}

func TestExplainJSON(t *testing.T) {
	h := uiHandler(t, true, false)
	tests := []struct {
		name    string
		path    string
		want    int
		wantErr string
	}{
		{"ok", explainURL("origin", "https://partner.example.org", "path", "/api/x"), 200, ""},
		{"no origin", explainURL("path", "/api/x"), 200, ""},
		{"shadow", explainURL("origin", "https://new.example.org", "path", "/api/x", "policy", "shadow"), 200, ""},
		{"too long", "/explain?origin=" + strings.Repeat("a", 8<<10), 400, "at most 8192"},
		{"unknown parameter", explainURL("orign", "https://x.example"), 400, `unknown parameter "orign"`},
		{"repeated origin", "/explain?origin=https://a.example&origin=https://b.example", 400, `"origin" given 2 times`},
		{"header without colon", explainURL("header", "X-Foo"), 400, "expected 'Name: value'"},
		{"too many headers", "/explain?" + strings.Repeat("header=X-A:1&", 65), 400, "more than 64"},
		{"bad policy", explainURL("policy", "candidate"), 400, "want enforced or shadow"},
		{"bad format", explainURL("format", "xml"), 400, "want json or html"},
		{"bad escape", "/explain?origin=%zz", 400, "malformed query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, hdr, body := get(t, h, "GET", tt.path)
			if code != tt.want || hdr.Get("Content-Type") != "application/json" {
				t.Fatalf("GET %.80s = %d %s, want %d JSON: %s", tt.path, code, hdr.Get("Content-Type"), tt.want, body)
			}
			if tt.wantErr != "" {
				var e struct{ Error string }
				if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.Contains(e.Error, tt.wantErr) {
					t.Errorf("error %q, want it to contain %q", e.Error, tt.wantErr)
				}
				return
			}
			var e explain.Explanation
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Class != "public" || e.GRPCStatus == "" {
				t.Errorf("explanation %+v (%v)", e, err)
			}
		})
	}
	code, _, _ := get(t, uiHandler(t, false, false), "GET", explainURL("policy", "shadow"))
	if code != 404 {
		t.Errorf("policy=shadow without a shadow = %d, want 404", code)
	}
	code, _, _ = get(t, admin.New(admin.Options{}), "GET", explainURL("origin", "https://x.example"))
	if code != 503 {
		t.Errorf("explain without a policy = %d, want 503", code)
	}
}

func TestShadowJSON(t *testing.T) {
	code, _, body := get(t, uiHandler(t, true, false), "GET", "/shadow")
	type disagreement struct {
		Class string `json:"class"`
		Kind  string `json:"kind"`
		Count uint64 `json:"count"`
	}
	var v struct {
		Generation    uint64           `json:"generation"`
		Checks        uint64           `json:"checks"`
		Disagreements []disagreement   `json:"disagreements"`
		Policy        *policy.Document `json:"policy"`
	}
	if err := json.Unmarshal([]byte(body), &v); code != 200 || err != nil {
		t.Fatalf("GET /shadow = %d %v: %s", code, err, body)
	}
	if v.Generation != 2 || v.Checks != 40 || len(v.Disagreements) != 3 || v.Disagreements[2] != (disagreement{Class: "public", Kind: "headers_differ", Count: 12}) || v.Policy == nil {
		t.Errorf("/shadow = %+v", v)
	}
	if code, _, _ := get(t, uiHandler(t, false, false), "GET", "/shadow"); code != 404 {
		t.Errorf("/shadow without a shadow policy = %d, want 404", code)
	}
}

// A disagreeing Check shows up in /metrics as
// cors_authz_shadow_disagreements_total{class,kind}.
func TestShadowDisagreementsInMetrics(t *testing.T) {
	reg := admin.NewRegistry()
	svc := check.New(check.Options{CacheSize: check.DefaultCacheSize, Registerer: reg})
	enforced, _, err := policy.Parse("enforced.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	shadow, _, err := policy.Parse("shadow.yaml", []byte(uiShadowPolicy))
	if err != nil {
		t.Fatal(err)
	}
	svc.SetPolicy(enforced)
	svc.SetShadow(shadow)
	h := admin.New(admin.Options{Gatherer: reg})
	const series = `cors_authz_shadow_disagreements_total{class="public",kind="would_allow"}`
	_, _, body := get(t, h, "GET", "/metrics")
	if !strings.Contains(body, series+" 0\n") {
		t.Fatalf("/metrics lacks %s 0 before any Check", series)
	}
	req := checktest.Request("GET", "/api/x", "https://new.example.org")
	if _, err := svc.Check(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	_, _, body = get(t, h, "GET", "/metrics")
	for _, want := range []string{series + " 1\n", "cors_authz_shadow_checks_total 1\n", "cors_authz_shadow_policy_generation 1\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
