package browser

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"github.com/cors-authz/cors-authz/e2e/envoymodel"
	"github.com/cors-authz/cors-authz/e2e/internal/harness"
	"github.com/cors-authz/cors-authz/internal/atomicfile"
	"github.com/cors-authz/cors-authz/internal/servetest"
)

// fetchResult is what the page's fetch() produced.
type fetchResult struct {
	OK     bool   `json:"ok"`
	Status int    `json:"status"`
	Body   string `json:"body"`
	XApp   string `json:"xApp"`  // an exposed response header, readable only if CORS allowed it
	Error  string `json:"error"` // the rejection, e.g. "TypeError: Failed to fetch"
}

func (r fetchResult) String() string {
	if r.Error != "" {
		return "rejected: " + r.Error
	}
	return fmt.Sprintf("ok=%v status=%d body=%s x-app=%q", r.OK, r.Status, r.Body, r.XApp)
}

func (r fetchResult) blocked() bool { return r.Error != "" }

// tab is one browser tab showing a page of one origin.
type tab struct {
	ctx     context.Context
	page    string
	mu      sync.Mutex
	console []string
}

// open opens a new tab on url and records the browser's console messages
// (where Chromium reports CORS failures).
func open(t *testing.T, browser context.Context, url string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	tb := &tab{ctx: ctx, page: url}
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*log.EventEntryAdded); ok && e.Entry != nil {
			tb.mu.Lock()
			tb.console = append(tb.console, e.Entry.Text)
			tb.mu.Unlock()
		}
	})
	if err == nil {
		err = chromedp.Do(ctx,
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, log.Enable, cdp.Empty{})
				return err
			}),
			chromedp.Navigate(url))
	}
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return tb
}

// fetch runs fetch(url, init) inside the page and returns its outcome.
func (tb *tab) fetch(t *testing.T, url, init string) fetchResult {
	t.Helper()
	if init == "" {
		init = "{}"
	}
	js := fmt.Sprintf(`(async () => {
  try {
    const init = Object.assign({cache: "no-store"}, %s);
    const r = await fetch(%q, init);
    return {ok: r.ok, status: r.status, body: await r.text(), xApp: r.headers.get("x-app") || ""};
  } catch (e) {
    return {error: String(e)};
  }
})()`, init, url)
	res, err := chromedp.Run(tb.ctx, chromedp.Evaluate[fetchResult](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate fetch(%s) in %s: %v", url, tb.page, err)
	}
	return res
}

// consoleMatching returns the console messages containing substr.
func (tb *tab) consoleMatching(substr string) []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, m := range tb.console {
		if strings.Contains(m, substr) {
			out = append(out, m)
		}
	}
	return out
}

// rig is what every browser test starts: headless Chromium, for which
// every *.test host is this machine (ports stay distinct per origin); the
// listener the Envoy model will serve on, listened first because the policy
// names its port; the server of the pages of the browser's origins; and
// the application. All stop when the test ends.
type rig struct {
	browser  context.Context
	proxyLn  net.Listener
	api      string // the proxy's origin, as browsers reach it
	pagePort int
	app      *harness.App
}

func startRig(t *testing.T) *rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel) // after the browser's cleanup: it closes gracefully
	r := &rig{browser: harness.Chromium(t, ctx, "MAP *.test 127.0.0.1")}
	var err error
	r.proxyLn, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.proxyLn.Close() }) // if the proxy never takes it over
	r.api = fmt.Sprintf("http://app.test:%d", r.proxyLn.Addr().(*net.TCPAddr).Port)
	pages := harness.StartPages()
	t.Cleanup(pages.Close)
	r.pagePort = pages.Listener.Addr().(*net.TCPAddr).Port
	r.app = harness.StartApp()
	t.Cleanup(r.app.Close)
	return r
}

// page is the origin of host's pages, e.g. http://partner.test:PORT.
func (r *rig) page(host string) string {
	return fmt.Sprintf("http://%s:%d", host, r.pagePort)
}

// serveModel starts cors-authz on config (a policy file or directory) and,
// on ln, the Envoy model in front of upstream (harness.ServeModel). Both
// stop when the test ends.
func serveModel(t *testing.T, ln net.Listener, upstream, config string, configure func(*envoymodel.Config)) (*servetest.Server, *envoymodel.Server) {
	t.Helper()
	authz := servetest.Run(t, servetest.Options{Args: []string{"--config", config}, Ready: true})
	return authz, harness.ServeModel(t, ln, upstream, authz.GRPCAddr, configure)
}

// report logs what the browser observed (go test -v shows it).
func report(t *testing.T, what string, r fetchResult) {
	t.Helper()
	t.Logf("observed: %s → %s", what, r)
}

// checkLog records the proxy's ext_authz calls.
type checkLog struct {
	mu     sync.Mutex
	events []envoymodel.CheckEvent
}

func (l *checkLog) add(ev envoymodel.CheckEvent) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
}

// find returns the checks for method and path (without query).
func (l *checkLog) find(method, path string) []envoymodel.CheckEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []envoymodel.CheckEvent
	for _, ev := range l.events {
		h := ev.Request.GetAttributes().GetRequest().GetHttp()
		if h.GetMethod() == method && strings.SplitN(h.GetPath(), "?", 2)[0] == path {
			out = append(out, ev)
		}
	}
	return out
}

// TestBrowserCORS drives headless Chromium against the real cors-authz
// binary behind the Envoy model: pages of distinct origins call the
// application with fetch(), and each scenario is judged by what the page
// itself observed.
func TestBrowserCORS(t *testing.T) {
	// One browser for every scenario.
	r := startRig(t)
	browser, app := r.browser, r.app
	var (
		api     = r.api // the proxy, as browsers reach it
		self    = api   // the dashboard's origin
		partner = r.page("partner.test")
		evil    = r.page("evil.test")
		late    = r.page("late.test") // allowed only after a policy change
	)
	policyPath := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyPath, harness.Policy(harness.PolicyParams{SelfOrigin: self, Partners: []string{partner}}), 0o644); err != nil {
		t.Fatal(err)
	}
	checks := &checkLog{}
	// Two filters that refuse with a local reply when Authorization is
	// missing, like jwt_authn: one after ext_authz (Istio's and Envoy
	// Gateway's order), on /api/v1/secure; one before it, on /api/v1/early.
	requireAuth := func(prefix string) func(string, string, http.Header) bool {
		return func(_, path string, h http.Header) bool {
			return strings.HasPrefix(path, prefix) && h.Get("authorization") == ""
		}
	}
	authz, proxy := serveModel(t, r.proxyLn, app.URL, policyPath, func(cfg *envoymodel.Config) {
		cfg.OnCheck = checks.add
		cfg.Filters = append(cfg.Filters,
			envoymodel.LocalReplyFilter{Name: "jwt_authn (before ext_authz)", BeforeExtAuthz: true, Status: http.StatusUnauthorized,
				Body: "Jwt is missing", Reject: requireAuth("/api/v1/early")},
			envoymodel.LocalReplyFilter{Name: "jwt_authn (after ext_authz)", Status: http.StatusUnauthorized,
				Headers: map[string]string{"www-authenticate": `Bearer realm="api"`}, Body: "Jwt is missing",
				Reject: requireAuth("/api/v1/secure")})
	})

	t.Run("same-origin dashboard works", func(t *testing.T) {
		dash := open(t, browser, api+"/dashboard")
		h1, err := chromedp.Run(dash.ctx, chromedp.Evaluate[string](`document.querySelector("h1").textContent`))
		if err != nil || h1 != "dashboard" {
			t.Fatalf("dashboard page: h1=%q err=%v", h1, err)
		}
		get := dash.fetch(t, api+"/api/v1/data", "")
		report(t, "dashboard GET /api/v1/data", get)
		if !get.OK || get.Body != `{"data":"public"}` {
			t.Errorf("same-origin GET: %s", get)
		}
		post := dash.fetch(t, "/internal/data", `{method: "POST", body: "x"}`)
		report(t, "dashboard POST /internal/data", post)
		if !post.OK || post.Body != `{"data":"internal"}` {
			t.Errorf("same-origin POST to the internal class: %s", post)
		}
		// A same-origin POST carries Origin; cors-authz must have seen it as self.
		evs := checks.find("POST", "/internal/data")
		if len(evs) == 0 || evs[len(evs)-1].Request.GetAttributes().GetRequest().GetHttp().GetHeaders()["origin"] != self {
			t.Errorf("no check of the same-origin POST with Origin %s", self)
		}
	})

	partnerTab := open(t, browser, partner+"/")

	t.Run("allowlisted partner GET works", func(t *testing.T) {
		r := partnerTab.fetch(t, api+"/api/v1/data", `{credentials: "include"}`)
		report(t, "partner GET /api/v1/data (credentials)", r)
		if !r.OK || r.Body != `{"data":"public"}` || r.XApp != "1" {
			t.Errorf("partner GET: %s; want ok with the exposed X-App header", r)
		}
	})

	t.Run("partner credentialed PUT with a custom header passes a preflight", func(t *testing.T) {
		before := len(app.Seen())
		r := partnerTab.fetch(t, api+"/api/v1/items", `{method: "PUT", credentials: "include",
			headers: {"X-Custom": "42", "Content-Type": "application/json"}, body: "{}"}`)
		report(t, "partner PUT /api/v1/items (credentials, X-Custom)", r)
		if !r.OK || r.Body != `{"updated":true,"custom":"42"}` {
			t.Errorf("partner PUT: %s", r)
		}
		pre := checks.find("OPTIONS", "/api/v1/items")
		if len(pre) == 0 {
			t.Fatal("no preflight reached cors-authz")
		}
		last := pre[len(pre)-1]
		hs := last.Request.GetAttributes().GetRequest().GetHttp().GetHeaders()
		t.Logf("observed: preflight check origin=%q acrm=%q acrh=%q → %s %d",
			hs["origin"], hs["access-control-request-method"], hs["access-control-request-headers"], last.Outcome, last.Status)
		if last.Outcome != envoymodel.OutcomeDenied || last.Status != http.StatusNoContent {
			t.Errorf("preflight answered %s %d, want the 204 local reply", last.Outcome, last.Status)
		}
		seen := app.Seen()[before:]
		if slices.Contains(seen, "OPTIONS /api/v1/items") || !slices.Contains(seen, "PUT /api/v1/items") {
			t.Errorf("app saw %q: want the PUT and not the preflight", seen)
		}
	})

	evilTab := open(t, browser, evil+"/")

	t.Run("unlisted origin is blocked", func(t *testing.T) {
		r := evilTab.fetch(t, api+"/api/v1/data", "")
		report(t, "evil GET /api/v1/data", r)
		if !r.blocked() {
			t.Errorf("evil GET was readable: %s", r)
		}
		pre := evilTab.fetch(t, api+"/api/v1/items", `{method: "PUT", headers: {"X-Custom": "1"}, body: "{}"}`)
		report(t, "evil PUT /api/v1/items (preflighted)", pre)
		if !pre.blocked() {
			t.Errorf("evil PUT succeeded: %s", pre)
		}
		if msgs := evilTab.consoleMatching("CORS policy"); len(msgs) > 0 {
			t.Logf("observed: chromium console: %s", msgs[0])
		}
	})

	t.Run("server-to-server call without Origin is unaffected", func(t *testing.T) {
		req, _ := http.NewRequest("GET", proxy.URL+"/api/v1/data", nil)
		req.Host = strings.TrimPrefix(api, "http://")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("observed: Go client GET /api/v1/data without Origin → %d %s", resp.StatusCode, body)
		if resp.StatusCode != 200 || string(body) != `{"data":"public"}` {
			t.Errorf("got %d %s", resp.StatusCode, body)
		}
		for k := range resp.Header {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				t.Errorf("response carries %s: %q", k, resp.Header.Get(k))
			}
		}
	})

	t.Run("internal route is blocked cross-origin even for the partner", func(t *testing.T) {
		get := partnerTab.fetch(t, api+"/internal/data", `{credentials: "include"}`)
		report(t, "partner GET /internal/data", get)
		if !get.blocked() {
			t.Errorf("partner read the internal class: %s", get)
		}
		put := partnerTab.fetch(t, api+"/internal/data", `{method: "PUT", headers: {"X-Custom": "1"}}`)
		report(t, "partner PUT /internal/data (preflighted)", put)
		if !put.blocked() {
			t.Errorf("partner PUT to the internal class: %s", put)
		}
		if evs := checks.find("OPTIONS", "/internal/data"); len(evs) == 0 || evs[len(evs)-1].Status != http.StatusForbidden {
			t.Errorf("internal preflight not refused with 403 by cors-authz: %+v", evs)
		}
		// A dodge through the path: /api/v1/../internal/data is the internal class.
		dodge := partnerTab.fetch(t, api+"/api/v1/%2e%2e/%2e%2e/internal/data", "")
		report(t, "partner GET /api/v1/%2e%2e/%2e%2e/internal/data", dodge)
		if !dodge.blocked() {
			t.Errorf("path dodge reached the internal class: %s", dodge)
		}
	})

	t.Run("upstream ACAO * does not widen the policy", func(t *testing.T) {
		r := evilTab.fetch(t, api+"/api/v1/wildcard", "")
		report(t, "evil GET /api/v1/wildcard (app sets ACAO *)", r)
		if !r.blocked() {
			t.Errorf("evil read an endpoint whose app sets ACAO *: %s", r)
		}
		// The partner still works there, with credentials, which a literal
		// "*" would have made fail.
		p := partnerTab.fetch(t, api+"/api/v1/wildcard", `{credentials: "include"}`)
		report(t, "partner GET /api/v1/wildcard (credentials)", p)
		if !p.OK || p.Body != `{"data":"wildcard"}` {
			t.Errorf("partner on the wildcard endpoint: %s", p)
		}
	})

	t.Run("partner page reads a 401 from a filter after ext_authz", func(t *testing.T) {
		before := len(app.Seen())
		get := partnerTab.fetch(t, api+"/api/v1/secure", `{credentials: "include"}`)
		report(t, "partner GET /api/v1/secure without a token (401 after ext_authz)", get)
		if get.blocked() || get.Status != http.StatusUnauthorized || get.Body != "Jwt is missing" {
			t.Errorf("partner GET: %s; want a readable 401 with its body", get)
		}
		// Preflighted: cors-authz answers the preflight, the filter refuses the PUT.
		put := partnerTab.fetch(t, api+"/api/v1/secure", `{method: "PUT", credentials: "include", headers: {"X-Custom": "1"}, body: "{}"}`)
		report(t, "partner PUT /api/v1/secure without a token (preflighted)", put)
		if put.blocked() || put.Status != http.StatusUnauthorized {
			t.Errorf("partner PUT: %s; want a readable 401", put)
		}
		if seen := app.Seen()[before:]; len(seen) != 0 {
			t.Errorf("the application saw %q; the filter should have answered", seen)
		}
		// An unlisted origin gets the same 401, but cannot read it.
		if r := evilTab.fetch(t, api+"/api/v1/secure", ""); !r.blocked() {
			t.Errorf("evil read the 401: %s", r)
		}
		// A filter before ext_authz answers before any check: no CORS
		// headers, so even the partner sees only a network error.
		early := partnerTab.fetch(t, api+"/api/v1/early", `{credentials: "include"}`)
		report(t, "partner GET /api/v1/early (401 before ext_authz)", early)
		if !early.blocked() {
			t.Errorf("partner read a 401 from a filter before ext_authz: %s", early)
		}
		if evs := checks.find("GET", "/api/v1/early"); len(evs) != 0 {
			t.Errorf("%d checks for /api/v1/early; the filter before ext_authz should answer first", len(evs))
		}
	})

	t.Run("allowlist change applies live without a restart", func(t *testing.T) {
		lateTab := open(t, browser, late+"/")
		r := lateTab.fetch(t, api+"/api/v1/data", "")
		report(t, "late GET /api/v1/data before the policy change", r)
		if !r.blocked() {
			t.Fatalf("late origin allowed before the change: %s", r)
		}
		pid := authz.PID()
		loaded := authz.Log.Count("policy loaded")
		policy := harness.Policy(harness.PolicyParams{SelfOrigin: self, Partners: []string{partner, late}})
		written := time.Now()
		if err := atomicfile.Write(policyPath, policy); err != nil {
			t.Fatal(err)
		}
		var got fetchResult
		deadline := written.Add(10 * time.Second)
		for attempt := 0; time.Now().Before(deadline) && attempt < 100; attempt++ {
			got = lateTab.fetch(t, api+"/api/v1/data", "")
			if !got.blocked() {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		elapsed := time.Since(written)
		report(t, fmt.Sprintf("late GET /api/v1/data after the policy change (%.2fs)", elapsed.Seconds()), got)
		if !got.OK || got.Body != `{"data":"public"}` {
			t.Fatalf("late origin still blocked 10 s after the policy change: %s\ncors-authz log:\n%s", got, authz.Log)
		}
		if authz.Exited() || authz.PID() != pid {
			t.Errorf("cors-authz restarted (pid %d → %d, running %v)", pid, authz.PID(), !authz.Exited())
		}
		if !authz.WaitLog("policy loaded", loaded+1, time.Second) {
			t.Errorf("no \"policy loaded\" log line after the change")
		}
		// Still nobody else.
		if r := evilTab.fetch(t, api+"/api/v1/data", ""); !r.blocked() {
			t.Errorf("evil allowed after the change: %s", r)
		}
	})
}
