package adminpage

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cors-authz/cors-authz/e2e/internal/harness"
	"github.com/cors-authz/cors-authz/internal/servetest"
)

const enforcedPolicy = `version: 1
self_origins: [https://app.example.com]
classes:
  - name: public-api
    match: {path_prefixes: [/api/]}
    allow_origins: [https://partner.example.org, https://legacy.example.org]
    allow_methods: [GET, POST, PUT]
    allow_headers: [Content-Type, X-Request-Id]
    expose_headers: [X-Request-Id]
    allow_credentials: true
    max_age: 10m
  - name: webhooks
    match: {path_prefixes: [/hooks/]}
    allow_origins: [https://hooks.partner.example.org]
    allow_methods: [POST]
    deny_action: reject
  - name: internal
    match: {path_prefixes: [/]}
`

// The candidate drops legacy.example.org and adds every tenant subdomain.
var shadowPolicy = strings.Replace(enforcedPolicy, "https://legacy.example.org", "https://*.tenant.example.com", 1)

// hostile must be shown as text: no element may come out of it.
const hostile = `"><img src=x onerror=alert(1)><script>alert(2)</script>`

// TestAdminPage drives headless Chromium through the admin page of a real
// `cors-authz serve --config ... --shadow-config ...`.
func TestAdminPage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel) // after the browser's cleanup: it closes gracefully
	tab := harness.Chromium(t, ctx, "", chromedp.WindowSize(1280, 1024))
	dir := t.TempDir()
	enforced, shadow := filepath.Join(dir, "policy.yaml"), filepath.Join(dir, "shadow.yaml")
	for path, data := range map[string]string{enforced: enforcedPolicy, shadow: shadowPolicy} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := servetest.Run(t, servetest.Options{Args: []string{"--config", enforced, "--shadow-config", shadow}, Ready: true})
	admin := "http://" + srv.AdminAddr

	// Live traffic for the disagreement counts: three Checks the shadow
	// would deny, two it would allow, one both allow.
	sendChecks(t, ctx, srv.GRPCAddr, map[string]int{
		"https://legacy.example.org": 3, "https://a.tenant.example.com": 2, "https://partner.example.org": 1,
	})

	// The page's own headers: no script can run on it at all.
	resp, err := http.Get(admin + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}

	// The page's CSP forbids every script, and chromedp fills the form
	// with small scripts; let DevTools bypass it. The escaping checks then
	// hold without the CSP's help: an injected element or script would be
	// in the DOM (and would run).
	err = chromedp.Do(tab, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true})
		return err
	}))
	if err != nil {
		t.Fatalf("bypass the page's CSP: %v", err)
	}

	t.Run("overview", func(t *testing.T) {
		if err := chromedp.Do(tab, chromedp.Navigate(admin+"/"), chromedp.WaitVisible(chromedp.CSS("#try"))); err != nil {
			t.Fatalf("open %s: %v\n%s", admin, err, srv.Log)
		}
		gen, counts, shadowSrc := text(t, tab, "#enforced-generation"), text(t, tab, "#disagreements"), text(t, tab, "#shadow")
		png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if gen != "1" {
			t.Errorf("active policy generation shown as %q, want 1", gen)
		}
		// Row "public-api": would_allow 2, would_deny 3, headers_differ 0.
		if row := rowText(counts, "public-api"); !strings.Contains(row, "2 3 0") {
			t.Errorf("disagreements row for public-api = %q, want would_allow 2, would_deny 3, headers_differ 0 (table: %q)", row, counts)
		}
		if !strings.Contains(shadowSrc, "https://*.tenant.example.com") || !strings.Contains(shadowSrc, shadow) {
			t.Errorf("the shadow policy section does not show the candidate:\n%s", shadowSrc)
		}
		shot := filepath.Join(t.TempDir(), "admin-page.png")
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", shot, len(png))
		if dst := os.Getenv("ADMINPAGE_SCREENSHOT"); dst != "" {
			if err := os.WriteFile(dst, png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})

	tests := []struct {
		name, origin  string
		verdict       string // the enforced verdict shown
		reason        string
		agreement     string // the shadow's answer relative to it
		wantACAOValue bool
	}{
		{"allowed origin", "https://partner.example.org", "allowed", "origin_allowed", "agrees", true},
		{"blocked origin", "https://evil.example", "denied", "origin_not_allowed", "agrees", false},
		{"allowed, the shadow would deny", "https://legacy.example.org", "allowed", "origin_allowed", "would_deny", true},
		{"blocked, the shadow would allow", "https://b.tenant.example.com", "denied", "origin_not_allowed", "would_allow", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			submit(t, tab, map[string]string{"origin": tt.origin, "path": "/api/v1/users", "host": "api.example.com", "method": "GET"})
			verdict, reason := text(t, tab, "#result-enforced .verdict"), text(t, tab, "#result-enforced .reason")
			agreement, headers := text(t, tab, "#agreement"), text(t, tab, "#result-enforced table.headers")
			t.Logf("observed: %s → verdict %q, reason %q, shadow %q", tt.origin, verdict, reason, agreement)
			if verdict != tt.verdict || reason != tt.reason || agreement != tt.agreement {
				t.Errorf("page shows verdict %q reason %q shadow %q, want %q %q %q", verdict, reason, agreement, tt.verdict, tt.reason, tt.agreement)
			}
			if got := strings.Contains(headers, "access-control-allow-origin\t"+tt.origin); got != tt.wantACAOValue {
				t.Errorf("headers table %q: ACAO %s present = %v, want %v", headers, tt.origin, got, tt.wantACAOValue)
			}
		})
	}

	t.Run("preflight answered by Envoy", func(t *testing.T) {
		submit(t, tab, map[string]string{"origin": "https://partner.example.org", "path": "/api/v1/users", "method": "OPTIONS",
			"headers": "Access-Control-Request-Method: PUT\nAccess-Control-Request-Headers: content-type"})
		if envoy := text(t, tab, "#result-enforced .envoy"); !strings.Contains(envoy, "HTTP 204") {
			t.Errorf("Envoy's answer shown as %q, want HTTP 204", envoy)
		}
	})

	t.Run("hostile origin is shown as text", func(t *testing.T) {
		submit(t, tab, map[string]string{"origin": hostile, "path": "/api/" + hostile, "headers": "X-Note: " + hostile})
		shown := text(t, tab, "#req-origin")
		inputValue, err := chromedp.Run(tab, chromedp.Value(chromedp.CSS(`input[name="origin"]`)))
		if err != nil {
			t.Fatal(err)
		}
		injected, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("img, script, [onerror]").length`))
		if err != nil {
			t.Fatal(err)
		}
		if shown != hostile || inputValue != hostile {
			t.Errorf("origin shown as %q (input %q), want the literal %q", shown, inputValue, hostile)
		}
		if injected != 0 {
			t.Errorf("%d injected element(s) in the page", injected)
		}
	})
}

// submit fills the "Try a request" form of the current page and submits
// it with a click, waiting for the answer page.
func submit(t *testing.T, tab context.Context, fields map[string]string) {
	t.Helper()
	values := map[string]string{"origin": "", "method": "GET", "path": "/", "host": "localhost", "headers": "", "class": ""}
	for k, v := range fields {
		values[k] = v
	}
	js, err := json.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	// (chromedp.SetValue refuses empty values, so the fields are set in
	// one script; the values are JSON-encoded.)
	fill := chromedp.Evaluate[chromedp.Void](`(() => {
  const f = document.querySelector("form.try"), v = ` + string(js) + `;
  for (const k in v) { f.elements[k].value = v[k]; }
})()`)
	resp, err := chromedp.RunResponse(tab, fill, chromedp.Click(chromedp.CSS(`form.try button[type="submit"]`)))
	if err != nil {
		t.Fatalf("submit the form: %v", err)
	}
	if resp.Status != 200 {
		t.Fatalf("the form's answer is HTTP %d", resp.Status)
	}
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS("#result-enforced"))); err != nil {
		t.Fatal(err)
	}
}

// text returns the rendered text (innerText) of the first element sel
// matches.
func text(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// rowText returns the table row (as innerText: cells separated by tabs)
// that starts with class, with whitespace collapsed to single spaces.
func rowText(table, class string) string {
	for line := range strings.Lines(table) {
		if strings.HasPrefix(line, class+"\t") {
			return strings.Join(strings.Fields(strings.TrimPrefix(line, class)), " ")
		}
	}
	return ""
}

// sendChecks sends, per origin, that many GET /api/v1/users Checks.
func sendChecks(t *testing.T, ctx context.Context, addr string, origins map[string]int) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	for origin, n := range origins {
		for range n {
			req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
				Http: &authv3.AttributeContext_HttpRequest{
					Method: "GET", Scheme: "https", Host: "api.example.com", Path: "/api/v1/users", Protocol: "HTTP/2",
					Headers: map[string]string{":method": "GET", ":path": "/api/v1/users", ":authority": "api.example.com", "origin": origin},
				},
			}}}
			if _, err := client.Check(ctx, req); err != nil {
				t.Fatalf("Check: %v", err)
			}
		}
	}
}
