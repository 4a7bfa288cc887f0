// Package check is cors-authz's Envoy ext_authz v3 Check handler: it turns
// Envoy's CheckRequest into the policy engine's request view, asks the
// policy for a verdict, and answers with the CheckResponse that makes Envoy
// apply it. Allowed answers are cached per policy snapshot.
//
// The policy is swapped atomically (SetPolicy): every Check sees exactly
// one snapshot (policy, its verdict cache, its prepared responses and
// metric children), never a mix of two. A shadow policy (SetShadow) is
// decided next to it and never enforced; disagreements are counted
// (shadow.go).
package check

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Options configures a Service.
type Options struct {
	// CacheSize is the number of verdict-cache entries per policy
	// snapshot; 0 (or less) disables the cache. Callers that want the
	// cache pass DefaultCacheSize.
	CacheSize int
	// Logger receives load messages and, at debug level, one record per
	// decision (class, kind, verdict, reason). nil discards.
	Logger *slog.Logger
	// Registerer, if not nil, gets the service's Prometheus collectors.
	// Register one Service per registry.
	Registerer prometheus.Registerer
	// ShadowLogRate is how many shadow-policy disagreements per second are
	// logged at most (every one is counted); 0 (or less) logs none.
	// `cors-authz serve` uses 1 unless told otherwise (--shadow-log-rate).
	ShadowLogRate float64
	// RefusalLogRate is how many refused cross-origin requests per second
	// are logged at info level at most (class, kind, origin, reason); 0
	// (or less) logs none. `cors-authz serve` uses 1 unless told
	// otherwise (--refusal-log-rate).
	RefusalLogRate float64
}

// unknownClassLogRate is how many Checks naming an unknown cors_class are
// logged per second at most (every one is counted in
// cors_authz_unknown_class_total): a mistyped route keeps saying so,
// without a record per request.
const unknownClassLogRate = 0.1

// Service answers Envoy's Check calls. It implements
// authv3.AuthorizationServer. Use New; the zero value is not usable.
type Service struct {
	log       *slog.Logger
	cacheSize int
	m         *metrics

	cur  atomic.Pointer[snapshot] // nil until the first SetPolicy
	boot *snapshot                // answers before the first SetPolicy

	mu  sync.Mutex // serialises SetPolicy and SetShadow
	gen uint64

	// The shadow policy (shadow.go); guarded by mu. Checks read it through
	// the enforced snapshot's shadow pair.
	sh        *shadowSnap
	shGen     uint64
	shadowLog *sampler // nil: disagreements are not logged

	refusalLog *sampler // nil: refused origins are not logged
	unknownLog *sampler
}

var _ authv3.AuthorizationServer = (*Service)(nil)

// emptyPolicyYAML is the policy in force before SetPolicy: no classes, so
// every request falls to the policy's fallback class (default deny: no CORS
// grants, cross-origin preflights refused).
const emptyPolicyYAML = "version: 1\nclasses: []\n"

// New returns a Service. Until SetPolicy is called it is not Ready, and
// answers every Check with the default deny of a policy with no classes.
func New(opts Options) *Service {
	s := &Service{
		log:        opts.Logger,
		cacheSize:  opts.CacheSize,
		shadowLog:  newSampler(opts.ShadowLogRate),
		refusalLog: newSampler(opts.RefusalLogRate),
		unknownLog: newSampler(unknownClassLogRate),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.m = newMetrics(opts.Registerer, func() float64 {
		if snap := s.cur.Load(); snap != nil {
			return float64(snap.cache.len())
		}
		return 0
	})
	empty, _, err := policy.Parse("<no policy loaded>", []byte(emptyPolicyYAML))
	if err != nil {
		// The policy engine refused an empty policy: answer with the
		// static default deny (no CORS headers) until a policy is set.
		s.log.Warn("check: no built-in empty policy; answering without CORS headers until a policy is set", "error", err)
		empty = nil
	}
	s.boot = s.newSnapshot(empty, 0, time.Time{})
	return s
}

// SetPolicy installs p for every Check that starts after it returns, with a
// fresh verdict cache, and returns p's generation. A nil p is ignored (the
// current generation is returned).
func (s *Service) SetPolicy(p *policy.Policy) (generation uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p == nil {
		return s.gen
	}
	s.gen++
	snap := s.newSnapshot(p, s.gen, time.Now())
	if s.sh != nil {
		snap.shadow.Store(s.newShadowPair(snap))
	}
	prev := s.cur.Swap(snap)
	s.m.generation.Set(float64(s.gen))
	s.m.setPolicyInfo(roleEnforced, prev.sha256(), p.SHA256())
	s.log.Info("check: policy in use", "generation", s.gen, "source", p.Source(), "sha256", p.SHA256(), "classes", len(p.Classes()))
	return s.gen
}

// Current returns the policy in use (Generation 1 for the first SetPolicy,
// +1 per SetPolicy; LoadedAt when SetPolicy installed it); the zero
// policy.Snapshot before SetPolicy. Its Reload is nil: the service does not
// know where a policy came from.
func (s *Service) Current() policy.Snapshot {
	if snap := s.cur.Load(); snap != nil {
		return snap.Snapshot
	}
	return policy.Snapshot{}
}

// Ready reports whether a policy has been set.
func (s *Service) Ready() bool { return s.cur.Load() != nil }

// Check answers one ext_authz request. Every decision, deny included, is a
// CheckResponse with a nil error: Envoy treats an error as a failure of the
// authorization service (failure_mode_allow / status_on_error). The only
// error is codes.Internal, if the handler itself panicked.
func (s *Service) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	resp, _, err := s.answer(ctx, req, nil)
	return resp, err
}

// answer is Check for both Check and the gRPC handler (grpc.go): the
// response, and for a response shared between requests its pre-encoded
// form (nil for a response built for this request alone). The request is
// req, or, from the handler, d (a request the server codec decoded
// selectively).
func (s *Service) answer(ctx context.Context, req *authv3.CheckRequest, d *envoyauth.Decoded) (resp *authv3.CheckResponse, pre *envoyauth.PreEncoded, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("check: handler panicked; answering Internal", "panic", fmt.Sprint(r))
			snap := s.cur.Load()
			if snap == nil {
				snap = s.boot
			}
			snap.classes[0].counters[outError].Inc()
			resp, pre, err = nil, nil, status.Error(codes.Internal, "cors-authz: internal error")
		}
	}()
	if d != nil {
		resp, pre = s.checkDecoded(ctx, d)
	} else {
		resp, pre = s.check(ctx, req)
	}
	return resp, pre, nil
}

// check is answer without the panic guard (the fuzz target calls it, so a
// panic fails the fuzzer instead of being hidden).
func (s *Service) check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, *envoyauth.PreEncoded) {
	start := monotonic()
	var r policy.Request
	ok := envoyauth.ReadRequest(req, &r)
	return s.decide(ctx, start, &r, ok, false)
}

// checkDecoded is check for a selectively decoded request. Its view's
// strings live in d, so what the verdict cache keeps is detached from it
// (decide).
func (s *Service) checkDecoded(ctx context.Context, d *envoyauth.Decoded) (*authv3.CheckResponse, *envoyauth.PreEncoded) {
	start := monotonic()
	var r policy.Request
	ok := d.Request(&r)
	return s.decide(ctx, start, &r, ok, true)
}

// decide answers the request view r (ok: the request had HTTP
// attributes). borrowed says r's strings belong to a larger object (a
// Decoded) that a cached response must not keep alive: an answer about to
// be cached is then decided again on a copy of r.
func (s *Service) decide(ctx context.Context, start time.Duration, rp *policy.Request, ok, borrowed bool) (*authv3.CheckResponse, *envoyauth.PreEncoded) {
	snap := s.cur.Load()
	if snap == nil {
		snap = s.boot
	}
	r := *rp
	if !ok {
		s.record(ctx, start, snap, &snap.classes[0], outMalformed, policy.NotCORS, reasonMalformed, "", false)
		return snap.malformed.Response(), &snap.malformed
	}
	if snap.pol == nil {
		s.record(ctx, start, snap, &snap.classes[0], outNoPolicy, policy.NotCORS, reasonNoPolicy, "", false)
		return snap.noPolicy.Response(), &snap.noPolicy
	}

	rt := snap.pol.Classify(&r)
	if rt.Selection == policy.ByDefault && rt.Hint != "" {
		s.unknownClass(ctx, snap, &rt)
	}
	cs := snap.classState(rt.Class)
	sp := snap.shadow.Load() // nil without a shadow policy

	var (
		key []byte
		buf [keyBufSize]byte
	)
	if snap.cache != nil {
		var ok bool
		if key, ok = appendKey(buf[:0], rt, &r); ok {
			if e, hit := snap.cache.get(key); hit {
				s.m.hits.Inc()
				if sp != nil {
					s.shadowHit(ctx, snap, sp, cs, e, &r, rt)
				}
				s.record(ctx, start, snap, cs, e.outcome, rt.Kind, e.reason, "", true)
				return e.enc.Response(), &e.enc
			}
			s.m.misses.Inc()
		} else {
			key = nil
		}
	}

	v := snap.pol.DecideRoute(&r, rt)
	static := isStatic(&v)
	if borrowed && key != nil && !static {
		// The cached response echoes request values (the Origin): build
		// it from a copy of them.
		r = detach(r)
		v = snap.pol.DecideRoute(&r, rt)
	}
	out := outcomeOf(&v)
	var memo *shadowMemo
	if sp != nil {
		memo = s.shadowMiss(ctx, sp, cs, &r, rt, &v, key != nil && !static)
	}
	var (
		resp *authv3.CheckResponse
		pre  *envoyauth.PreEncoded
	)
	md := cs.meta.get(snap, cs, v.Kind, v.Reason)
	switch {
	case static:
		resp, pre = cs.statics.get(&v, md)
	case key != nil:
		pre = snap.cache.addMemo(key, envoyauth.Response(&v), md, out, v.Reason, memo)
		resp = pre.Response()
	default:
		resp = envoyauth.ResponseWithMetadata(&v, md.Struct())
	}
	if !v.Allowed {
		s.m.refusal(&cs.refusals, cs.label, v.Reason)
		if s.refusalLog != nil {
			s.logRefusal(ctx, snap, cs, &r, &v)
		}
	}
	s.record(ctx, start, snap, cs, out, v.Kind, v.Reason, v.Detail, false)
	return resp, pre
}

// detach returns r with its strings copied into one new allocation.
func detach(r policy.Request) policy.Request {
	fields := [...]*string{&r.Method, &r.Scheme, &r.Host, &r.Path, &r.Origin, &r.ACRM, &r.ACRH, &r.ACRPN, &r.ClassHint}
	n := 0
	for _, f := range fields {
		n += len(*f)
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range fields {
		b.WriteString(*f)
	}
	all := b.String()
	for _, f := range fields {
		*f, all = all[:len(*f)], all[len(*f):]
	}
	return r
}

// Reasons of the answers this package gives without asking the policy.
const (
	reasonMalformed policy.Reason = "missing_http_attributes"
	reasonNoPolicy  policy.Reason = "no_policy"
)

// isStatic reports whether v's response carries nothing taken from the
// request: everything except an allowed cross-origin verdict, whose ACAO
// echoes the Origin (and whose ACAH may echo the requested headers).
func isStatic(v *policy.Verdict) bool {
	return !v.Allowed || v.Kind == policy.NotCORS || v.Kind == policy.SameOrigin
}

// record counts a finished check and logs it at debug level.
// detail may quote request bytes: it is clipped, and slog's handlers
// escape it.
func (s *Service) record(ctx context.Context, start time.Duration, snap *snapshot, cs *classState, out outcome, kind policy.Kind, reason policy.Reason, detail string, cached bool) {
	cs.counters[out].Inc()
	s.m.duration.Observe((monotonic() - start).Seconds())
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.LogAttrs(ctx, slog.LevelDebug, "check",
			slog.Uint64("generation", snap.Generation),
			slog.String("class", cs.label),
			slog.String("kind", kind.String()),
			slog.String("verdict", out.String()),
			slog.String("reason", string(reason)),
			slog.String("detail", clip(detail)),
			slog.Bool("cached", cached),
		)
	}
}

// unknownClass counts a Check whose cors_class names no class of snap's
// policy and logs it, rate-limited, as a warning: the route's Envoy
// configuration names a class the policy does not have (a typo, or a class
// removed from the policy), and every request on it gets the fallback's
// default deny.
func (s *Service) unknownClass(ctx context.Context, snap *snapshot, rt *policy.Route) {
	s.m.unknown.Inc()
	if !s.unknownLog.allow(int64(monotonic())) {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "check: cors_class names no class of the policy; answering with the fallback class",
		slog.String("cors_class", clip(rt.Hint)),
		slog.String("class", snap.classes[0].label),
		slog.Uint64("generation", snap.Generation),
		slog.Uint64("unlogged_since_last", s.unknownLog.takeSuppressed()),
	)
}

// logRefusal logs a refused cross-origin request at info level, at most
// RefusalLogRate times per second: "why is my partner's origin blocked" is
// answered from the default logs. The origin and path are request bytes:
// they are clipped, and slog's handlers quote and escape them.
func (s *Service) logRefusal(ctx context.Context, snap *snapshot, cs *classState, r *policy.Request, v *policy.Verdict) {
	if !s.refusalLog.allow(int64(monotonic())) {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "check: origin refused",
		slog.String("class", cs.label),
		slog.String("kind", v.Kind.String()),
		slog.String("origin", clip(r.Origin)),
		slog.String("method", clip(r.Method)),
		slog.String("host", clip(r.Host)),
		slog.String("path", clip(r.Path)),
		slog.String("reason", string(v.Reason)),
		slog.String("detail", clip(v.Detail)),
		slog.Uint64("generation", snap.Generation),
		slog.Uint64("unlogged_since_last", s.refusalLog.takeSuppressed()),
	)
}

// maxLogValue bounds a request-derived value in a log record: a hostile
// 1 MiB Origin is logged as its first bytes and its length.
const maxLogValue = 256

// clip returns v, or its first maxLogValue bytes (cut at a rune boundary)
// and its length.
func clip(v string) string {
	if len(v) <= maxLogValue {
		return v
	}
	n := maxLogValue
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return v[:n] + "…(" + strconv.Itoa(len(v)) + " bytes)"
}

// epoch anchors monotonic.
var epoch = time.Now()

// monotonic reads the monotonic clock only: time.Since on a time with a
// monotonic reading skips the wall clock that time.Now also reads, which
// halves the clock cost of timing each Check.
func monotonic() time.Duration { return time.Since(epoch) }

// snapshot is one immutable policy generation with everything derived from
// it. Nothing in it changes after publication except the verdict cache and
// the lazily filled static responses, both safe for concurrent use.
type snapshot struct {
	policy.Snapshot
	pol   *policy.Policy // nil only for a boot snapshot without a policy
	cache *verdictCache  // nil when disabled

	// classes[0] is the fallback class; classes[i+1] is pol.Classes()[i].
	classes []classState

	// malformed and noPolicy answer requests that cannot be decided (no
	// HTTP attributes; no policy): forward with no CORS headers, which is
	// the CORS default deny. Their metadata says why.
	malformed, noPolicy envoyauth.PreEncoded

	// shadow is the shadow policy paired with this snapshot, nil when
	// none is set (SetShadow replaces it).
	shadow atomic.Pointer[shadowPair]
}

// classState is what the hot path needs about a class, resolved once per
// snapshot.
type classState struct {
	idx      int // position in snapshot.classes
	class    *policy.Class
	label    string
	counters [numOutcomes]prometheus.Counter
	refusals refusalCounters
	statics  staticResponses
	meta     metadataCache
}

// fallbackLabel is the class label of requests answered without a policy;
// with one, requests no class took are labelled with the policy's fallback
// class name.
const fallbackLabel = "default-deny"

func (s *Service) newSnapshot(p *policy.Policy, gen uint64, at time.Time) *snapshot {
	snap := &snapshot{
		Snapshot: policy.Snapshot{Policy: p, Generation: gen, LoadedAt: at},
		pol:      p,
	}
	defer snap.initUndecided()
	if p == nil {
		snap.classes = []classState{{label: fallbackLabel, counters: s.m.counters(fallbackLabel)}}
		return snap
	}
	snap.cache = newVerdictCache(s.cacheSize)
	classes := p.Classes()
	snap.classes = make([]classState, len(classes)+1)
	fb, label := p.Fallback(), fallbackLabel
	if fb != nil {
		label = fb.Name
	}
	snap.classes[0] = classState{class: fb, label: label, counters: s.m.counters(label)}
	for i, c := range classes {
		snap.classes[i+1] = classState{idx: i + 1, class: c, label: c.Name, counters: s.m.counters(c.Name)}
	}
	return snap
}

// initUndecided builds the answers to requests that cannot be decided:
// forward with no CORS headers (the CORS default deny), labelled with the
// fallback class and the reason.
func (snap *snapshot) initUndecided() {
	fwd := policy.Verdict{Kind: policy.NotCORS, Allowed: true}
	cs := &snap.classes[0]
	for _, u := range []struct {
		enc    *envoyauth.PreEncoded
		reason policy.Reason
	}{{&snap.malformed, reasonMalformed}, {&snap.noPolicy, reasonNoPolicy}} {
		u.enc.InitWithMetadata(envoyauth.Response(&fwd), cs.meta.get(snap, cs, policy.NotCORS, u.reason))
	}
}

// sha256 is the sha256 of the snapshot's policy; "" for none (a nil
// snapshot included).
func (snap *snapshot) sha256() string {
	if snap == nil || snap.pol == nil {
		return ""
	}
	return snap.pol.SHA256()
}

// classState returns the state of c, a class of snap's policy; the
// fallback's for nil or foreign classes.
func (snap *snapshot) classState(c *policy.Class) *classState {
	if c != nil {
		if i := c.Index + 1; i > 0 && i < len(snap.classes) && snap.classes[i].class == c {
			return &snap.classes[i]
		}
	}
	return &snap.classes[0]
}
