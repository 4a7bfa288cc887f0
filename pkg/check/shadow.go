package check

import (
	"bytes"
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// The shadow policy.
//
// A shadow policy is a candidate decided on every Check next to the
// enforced one and never enforced: the response is always the enforced
// policy's. Where the two verdicts differ, the difference is counted
// (cors_authz_shadow_disagreements_total{class, kind}, class being the
// enforced class) and logged at a sampled rate, so an operator sees what a
// policy change would do to live traffic before making it.
//
// Verdicts are compared, not responses (policy.CompareVerdicts): Allowed,
// Respond, Status and the headers — everything a response is built from.
//
// Cost. On a verdict-cache hit the enforced policy is not consulted at all;
// deciding the shadow afresh would cost about as much as a miss. So the
// cache entry remembers the shadow's outcome (a shadowMemo), computed when
// the entry was made or first hit: which disagreement, if any, and the
// shadow's own cache key. The enforced key determines the enforced verdict
// and the shadow key the shadow verdict, so the pair determines the
// outcome; but one enforced key can meet several shadow keys (the shadow
// may route the same origin on other paths to other classes), so a hit
// still works out the request's shadow route and uses the memo only when
// the shadow key and generation match. Otherwise it decides both policies,
// and replaces the memo. A new shadow policy invalidates every memo by its
// generation; a new enforced policy comes with a new cache anyway.
//
// The shadow route comes from a policy.RouteMap from the enforced policy to
// the shadow, built when either changes: nothing to work out when both
// policies route alike (the usual candidate, which changes what classes
// grant), a name lookup when the route names its class (cors_class), the
// shadow's match rules otherwise. What that costs a hit, next to a hit
// without a shadow policy: BenchmarkCheckShadow/hit_ratio* (figures in
// docs/benchmarks.md).

// numKinds sizes the per-kind arrays, indexed by policy.DisagreementKind
// (policy.Agree's slot unused).
const numKinds = int(policy.HeadersDiffer) + 1

// shadowSnap is one shadow policy generation. Its tally counts the
// disagreements seen since it was installed, for the admin page (the
// Prometheus counters run over the process's life).
type shadowSnap struct {
	policy.Snapshot
	pol    *policy.Policy
	checks atomic.Uint64

	mu    sync.Mutex
	tally map[string]*[numKinds]atomic.Uint64 // enforced class label → counts
}

// tallyOf returns the counts of an enforced class label, creating them.
func (sh *shadowSnap) tallyOf(label string) *[numKinds]atomic.Uint64 {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t := sh.tally[label]
	if t == nil {
		t = new([numKinds]atomic.Uint64)
		sh.tally[label] = t
	}
	return t
}

// shadowPair is the shadow as one enforced snapshot sees it: the shadow
// policy plus, per enforced class, the resolved metric children and tally.
// It is built when either policy changes and published in the enforced
// snapshot (snapshot.shadow), so a Check reads one consistent pair.
type shadowPair struct {
	sh      *shadowSnap
	classes []shadowClass    // parallel to snapshot.classes
	routes  *policy.RouteMap // enforced routes → shadow routes
}

type shadowClass struct {
	counters [numKinds]prometheus.Counter // policy.Agree unused
	tally    *[numKinds]atomic.Uint64
}

// shadowMemo is a cache entry's remembered shadow outcome; see above.
type shadowMemo struct {
	gen    uint64 // shadow generation it was computed under
	key    []byte // shadow class index + the shadow policy's cache key
	diff   policy.DisagreementKind
	class  string // shadow class name, for logs
	reason string // shadow verdict's ReasonText, for logs
}

// SetShadow installs p as the shadow policy for every Check that starts
// after it returns and returns its shadow generation (+1 per non-nil p,
// never reused). A nil p clears the shadow and returns 0.
func (s *Service) SetShadow(p *policy.Policy) (generation uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p == nil {
		if s.sh == nil {
			return 0
		}
		s.m.setPolicyInfo(roleShadow, s.sh.pol.SHA256(), "")
		s.sh = nil
		if snap := s.cur.Load(); snap != nil {
			snap.shadow.Store(nil)
		}
		s.m.shadowGeneration.Set(0)
		s.log.Info("check: shadow policy cleared")
		return 0
	}
	s.shGen++
	var prev string
	if s.sh != nil {
		prev = s.sh.pol.SHA256()
	}
	s.m.setPolicyInfo(roleShadow, prev, p.SHA256())
	s.sh = &shadowSnap{
		Snapshot: policy.Snapshot{Policy: p, Generation: s.shGen, LoadedAt: time.Now()},
		pol:      p,
		tally:    map[string]*[numKinds]atomic.Uint64{},
	}
	if snap := s.cur.Load(); snap != nil {
		snap.shadow.Store(s.newShadowPair(snap))
	}
	s.m.shadowGeneration.Set(float64(s.shGen))
	s.log.Info("check: shadow policy in use (decided on every Check, never enforced)",
		"shadow_generation", s.shGen, "source", p.Source(), "sha256", p.SHA256(), "classes", len(p.Classes()))
	return s.shGen
}

// newShadowPair pairs the current shadow with snap; the caller holds s.mu
// and s.sh is not nil.
func (s *Service) newShadowPair(snap *snapshot) *shadowPair {
	sp := &shadowPair{
		sh:      s.sh,
		classes: make([]shadowClass, len(snap.classes)),
		routes:  policy.NewRouteMap(snap.pol, s.sh.pol),
	}
	for i := range snap.classes {
		label := snap.classes[i].label
		sp.classes[i] = shadowClass{counters: s.m.disagreementCounters(label), tally: s.sh.tallyOf(label)}
	}
	return sp
}

// Shadow returns the shadow policy in use and its counts.
//
// Its Disagreements count, per enforced class and kind, the Checks on which
// this shadow policy (since it was installed) disagreed with the enforced
// one, sorted by class then kind; classes of the enforced policy appear
// with zero counts. The zero policy.Shadow when none is set.
func (s *Service) Shadow() policy.Shadow {
	s.mu.Lock()
	sh := s.sh
	s.mu.Unlock()
	if sh == nil {
		return policy.Shadow{}
	}
	st := policy.Shadow{Snapshot: sh.Snapshot, Checks: sh.checks.Load()}
	sh.mu.Lock()
	for label, t := range sh.tally {
		for _, d := range policy.DisagreementKinds() {
			st.Disagreements = append(st.Disagreements, policy.Disagreement{Class: label, Kind: d, Count: t[d].Load()})
		}
	}
	sh.mu.Unlock()
	sort.Slice(st.Disagreements, func(i, j int) bool {
		a, b := st.Disagreements[i], st.Disagreements[j]
		if a.Class != b.Class {
			return a.Class < b.Class
		}
		return a.Kind < b.Kind
	})
	return st
}

// shadowMiss decides r under the shadow after the enforced policy decided
// enf on route rt, counts the outcome, and returns a memo for the cache
// entry being made, when memo is true and the shadow verdict is cacheable.
func (s *Service) shadowMiss(ctx context.Context, sp *shadowPair, cs *classState, r *policy.Request, rt policy.Route, enf *policy.Verdict, memo bool) *shadowMemo {
	srt := rt
	sp.routes.Route(r, &srt)
	sv := sp.sh.pol.DecideRoute(r, srt)
	d := policy.CompareVerdicts(enf, &sv)
	if s.countShadow(sp, cs, d) {
		s.logShadow(ctx, sp, cs, r, d, enf.ReasonText(), sv.Class.Name, sv.ReasonText())
	}
	if !memo {
		return nil
	}
	var buf [keyBufSize]byte
	key, ok := appendKey(buf[:0], srt, r)
	if !ok {
		return nil
	}
	return &shadowMemo{gen: sp.sh.Generation, key: bytes.Clone(key), diff: d, class: sv.Class.Name, reason: sv.ReasonText()}
}

// shadowHit counts the shadow outcome of a request the enforced policy
// answered from its cache entry e: from e's memo when it applies,
// otherwise by deciding both policies (and remembering the outcome).
func (s *Service) shadowHit(ctx context.Context, snap *snapshot, sp *shadowPair, cs *classState, e *cacheEntry, r *policy.Request, rt policy.Route) {
	if m := e.shadow.Load(); m != nil && m.gen == sp.sh.Generation {
		srt := rt
		sp.routes.Route(r, &srt)
		var buf [keyBufSize]byte
		if key, ok := appendKey(buf[:0], srt, r); ok && bytes.Equal(key, m.key) {
			if s.countShadow(sp, cs, m.diff) {
				s.logShadow(ctx, sp, cs, r, m.diff, string(e.reason), m.class, m.reason)
			}
			return
		}
	}
	enf := snap.pol.DecideRoute(r, rt)
	if m := s.shadowMiss(ctx, sp, cs, r, rt, &enf, true); m != nil {
		e.shadow.Store(m)
	}
}

// countShadow counts one shadow decision and reports whether to log it.
func (s *Service) countShadow(sp *shadowPair, cs *classState, d policy.DisagreementKind) bool {
	s.m.shadowChecks.Inc()
	sp.sh.checks.Add(1)
	if d == policy.Agree {
		return false
	}
	sc := &sp.classes[cs.idx]
	sc.counters[d].Inc()
	sc.tally[d].Add(1)
	return s.shadowLog != nil && s.shadowLog.allow(int64(monotonic()))
}

// logShadow logs one sampled disagreement. The origin is request bytes:
// it is clipped, and slog's handlers quote and escape it.
func (s *Service) logShadow(ctx context.Context, sp *shadowPair, cs *classState, r *policy.Request, d policy.DisagreementKind, enfReason, shClass, shReason string) {
	s.log.LogAttrs(ctx, slog.LevelInfo, "shadow disagreement",
		slog.String("kind", d.String()),
		slog.String("class", cs.label),
		slog.String("shadow_class", shClass),
		slog.String("method", r.Method),
		slog.String("origin", clip(r.Origin)),
		slog.String("enforced_reason", enfReason),
		slog.String("shadow_reason", shReason),
		slog.Uint64("shadow_generation", sp.sh.Generation),
		slog.Uint64("unlogged_since_last", s.shadowLog.takeSuppressed()),
	)
}

// sampler lets through at most rate events per second, with a burst of
// max(1, rate), without a lock: the generic cell rate algorithm, whose
// whole state is the theoretical arrival time of the next event.
type sampler struct {
	interval   int64 // nanoseconds per event
	burst      int64 // how far ahead of now tat may run
	tat        atomic.Int64
	suppressed atomic.Uint64
}

// newSampler returns a sampler for rate events per second, or nil (log
// nothing) for rate <= 0.
func newSampler(rate float64) *sampler {
	if !(rate > 0) {
		return nil
	}
	interval := int64(float64(time.Second) / rate)
	if interval < 1 {
		interval = 1
	}
	return &sampler{interval: interval, burst: interval * int64(max(1, rate))}
}

// allow reports whether an event at now (nanoseconds, monotonic) may pass.
func (l *sampler) allow(now int64) bool {
	for range 16 { // bounded: under heavy contention, drop rather than spin
		old := l.tat.Load()
		next := max(old, now) + l.interval
		if next-now > l.burst {
			break
		}
		if l.tat.CompareAndSwap(old, next) {
			return true
		}
	}
	l.suppressed.Add(1)
	return false
}

// takeSuppressed returns the events refused since the last call.
func (l *sampler) takeSuppressed() uint64 { return l.suppressed.Swap(0) }
