package harness

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/cors-authz/cors-authz/e2e/envoymodel"
)

// PolicyParams are the origins of a test policy.
type PolicyParams struct {
	SelfOrigin string   // the dashboard's origin (served through the proxy)
	Partners   []string // origins allowed on /api/v1/
}

// Policy returns the test policy: class public-api for /api/v1/ (the
// partners, credentials, GET/POST/PUT, Content-Type and X-Custom), and
// class internal for everything else (no cross-origin access).
func Policy(p PolicyParams) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nself_origins:\n  - %s\nclasses:\n", p.SelfOrigin)
	b.WriteString("  - name: public-api\n    match:\n      path_prefixes: [/api/v1/]\n    allow_origins:\n")
	for _, o := range p.Partners {
		fmt.Fprintf(&b, "      - %s\n", o)
	}
	b.WriteString(`    allow_methods: [GET, POST, PUT]
    allow_headers: [Content-Type, X-Custom]
    expose_headers: [X-App]
    allow_credentials: true
    # The browser test runs on plain-http loopback origins.
    dangerously_allow_insecure_origins: true
    max_age: 5
  - name: internal
    match:
      path_prefixes: [/]
`)
	return []byte(b.String())
}

// App is the fake application behind the proxy. Its endpoints:
//
//	GET  /dashboard          the same-origin dashboard page (HTML)
//	GET  /api/v1/data        public JSON
//	PUT  /api/v1/items       echoes X-Custom
//	GET  /api/v1/wildcard    sets Access-Control-Allow-Origin: * itself
//	*    /internal/data      internal JSON
//	OPTIONS anything         200 "app answered OPTIONS" (a preflight should never get here)
type App struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD /path"
}

// StartApp starts the application on 127.0.0.1.
func StartApp() *App {
	a := &App{}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	return a
}

func (a *App) serve(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	a.mu.Lock()
	a.seen = append(a.seen, r.Method+" "+r.URL.Path)
	a.mu.Unlock()
	w.Header().Set("X-App", "1")
	if r.Method == http.MethodOptions {
		_, _ = io.WriteString(w, "app answered OPTIONS")
		return
	}
	switch r.URL.Path {
	case "/dashboard":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>dashboard</title><h1>dashboard</h1>")
	case "/api/v1/data":
		writeJSON(w, `{"data":"public"}`)
	case "/api/v1/items":
		if r.Method != http.MethodPut {
			http.Error(w, "method", http.StatusMethodNotAllowed)
			return
		}
		writeJSON(w, fmt.Sprintf(`{"updated":true,"custom":%q}`, r.Header.Get("X-Custom")))
	case "/api/v1/wildcard":
		// A careless application widening CORS on its own.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		writeJSON(w, `{"data":"wildcard"}`)
	case "/internal/data":
		writeJSON(w, `{"data":"internal"}`)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, body)
}

// Seen returns the "METHOD /path" of every request received so far.
func (a *App) Seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

// StartPages starts the server of the partner and attacker pages: every
// path answers a small HTML page, whatever the Host, so one listener
// serves several origins (partner.test:PORT, evil.test:PORT, …).
func StartPages() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>%s</title><p>page of %s</p>", r.Host, r.Host)
	}))
}

// corsResponseHeaders are the response headers every route strips from the
// application, as deploy/envoy.yaml does.
var corsResponseHeaders = []string{
	"access-control-allow-origin", "access-control-allow-credentials",
	"access-control-allow-methods", "access-control-allow-headers",
	"access-control-expose-headers", "access-control-max-age",
	"access-control-allow-private-network",
}

// ModelRoutes mirrors the route table of deploy/envoy.yaml: /api/v1 and
// /api/v1/ are class public-api, everything else internal, and every route
// strips the application's Access-Control-* headers.
func ModelRoutes() []envoymodel.Route {
	return []envoymodel.Route{
		{Path: "/api/v1", ContextExtensions: map[string]string{"cors_class": "public-api"}, ResponseHeadersToRemove: corsResponseHeaders},
		{Prefix: "/api/v1/", ContextExtensions: map[string]string{"cors_class": "public-api"}, ResponseHeadersToRemove: corsResponseHeaders},
		{Prefix: "/", ContextExtensions: map[string]string{"cors_class": "internal"}, ResponseHeadersToRemove: corsResponseHeaders},
	}
}

// ModelConfig is the envoymodel configuration matching deploy/envoy.yaml's
// listener: the routes above, path normalisation with escaped slashes
// redirected, fail-open, a 250 ms timeout and only the CORS request headers
// in the CheckRequest.
func ModelConfig(upstream, authzAddr string) envoymodel.Config {
	return envoymodel.Config{
		Upstream:    upstream,
		AuthzTarget: authzAddr,
		Routes:      ModelRoutes(),
		Path: &envoymodel.PathOptions{
			NormalizePath: true, MergeSlashes: true, EscapedSlashes: envoymodel.UnescapeAndRedirect,
		},
		FailureModeAllow: true,
		StatusOnError:    http.StatusServiceUnavailable,
		Timeout:          250 * time.Millisecond,
		AllowedHeaders: []string{
			"origin", "access-control-request-method", "access-control-request-headers",
			"access-control-request-private-network",
		},
	}
}
