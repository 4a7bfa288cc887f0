// Package admin is cors-authz's operator HTTP interface, served on its own
// port, apart from the gRPC Check traffic: Prometheus metrics, liveness and
// readiness probes, and the active policy as JSON. Every handler is
// read-only.
package admin

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cors-authz/cors-authz/pkg/policy"
	"github.com/cors-authz/cors-authz/pkg/reload"
)

// Options wires the handler to the state it shows. Functions are called on
// every request, from many goroutines: they must be safe for that.
type Options struct {
	// Gatherer is what /metrics exposes (see NewRegistry).
	Gatherer prometheus.Gatherer
	// Policy returns the policy being served; a zero State (nil Policy)
	// means none is loaded yet.
	Policy func() State
	// Ready returns nil when the service can take traffic, else why not.
	Ready func() error
	// Logger receives handler errors; nil discards them.
	Logger *slog.Logger
}

// State is the policy being served and how it got there.
type State struct {
	Policy     *policy.Policy
	Generation uint64
	LoadedAt   time.Time
	// Reload is the file watcher's status; nil when the policy does not
	// come from a watched file (the embedded example policy).
	Reload *reload.Status
}

// New returns the admin handler:
//
//	GET /metrics  Prometheus text exposition of Options.Gatherer
//	GET /healthz  200 while the process runs (liveness)
//	GET /readyz   200 when Options.Ready returns nil, else 503 (readiness)
//	GET /policy   the active policy and its reload status, as JSON
func New(opts Options) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Policy == nil {
		opts.Policy = func() State { return State{} }
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
	return mux
}
