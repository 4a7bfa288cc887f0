// Package admin is cors-authz's operator HTTP interface, served on its own
// port, apart from the gRPC Check traffic: Prometheus metrics, liveness and
// readiness probes, the active and shadow policies as JSON, "why is this
// origin blocked?" answers (/explain), and a small HTML page showing all of
// it. Every handler is read-only: only GET and HEAD are served.
package admin

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Options wires the handler to the state it shows. Functions are called on
// every request, from many goroutines: they must be safe for that.
type Options struct {
	// Gatherer is what /metrics exposes (see NewRegistry).
	Gatherer prometheus.Gatherer
	// Policy returns the policy being served and its reload status; a
	// zero Snapshot (nil Policy) means none is loaded yet.
	Policy func() policy.Snapshot
	// Shadow returns the shadow policy, its reload status and its
	// disagreement counts; a zero Shadow (nil Policy) means none. nil:
	// never a shadow policy.
	Shadow func() policy.Shadow
	// Ready returns nil when the service can take traffic, else why not.
	Ready func() error
	// DisableUI turns the HTML page off: / and /explain?format=html answer
	// 404; the JSON endpoints stay.
	DisableUI bool
	// Logger receives handler errors; nil discards them.
	Logger *slog.Logger
}

// New returns the admin handler:
//
//	GET /metrics  Prometheus text exposition of Options.Gatherer
//	GET /healthz  200 while the process runs (liveness)
//	GET /readyz   200 when Options.Ready returns nil, else 503 (readiness)
//	GET /policy   the active policy and its reload status, as JSON
//	GET /shadow   the shadow policy, its reload status and disagreement counts, as JSON (404 without one)
//	GET /explain  one request explained (explain.Explanation) as JSON; ?format=html: as a page
//	GET /         the HTML page: both policies, the disagreements, a "Try a request" form
//
// Every path also answers HEAD; any other method gets 405.
func New(opts Options) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Policy == nil {
		opts.Policy = func() policy.Snapshot { return policy.Snapshot{} }
	}
	if opts.Shadow == nil {
		opts.Shadow = func() policy.Shadow { return policy.Shadow{} }
	}
	if opts.Ready == nil {
		opts.Ready = func() error { return nil }
	}
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.NewRegistry()
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler(opts.Gatherer, log))
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", readyz(opts.Ready))
	mux.Handle("GET /policy", policyHandler(opts.Policy, log))
	mux.Handle("GET /shadow", shadowHandler(opts.Shadow, log))
	u := &ui{enforced: opts.Policy, shadow: opts.Shadow, log: log}
	mux.HandleFunc("GET /explain", func(w http.ResponseWriter, r *http.Request) {
		q, err := parseExplainQuery(r.URL.RawQuery)
		// A refused query is answered in the format it asked for, as far
		// as that can be told.
		html := q.HTML || (err != nil && strings.Contains(r.URL.RawQuery, "format=html"))
		switch {
		case html && opts.DisableUI:
			http.NotFound(w, r)
		case html:
			u.explainPage(w, q, err)
		case err != nil:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()}, log)
		default:
			explainJSON(w, q, opts.Policy, opts.Shadow, log)
		}
	})
	if !opts.DisableUI {
		mux.HandleFunc("GET /{$}", u.overview)
	}
	return mux
}
