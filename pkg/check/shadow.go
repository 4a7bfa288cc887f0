package check

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
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
// Verdicts are compared, not responses: Allowed, Respond, Status and the
// headers (names, values and modes) — everything a response is built from.
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
// Working out the shadow route costs, from cheapest: nothing when both
// policies route alike (same classes and match rules in the same order,
// same self_origins: the usual candidate, which changes what classes
// grant), a name lookup when the route names its class (cors_class), the
// shadow's match rules otherwise (about 45 ns), and a full Classify when
// the self_origins differ. Measured (BenchmarkCheckShadow/hit_ratio*, 2
// cores): a hit costs 1.16-1.22x a hit without a shadow policy when
// routing is alike or named, 1.34-1.40x when the shadow's match rules run.

// diffKind is the kind label of cors_authz_shadow_disagreements_total.
type diffKind uint8

const (
	diffNone          diffKind = iota
	diffWouldAllow             // enforced denies, shadow allows
	diffWouldDeny              // enforced allows, shadow denies
	diffHeadersDiffer          // same allow/deny; other status, answer or headers
	numDiffs
)

var diffNames = [numDiffs]string{
	diffNone:          "none",
	diffWouldAllow:    "would_allow",
	diffWouldDeny:     "would_deny",
	diffHeadersDiffer: "headers_differ",
}

func (d diffKind) String() string {
	if d < numDiffs {
		return diffNames[d]
	}
	return "unknown"
}

// compareVerdicts says how the shadow verdict sh differs from the
// enforced verdict enf.
func compareVerdicts(enf, sh *policy.Verdict) diffKind {
	switch {
	case enf.Allowed && !sh.Allowed:
		return diffWouldDeny
	case !enf.Allowed && sh.Allowed:
		return diffWouldAllow
	case enf.Respond != sh.Respond || enf.Status != sh.Status || !slices.Equal(enf.Headers(), sh.Headers()):
		return diffHeadersDiffer
	}
	return diffNone
}

// shadowSnap is one shadow policy generation. Its tally counts the
// disagreements seen since it was installed, for the admin page (the
// Prometheus counters run over the process's life).
type shadowSnap struct {
	Snapshot
	pol    *policy.Policy
	checks atomic.Uint64

	mu    sync.Mutex
	tally map[string]*[numDiffs]atomic.Uint64 // enforced class label → counts
}

// tallyOf returns the counts of an enforced class label, creating them.
func (sh *shadowSnap) tallyOf(label string) *[numDiffs]atomic.Uint64 {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t := sh.tally[label]
	if t == nil {
		t = new([numDiffs]atomic.Uint64)
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
	classes []shadowClass // parallel to snapshot.classes

	// sameKinds: both policies have the same self_origins, so a request
	// is of the same kind under both (a request's kind depends only on
	// its Origin, the self_origins, and its scheme, host, method and
	// Access-Control-Request-Method). A cache hit then needs only the
	// shadow's class, which Classify finds without parsing the Origin
	// again when handed the request without it.
	sameKinds bool
	// routes, when both policies also route alike (the same classes, by
	// name and match, in the same order: a candidate that changes only
	// what classes grant), maps an enforced class (by snapshot.classes
	// index) to the shadow class that serves the same requests, so a hit
	// needs no matching at all. nil otherwise.
	routes []*policy.Class
}

type shadowClass struct {
	counters [numDiffs]prometheus.Counter // diffNone unused
	tally    *[numDiffs]atomic.Uint64
}

// shadowMemo is a cache entry's remembered shadow outcome; see above.
type shadowMemo struct {
	gen    uint64 // shadow generation it was computed under
	key    []byte // shadow class index + the shadow policy's cache key
	diff   diffKind
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
		Snapshot: Snapshot{Policy: p, Generation: s.shGen, LoadedAt: time.Now()},
		pol:      p,
		tally:    map[string]*[numDiffs]atomic.Uint64{},
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
		sh:        s.sh,
		classes:   make([]shadowClass, len(snap.classes)),
		sameKinds: slices.Equal(snap.pol.Spec().SelfOrigins, s.sh.pol.Spec().SelfOrigins),
	}
	if sp.sameKinds && sameRouting(snap.pol, s.sh.pol) {
		sp.routes = append([]*policy.Class{s.sh.pol.Fallback()}, s.sh.pol.Classes()...)
	}
	for i := range snap.classes {
		label := snap.classes[i].label
		sp.classes[i] = shadowClass{counters: s.m.disagreementCounters(label), tally: s.sh.tallyOf(label)}
	}
	return sp
}

// ShadowStatus is the shadow policy and what it has disagreed on.
type ShadowStatus struct {
	// Snapshot is the shadow policy; the zero Snapshot when none is set.
	Snapshot
	// Checks is the number of Checks decided under this shadow policy.
	Checks uint64
	// Disagreements counts, per enforced class and kind, the Checks on
	// which this shadow policy (since it was installed) disagreed with the
	// enforced one, sorted by class then kind. Classes of the enforced
	// policy appear with zero counts.
	Disagreements []Disagreement
}

// Disagreement is one count of ShadowStatus.
type Disagreement struct {
	Class string `json:"class"` // the enforced class
	Kind  string `json:"kind"`  // would_allow, would_deny or headers_differ
	Count uint64 `json:"count"`
}

// DisagreementKinds returns the kind label values, in order.
func DisagreementKinds() []string {
	return []string{diffWouldAllow.String(), diffWouldDeny.String(), diffHeadersDiffer.String()}
}

// Shadow returns the shadow policy in use and its counts.
func (s *Service) Shadow() ShadowStatus {
	s.mu.Lock()
	sh := s.sh
	s.mu.Unlock()
	if sh == nil {
		return ShadowStatus{}
	}
	st := ShadowStatus{Snapshot: sh.Snapshot, Checks: sh.checks.Load()}
	sh.mu.Lock()
	for label, t := range sh.tally {
		for d := diffWouldAllow; d < numDiffs; d++ {
			st.Disagreements = append(st.Disagreements, Disagreement{Class: label, Kind: d.String(), Count: t[d].Load()})
		}
	}
	sh.mu.Unlock()
	kinds := DisagreementKinds()
	sort.Slice(st.Disagreements, func(i, j int) bool {
		a, b := st.Disagreements[i], st.Disagreements[j]
		if a.Class != b.Class {
			return a.Class < b.Class
		}
		return slices.Index(kinds, a.Kind) < slices.Index(kinds, b.Kind)
	})
	return st
}

// shadowMiss decides r under the shadow after the enforced policy decided
// enf, counts the outcome, and returns a memo for the cache entry being
// made, when memo is true and the shadow verdict is cacheable.
func (s *Service) shadowMiss(ctx context.Context, sp *shadowPair, cs *classState, r *policy.Request, enf *policy.Verdict, memo bool) *shadowMemo {
	srt := sp.sh.pol.Classify(r)
	sv := sp.sh.pol.DecideRoute(r, srt)
	d := compareVerdicts(enf, &sv)
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
		var srt policy.Route
		switch {
		case sp.routes != nil:
			srt = policy.Route{Class: sp.routes[cs.idx], Selection: rt.Selection, Kind: rt.Kind, Hint: rt.Hint}
		case sp.sameKinds && rt.Hint != "":
			// A route that names its class (Envoy's cors_class) gets the
			// shadow class of that name, else the fallback, whatever the
			// match rules say (Classify's first rule).
			srt = policy.Route{Class: sp.sh.pol.Class(rt.Hint), Selection: policy.ByHint, Kind: rt.Kind, Hint: rt.Hint}
			if srt.Class == nil {
				srt.Class, srt.Selection = sp.sh.pol.Fallback(), policy.ByDefault
			}
		case sp.sameKinds:
			bare := *r
			bare.Origin, bare.HasOrigin = "", false
			srt = sp.sh.pol.Classify(&bare)
			srt.Kind = rt.Kind
		default:
			srt = sp.sh.pol.Classify(r)
		}
		var buf [keyBufSize]byte
		if key, ok := appendKey(buf[:0], srt, r); ok && bytes.Equal(key, m.key) {
			if s.countShadow(sp, cs, m.diff) {
				s.logShadow(ctx, sp, cs, r, m.diff, string(e.reason), m.class, m.reason)
			}
			return
		}
	}
	enf := snap.pol.DecideRoute(r, rt)
	if m := s.shadowMiss(ctx, sp, cs, r, &enf, true); m != nil {
		e.shadow.Store(m)
	}
}

// sameRouting reports whether a and b choose classes alike: the same
// class names with the same match rules, in the same order. (Classify
// picks the class a request names, else the first whose match holds,
// else the fallback; with identical names and matchers, both policies
// pick the class at the same position.)
func sameRouting(a, b *policy.Policy) bool {
	ca, cb := a.Spec().Classes, b.Spec().Classes
	if len(ca) != len(cb) || len(a.Classes()) != len(ca) || len(b.Classes()) != len(cb) {
		return false
	}
	for i := range ca {
		ma, mb := ca[i].Match, cb[i].Match
		if ca[i].Name != cb[i].Name || !slices.Equal(ma.Hosts, mb.Hosts) ||
			!slices.Equal(ma.PathPrefixes, mb.PathPrefixes) || !slices.Equal(ma.Paths, mb.Paths) {
			return false
		}
	}
	return true
}

// countShadow counts one shadow decision and reports whether to log it.
func (s *Service) countShadow(sp *shadowPair, cs *classState, d diffKind) bool {
	s.m.shadowChecks.Inc()
	sp.sh.checks.Add(1)
	if d == diffNone {
		return false
	}
	sc := &sp.classes[cs.idx]
	sc.counters[d].Inc()
	sc.tally[d].Add(1)
	return s.shadowLog != nil && s.shadowLog.allow(int64(monotonic()))
}

// logShadow logs one sampled disagreement. The origin is request bytes:
// slog's handlers quote and escape it.
func (s *Service) logShadow(ctx context.Context, sp *shadowPair, cs *classState, r *policy.Request, d diffKind, enfReason, shClass, shReason string) {
	s.log.LogAttrs(ctx, slog.LevelInfo, "shadow disagreement",
		slog.String("kind", d.String()),
		slog.String("class", cs.label),
		slog.String("shadow_class", shClass),
		slog.String("method", r.Method),
		slog.String("origin", r.Origin),
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
