package check

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cors-authz/cors-authz/internal/logtest"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// family returns the gathered metric family name from reg, or nil.
func family(t testing.TB, reg *prometheus.Registry, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

// counterValue sums the counters of family name whose labels include every
// (name, value) pair in labels.
func counterValue(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	var sum float64
	mf := family(t, reg, name)
	if mf == nil {
		return 0
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		sum += m.GetCounter().GetValue()
	}
	return sum
}

func gaugeValue(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mf := family(t, reg, name)
	if mf == nil || len(mf.GetMetric()) != 1 {
		t.Fatalf("gauge %s not found once", name)
	}
	return mf.GetMetric()[0].GetGauge().GetValue()
}

func TestMetricsCountEveryVerdict(t *testing.T) {
	s, reg := newTestService(t, DefaultCacheSize)
	calls := []struct {
		req          reqSpec
		class, label string
	}{
		{get("/api/v1/x", "Origin", partner), "public-api", "allowed"},
		{get("/api/v1/x", "Origin", partner), "public-api", "allowed"}, // hit
		{get("/api/v1/x", "Origin", "https://evil.example"), "public-api", "denied"},
		{get("/strict/x", "Origin", "https://evil.example"), "strict", "rejected"},
		{options("/api/v1/x", "Origin", partner, "Access-Control-Request-Method", "PUT"), "public-api", "preflight_allowed"},
		{options("/api/v1/x", "Origin", "https://evil.example", "Access-Control-Request-Method", "PUT"), "public-api", "preflight_denied"},
		{get("/admin"), "internal", "not_cors"},
		{get("/admin", "Origin", "https://app.example.com"), "internal", "same_origin"},
		{reqSpec{Method: "GET", Path: "/x", Class: "nope", Headers: pairs([]string{"Origin", partner})}, "default-deny", "denied"},
	}
	for _, c := range calls {
		resp, err := s.Check(context.Background(), c.req.build())
		if err != nil {
			t.Fatal(err)
		}
		assertResponse(t, resp)
	}
	if _, err := s.Check(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	want := map[[2]string]float64{{"default-deny", "malformed"}: 1}
	for _, c := range calls {
		want[[2]string{c.class, c.label}]++
	}
	for k, n := range want {
		if got := counterValue(t, reg, metricChecks, "class", k[0], "verdict", k[1]); got != n {
			t.Errorf("checks_total{class=%q,verdict=%q} = %v, want %v", k[0], k[1], got, n)
		}
	}
	if got, want := counterValue(t, reg, metricChecks), float64(len(calls)+1); got != want {
		t.Errorf("checks_total sum %v, want %v", got, want)
	}
	// Lookups: the two allowed GETs, evil GET, strict, both preflights
	// and the unknown-class GET are cacheable kinds; one of them hit.
	if hits, misses := counterValue(t, reg, metricHits), counterValue(t, reg, metricMisses); hits != 1 || misses != 6 {
		t.Errorf("cache hits/misses = %v/%v, want 1/6", hits, misses)
	}
	// Only the allowed answers are cached.
	if e := gaugeValue(t, reg, metricEntries); e != 2 {
		t.Errorf("cache entries %v, want 2", e)
	}
	h := family(t, reg, metricDuration)
	if h == nil || h.GetMetric()[0].GetHistogram().GetSampleCount() != uint64(len(calls)+1) {
		t.Errorf("duration histogram: %v", h)
	}
	// Labels carry class names and verdict words only.
	for _, m := range family(t, reg, metricChecks).GetMetric() {
		for _, lp := range m.GetLabel() {
			if strings.Contains(lp.GetValue(), "example") || strings.Contains(lp.GetValue(), "/") {
				t.Errorf("label %s=%q carries request data", lp.GetName(), lp.GetValue())
			}
		}
	}
}

func TestMetricsNotRegisteredWithoutRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := New(Options{})
	// A second Service on a registry works: nothing was registered
	// globally by the first.
	b := New(Options{Registerer: reg})
	a.SetPolicy(mustPolicy(t, testPolicyYAML))
	b.SetPolicy(mustPolicy(t, testPolicyYAML))
	if _, err := a.Check(context.Background(), get("/admin").build()); err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, reg, metricChecks); got != 0 {
		t.Errorf("registry of b counted a's check: %v", got)
	}
}

// policyInfoSeries returns the (role, sha256) label pairs of
// cors_authz_policy_info whose value is 1, sorted.
func policyInfoSeries(t testing.TB, reg *prometheus.Registry) []string {
	t.Helper()
	var out []string
	for _, m := range family(t, reg, metricPolicyInfo).GetMetric() {
		lv := map[string]string{}
		for _, lp := range m.GetLabel() {
			lv[lp.GetName()] = lp.GetValue()
		}
		if len(lv) != 2 || m.GetGauge().GetValue() != 1 {
			t.Errorf("%s series %v = %v, want labels role and sha256 and value 1", metricPolicyInfo, lv, m.GetGauge().GetValue())
		}
		out = append(out, lv["role"]+"="+lv["sha256"])
	}
	slices.Sort(out)
	return out
}

// cors_authz_policy_info has exactly one series per policy in use, and a
// replaced policy's series is gone.
func TestPolicyInfoFollowsThePoliciesInUse(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(Options{Registerer: reg})
	a, b, c := mustPolicy(t, testPolicyYAML), mustPolicy(t, testPolicyNoPartnerYAML), mustPolicy(t, string(policy.DefaultYAML))
	if a.SHA256() == b.SHA256() || b.SHA256() == c.SHA256() {
		t.Fatal("test policies share a sha256")
	}
	enf, sh := func(p *policy.Policy) string { return "enforced=" + p.SHA256() }, func(p *policy.Policy) string { return "shadow=" + p.SHA256() }
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"before any policy", func() {}, nil},
		{"first policy", func() { s.SetPolicy(a) }, []string{enf(a)}},
		{"reload", func() { s.SetPolicy(b) }, []string{enf(b)}},
		{"nil policy ignored", func() { s.SetPolicy(nil) }, []string{enf(b)}},
		{"same content again", func() { s.SetPolicy(mustPolicy(t, testPolicyNoPartnerYAML)) }, []string{enf(b)}},
		{"shadow set", func() { s.SetShadow(a) }, []string{enf(b), sh(a)}},
		{"shadow replaced", func() { s.SetShadow(c) }, []string{enf(b), sh(c)}},
		{"enforced = shadow", func() { s.SetPolicy(c) }, []string{enf(c), sh(c)}},
		{"shadow cleared", func() { s.SetShadow(nil) }, []string{enf(c)}},
		{"shadow cleared twice", func() { s.SetShadow(nil) }, []string{enf(c)}},
	}
	for _, st := range steps {
		st.do()
		want := slices.Clone(st.want)
		slices.Sort(want)
		if got := policyInfoSeries(t, reg); !slices.Equal(got, want) {
			t.Errorf("%s: %s = %v, want %v", st.name, metricPolicyInfo, got, want)
		}
	}
}

// newLoggedService is newTestService with its log records collected.
func newLoggedService(t testing.TB, opts Options) (*Service, *prometheus.Registry, *logtest.Lines) {
	t.Helper()
	lines := new(logtest.Lines)
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	opts.Logger = slog.New(slog.NewJSONHandler(lines, nil))
	s := New(opts)
	s.SetPolicy(mustPolicy(t, testPolicyYAML))
	return s, reg, lines
}

const (
	msgUnknownClass = "check: cors_class names no class of the policy; answering with the fallback class"
	msgRefused      = "check: origin refused"
)

// Every Check naming an unknown cors_class is counted, whatever its kind
// and whether or not its answer is cached; the warning is rate-limited.
func TestUnknownClassCountedAndLogged(t *testing.T) {
	named := func(rs reqSpec, class string) reqSpec { rs.Class = class; return rs }
	tests := []struct {
		req     reqSpec
		unknown bool
	}{
		{named(get("/api/v1/x", "Origin", partner), "public-apii"), true},
		{named(get("/api/v1/x"), "public-apii"), true}, // not CORS: counted too
		{named(options("/api/v1/x", "Origin", partner, "Access-Control-Request-Method", "PUT"), "nope"), true},
		{named(get("/api/v1/x", "Origin", partner, "Access-Control-Request-Method", "PUT"), "public-api"), false},
		{named(get("/api/v1/x", "Origin", partner), "public-api"), false}, // miss, then hits below
		{get("/api/v1/x", "Origin", partner), false},                      // no cors_class: match rules
	}
	s, reg, lines := newLoggedService(t, Options{CacheSize: DefaultCacheSize})
	var want float64
	for round := range 3 {
		for _, tt := range tests {
			resp, err := s.Check(context.Background(), tt.req.build())
			if err != nil {
				t.Fatal(err)
			}
			assertResponse(t, resp)
			if tt.unknown {
				want++
			}
			if got := counterValue(t, reg, metricUnknownClass); got != want {
				t.Fatalf("round %d %+v: %s = %v, want %v", round, tt.req, metricUnknownClass, got, want)
			}
		}
	}
	// One warning: the burst of one, then one per 10 s at most.
	if n := lines.Count(msgUnknownClass); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, lines)
	}
	rec, _ := lines.Find(msgUnknownClass)
	if rec["level"] != "WARN" || rec["cors_class"] != "public-apii" || rec["class"] != policy.FallbackClass || rec["generation"] != float64(1) {
		t.Errorf("warning %v", rec)
	}
}

// Refused cross-origin requests are logged at info level (class, origin,
// reason), at most RefusalLogRate per second; allowed ones never.
func TestRefusedOriginsLogged(t *testing.T) {
	huge := "https://" + strings.Repeat("a", 1<<20) + ".example"
	tests := []struct {
		name   string
		rate   float64
		reqs   []reqSpec
		logged int
		want   map[string]any // fields of the last record
	}{
		{"allowed and not CORS: nothing", 1, []reqSpec{get("/api/v1/x", "Origin", partner), get("/api/v1/x"), get("/api/v1/x", "Origin", "https://app.example.com")}, 0, nil},
		{"unlisted origin", 1, []reqSpec{get("/api/v1/x", "Origin", "https://evil.example")}, 1,
			map[string]any{"level": "INFO", "class": "public-api", "kind": "actual", "origin": "https://evil.example", "method": "GET", "path": "/api/v1/x", "reason": "origin_not_allowed"}},
		{"preflight refused", 1, []reqSpec{options("/api/v1/x", "Origin", partner, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "x-nope")}, 1,
			map[string]any{"class": "public-api", "kind": "preflight", "origin": partner, "reason": "header_not_allowed", "detail": "x-nope"}},
		{"internal class", 1, []reqSpec{options("/admin", "Origin", partner, "Access-Control-Request-Method", "GET")}, 1,
			map[string]any{"class": "internal", "reason": "cross_origin_to_internal"}},
		{"rate-limited", 1, []reqSpec{get("/strict/x", "Origin", "https://a.example"), get("/strict/x", "Origin", "https://b.example"), get("/strict/x", "Origin", "https://c.example")}, 1,
			map[string]any{"class": "strict", "origin": "https://a.example", "reason": "origin_not_allowed", "unlogged_since_last": float64(0)}},
		{"rate 0 logs none", 0, []reqSpec{get("/api/v1/x", "Origin", "https://evil.example")}, 0, nil},
		{"hostile origin clipped", 1, []reqSpec{get("/api/v1/x", "Origin", huge)}, 1,
			map[string]any{"origin": huge[:maxLogValue] + "…(" + strconv.Itoa(len(huge)) + " bytes)", "reason": "origin_invalid"}},
	}
	for _, tt := range tests {
		s, _, lines := newLoggedService(t, Options{CacheSize: DefaultCacheSize, RefusalLogRate: tt.rate})
		for _, rs := range tt.reqs {
			if _, err := s.Check(context.Background(), rs.build()); err != nil {
				t.Fatal(err)
			}
		}
		if n := lines.Count(msgRefused); n != tt.logged {
			t.Errorf("%s: %d records, want %d:\n%s", tt.name, n, tt.logged, lines)
			continue
		}
		rec, _ := lines.Find(msgRefused)
		for k, v := range tt.want {
			if rec[k] != v {
				t.Errorf("%s: %s = %v, want %v", tt.name, k, rec[k], v)
			}
		}
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("é", maxLogValue) // 2 bytes a rune: the cut falls inside one
	tests := []struct{ in, want string }{
		{"", ""},
		{"https://partner.example.org", "https://partner.example.org"},
		{strings.Repeat("a", maxLogValue), strings.Repeat("a", maxLogValue)},
		{strings.Repeat("a", maxLogValue+1), strings.Repeat("a", maxLogValue) + "…(257 bytes)"},
		{long, strings.Repeat("é", maxLogValue/2) + "…(512 bytes)"},
	}
	for _, tt := range tests {
		if got := clip(tt.in); got != tt.want {
			t.Errorf("clip(%d bytes) = %q, want %q", len(tt.in), got, tt.want)
		}
	}
}

// Every refused cross-origin request is counted by class and reason;
// allowed, same-origin and non-CORS requests never.
func TestRefusalsCountedByReason(t *testing.T) {
	named := func(rs reqSpec, class string) reqSpec { rs.Class = class; return rs }
	tests := []struct {
		req           reqSpec
		class, reason string // "" reason: not a refusal
	}{
		{get("/api/v1/x", "Origin", partner), "public-api", ""},
		{get("/api/v1/x"), "public-api", ""},
		{get("/api/v1/x", "Origin", "https://app.example.com"), "public-api", ""},
		{get("/api/v1/x", "Origin", "https://evil.example"), "public-api", "origin_not_allowed"},
		{get("/api/v1/x", "Origin", "null"), "public-api", "origin_invalid"},
		{options("/api/v1/x", "Origin", partner, "Access-Control-Request-Method", "TRACE"), "public-api", "method_not_allowed"},
		{options("/api/v1/x", "Origin", partner, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "x-nope"), "public-api", "header_not_allowed"},
		{get("/strict/x", "Origin", "https://evil.example"), "strict", "origin_not_allowed"},
		{options("/admin", "Origin", partner, "Access-Control-Request-Method", "GET"), "internal", "cross_origin_to_internal"},
		{named(get("/api/v1/x", "Origin", partner), "nope"), policy.FallbackClass, "unknown_class"},
	}
	s, reg := newTestService(t, DefaultCacheSize)
	want := map[[2]string]float64{}
	for round := range 2 {
		for _, tt := range tests {
			if _, err := s.Check(context.Background(), tt.req.build()); err != nil {
				t.Fatal(err)
			}
			if tt.reason != "" {
				want[[2]string{tt.class, tt.reason}]++
			}
			for k, n := range want {
				if got := counterValue(t, reg, metricRefusals, "class", k[0], "reason", k[1]); got != n {
					t.Fatalf("round %d, after %+v: refusals{class=%q,reason=%q} = %v, want %v", round, tt.req, k[0], k[1], got, n)
				}
			}
		}
	}
	var sum float64
	for _, n := range want {
		sum += n
	}
	if got := counterValue(t, reg, metricRefusals); got != sum {
		t.Errorf("refusals_total sum %v, want %v", got, sum)
	}
	// Refusals are the denied verdicts of checks_total.
	denied := counterValue(t, reg, metricChecks, "verdict", "denied") + counterValue(t, reg, metricChecks, "verdict", "rejected") +
		counterValue(t, reg, metricChecks, "verdict", "preflight_denied")
	if denied != sum {
		t.Errorf("checks_total denied+rejected+preflight_denied = %v, refusals_total = %v", denied, sum)
	}
}

// refusalReasons lists every reason the policy gives a refused verdict:
// each Reason constant of pkg/policy is either listed or one of the
// reasons of allowed verdicts.
func TestRefusalReasonsCoverPolicy(t *testing.T) {
	allowedReasons := []string{"not_cors", "same_origin", "origin_allowed", "preflight_allowed"}
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join("..", "policy", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var seen int
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Reason" {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok {
						continue
					}
					r, _ := strconv.Unquote(lit.Value)
					seen++
					if !slices.Contains(allowedReasons, r) && refusalSlot(policy.Reason(r)) == len(refusalReasons) {
						t.Errorf("policy reason %q is not in refusalReasons (it would be counted as %q)", r, reasonOther)
					}
				}
			}
		}
	}
	if seen < len(refusalReasons)+len(allowedReasons) {
		t.Errorf("found %d Reason constants in pkg/policy: is the parsing broken?", seen)
	}
	if refusalSlot("something_new") != len(refusalReasons) {
		t.Error("an unlisted reason must go to the other slot")
	}
}
