package check

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// outcome is the verdict label of cors_authz_checks_total: what Envoy was
// told to do, in words an operator can alert on. The set is closed, and
// labels never carry request bytes (origins, paths), so cardinality is
// bounded by the number of classes.
type outcome uint8

const (
	outNotCORS          outcome = iota // no Origin: forwarded untouched (maybe Vary)
	outSameOrigin                      // Origin is the app's own: forwarded untouched
	outAllowed                         // cross-origin actual request, origin allowed
	outDenied                          // cross-origin actual request forwarded without a grant (omit, self_origin)
	outRejected                        // cross-origin actual request answered 403 (deny_action reject)
	outPreflightAllowed                // preflight answered 204 with grants
	outPreflightDenied                 // preflight answered 403
	outMalformed                       // CheckRequest without attributes.request.http
	outNoPolicy                        // no policy could be loaded (only if the built-in empty policy fails)
	outError                           // the handler failed (panicked) and answered codes.Internal
	numOutcomes
)

var outcomeNames = [numOutcomes]string{
	outNotCORS:          "not_cors",
	outSameOrigin:       "same_origin",
	outAllowed:          "allowed",
	outDenied:           "denied",
	outRejected:         "rejected",
	outPreflightAllowed: "preflight_allowed",
	outPreflightDenied:  "preflight_denied",
	outMalformed:        "malformed",
	outNoPolicy:         "no_policy",
	outError:            "error",
}

func (o outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

// outcomeOf names what a verdict tells Envoy to do.
func outcomeOf(v *policy.Verdict) outcome {
	switch v.Kind {
	case policy.NotCORS:
		return outNotCORS
	case policy.SameOrigin:
		return outSameOrigin
	case policy.Preflight:
		if v.Allowed {
			return outPreflightAllowed
		}
		return outPreflightDenied
	}
	switch {
	case v.Allowed:
		return outAllowed
	case v.Respond:
		return outRejected
	default:
		return outDenied
	}
}

// Metric names.
const (
	metricChecks     = "cors_authz_checks_total"
	metricDuration   = "cors_authz_check_duration_seconds"
	metricHits       = "cors_authz_cache_hits_total"
	metricMisses     = "cors_authz_cache_misses_total"
	metricEntries    = "cors_authz_cache_entries"
	metricGeneration = "cors_authz_policy_generation"

	metricPolicyInfo   = "cors_authz_policy_info"
	metricUnknownClass = "cors_authz_unknown_class_total"
	metricRefusals     = "cors_authz_refusals_total"

	metricShadowChecks        = "cors_authz_shadow_checks_total"
	metricShadowDisagreements = "cors_authz_shadow_disagreements_total"
	metricShadowGeneration    = "cors_authz_shadow_policy_generation"
)

// durationBuckets suit a handler whose cache hits take well under a
// microsecond and whose misses take a few: the low buckets separate hits
// from misses, the high ones catch scheduling stalls.
var durationBuckets = []float64{
	250e-9, 500e-9, 1e-6, 2.5e-6, 5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 1e-3, 10e-3,
}

// metrics holds the Check service's collectors.
type metrics struct {
	checks     *prometheus.CounterVec
	duration   prometheus.Histogram
	hits       prometheus.Counter
	misses     prometheus.Counter
	generation prometheus.Gauge
	entries    prometheus.GaugeFunc
	info       *prometheus.GaugeVec
	unknown    prometheus.Counter
	refusals   *prometheus.CounterVec

	shadowChecks     prometheus.Counter
	disagreements    *prometheus.CounterVec
	shadowGeneration prometheus.Gauge
}

// newMetrics creates the collectors and registers them with reg, if not
// nil. entries reports the current snapshot's cache size.
func newMetrics(reg prometheus.Registerer, entries func() float64) *metrics {
	m := &metrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricChecks,
			Help: "Check calls answered, by class and verdict (not_cors, same_origin, allowed, denied, rejected, preflight_allowed, preflight_denied, malformed, no_policy, error).",
		}, []string{"class", "verdict"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    metricDuration,
			Help:    "Time spent in the Check handler, excluding gRPC transport.",
			Buckets: durationBuckets,
		}),
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricHits,
			Help: "Verdict cache lookups that found an answer.",
		}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricMisses,
			Help: "Verdict cache lookups that found none (denied requests always miss: only allowed answers are cached).",
		}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricGeneration,
			Help: "Generation of the policy in use: 0 before the first load, then +1 per successful load.",
		}),
		entries: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: metricEntries,
			Help: "Entries in the verdict cache of the policy in use.",
		}, entries),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricPolicyInfo,
			Help: "Always 1, one series per policy in use: role enforced (the policy Checks are answered with) or shadow (serve --shadow-config), sha256 of the policy file's bytes. Replicas serving the same file show the same sha256.",
		}, []string{"role", "sha256"}),
		unknown: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricUnknownClass,
			Help: "Checks whose cors_class context extension names no class of the enforced policy (answered with its fallback class: default deny).",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricRefusals,
			Help: "Cross-origin requests refused (verdicts denied, rejected and preflight_denied of cors_authz_checks_total), by class and the verdict's reason.",
		}, []string{"class", "reason"}),
		shadowChecks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricShadowChecks,
			Help: "Checks also decided under the shadow policy (serve --shadow-config), which is never enforced.",
		}),
		disagreements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricShadowDisagreements,
			Help: "Checks on which the shadow policy's verdict differs from the enforced one, by enforced class and kind: would_allow (enforced denies, shadow allows), would_deny (enforced allows, shadow denies), headers_differ (same allow/deny, other status or headers).",
		}, []string{"class", "kind"}),
		shadowGeneration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricShadowGeneration,
			Help: "Generation of the shadow policy in use: 0 when none is set, else +1 per shadow policy loaded.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.checks, m.duration, m.hits, m.misses, m.generation, m.entries,
			m.info, m.unknown, m.refusals, m.shadowChecks, m.disagreements, m.shadowGeneration)
	}
	return m
}

// counters resolves the checks_total children of one class once, so the
// hot path increments a counter without a label lookup.
func (m *metrics) counters(class string) (cs [numOutcomes]prometheus.Counter) {
	for o := range numOutcomes {
		cs[o] = m.checks.WithLabelValues(class, o.String())
	}
	return cs
}

// disagreementCounters resolves the shadow disagreement children of one
// enforced class (policy.Agree's slot stays nil). They are created when a
// shadow policy is paired with a snapshot, so the series exist, at zero,
// exactly when a shadow policy is set.
func (m *metrics) disagreementCounters(class string) (cs [numKinds]prometheus.Counter) {
	for _, d := range policy.DisagreementKinds() {
		cs[d] = m.disagreements.WithLabelValues(class, d.String())
	}
	return cs
}

// Roles of cors_authz_policy_info.
const (
	roleEnforced = "enforced"
	roleShadow   = "shadow"
)

// setPolicyInfo publishes the policy of one role: its series at 1, and the
// series of the policy it replaces (prev, its sha256; "" for none) gone.
// The new series is set before the old one is deleted, so a scrape never
// sees a role without a policy while one is in use. sha256 "" clears the
// role. The caller serialises calls per role.
func (m *metrics) setPolicyInfo(role, prev, sha256 string) {
	if sha256 != "" {
		m.info.WithLabelValues(role, sha256).Set(1)
	}
	if prev != "" && prev != sha256 {
		m.info.DeleteLabelValues(role, prev)
	}
}

// refusalReasons are the reason label values of cors_authz_refusals_total:
// the reasons of the policy's refused verdicts. A reason the policy adds
// later is counted as reasonOther until it is listed here
// (TestRefusalReasonsCoverPolicy).
var refusalReasons = [...]policy.Reason{
	policy.ReasonOriginNotAllowed,
	policy.ReasonOriginInvalid,
	policy.ReasonMethodNotAllowed,
	policy.ReasonMethodInvalid,
	policy.ReasonHeaderNotAllowed,
	policy.ReasonHeadersInvalid,
	policy.ReasonPrivateNetwork,
	policy.ReasonUnknownClass,
	policy.ReasonNoClass,
	policy.ReasonCrossOriginInternal,
	policy.ReasonMethodMissing,
	policy.ReasonPathAmbiguous,
}

// numRefusalSlots counts refusalReasons and the "other" slot after them.
const numRefusalSlots = len(refusalReasons) + 1

const reasonOther = "other"

// refusalSlot returns r's index in refusalReasons, or that of "other".
func refusalSlot(r policy.Reason) int {
	for i, x := range refusalReasons {
		if x == r {
			return i
		}
	}
	return len(refusalReasons)
}

// refusalCounters are one class's cors_authz_refusals_total children,
// created on first use so that only reasons seen get a series.
type refusalCounters [numRefusalSlots]atomic.Pointer[prometheus.Counter]

// refusal counts one refusal of class label for reason r.
func (m *metrics) refusal(rc *refusalCounters, label string, r policy.Reason) {
	i := refusalSlot(r)
	p := rc[i].Load()
	if p == nil {
		name := reasonOther
		if i < len(refusalReasons) {
			name = string(refusalReasons[i])
		}
		c := m.refusals.WithLabelValues(label, name)
		p = &c
		rc[i].Store(p) // a racing store holds the same child
	}
	(*p).Inc()
}
