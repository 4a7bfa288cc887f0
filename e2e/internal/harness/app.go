// Package harness starts the pieces an end-to-end CORS test needs beside
// the real cors-authz binary (which internal/servetest starts): a fake
// application, page servers for the browser's origins, the Envoy model's
// configuration, and headless Chromium. It is shared by e2e/browser,
// e2e/adminpage and e2e/realenvoy and used only by tests.
package harness

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cors-authz/cors-authz/e2e/envoymodel"
	"github.com/cors-authz/cors-authz/internal/servetest"
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

// ModelConfig configures the Envoy model from the shipped
// deploy/envoy.yaml (routes, context extensions, header removal, path
// normalisation, ext_authz settings), pointed at the given application and
// cors-authz addresses.
func ModelConfig(upstream, authzAddr string) (envoymodel.Config, error) {
	root, err := servetest.ModuleRoot()
	if err != nil {
		return envoymodel.Config{}, err
	}
	data, err := os.ReadFile(filepath.Join(root, "deploy", "envoy.yaml"))
	if err != nil {
		return envoymodel.Config{}, err
	}
	return envoymodel.FromBootstrapYAML(data, upstream, authzAddr)
}

// ServeModel serves the Envoy model on ln in front of upstream and the
// cors-authz at authzAddr, configured as ModelConfig says and changed by
// configure (when not nil). It is closed when the test ends.
func ServeModel(t testing.TB, ln net.Listener, upstream, authzAddr string, configure func(*envoymodel.Config)) *envoymodel.Server {
	t.Helper()
	cfg, err := ModelConfig(upstream, authzAddr)
	if err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		configure(&cfg)
	}
	proxy, err := envoymodel.Serve(ln, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	return proxy
}
