package check_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// shadowEnforcedYAML is the enforced policy of the shadow tests.
const shadowEnforcedYAML = `version: 1
self_origins: [https://app.example.com]
classes:
  - name: public-api
    match: {path_prefixes: [/api/]}
    allow_origins: [https://a.example.org, https://b.example.org]
    allow_methods: [GET, PUT]
  - name: widgets
    match: {path_prefixes: [/widgets/]}
    allow_origins: [https://c.example.org]
  - name: strict
    match: {path_prefixes: [/strict/]}
    allow_origins: [https://a.example.org]
  - name: internal
    match: {path_prefixes: [/]}
`

// shadowCandidateYAML changes shadowEnforcedYAML in one way per
// disagreement kind: a.example.org leaves public-api (would_deny),
// new.example.org joins it (would_allow), widgets exposes a header
// (headers_differ on allowed requests), strict rejects refused origins
// with a 403 instead of forwarding them (headers_differ on denied ones).
const shadowCandidateYAML = `version: 1
self_origins: [https://app.example.com]
classes:
  - name: public-api
    match: {path_prefixes: [/api/]}
    allow_origins: [https://b.example.org, https://new.example.org]
    allow_methods: [GET, PUT]
  - name: widgets
    match: {path_prefixes: [/widgets/]}
    allow_origins: [https://c.example.org]
    expose_headers: [X-Total]
  - name: strict
    match: {path_prefixes: [/strict/]}
    allow_origins: [https://a.example.org]
    deny_action: reject
  - name: internal
    match: {path_prefixes: [/]}
`

func parsePolicy(t testing.TB, name, yaml string) *policy.Policy {
	t.Helper()
	p, _, err := policy.Parse(name, []byte(yaml))
	if err != nil {
		t.Fatalf("policy.Parse(%s): %v", name, err)
	}
	return p
}

// shadowService returns a service enforcing shadowEnforcedYAML with the
// given shadow (none when shadowYAML is ""), on its own registry.
func shadowService(t testing.TB, cacheSize int, shadowYAML string, logTo *bytes.Buffer, logRate float64) (*check.Service, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts := check.Options{CacheSize: cacheSize, Registerer: reg, ShadowLogRate: logRate}
	if logTo != nil {
		opts.Logger = slog.New(slog.NewJSONHandler(logTo, nil))
	}
	s := check.New(opts)
	s.SetPolicy(parsePolicy(t, "enforced.yaml", shadowEnforcedYAML))
	if shadowYAML != "" {
		s.SetShadow(parsePolicy(t, "shadow.yaml", shadowYAML))
	}
	return s, reg
}

// disagreements returns the cors_authz_shadow_disagreements_total series
// as "class/kind" → value, and the shadow checks counter.
func disagreements(t testing.TB, reg *prometheus.Registry) (map[string]float64, float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	var checks float64
	for _, mf := range mfs {
		switch mf.GetName() {
		case "cors_authz_shadow_disagreements_total":
			for _, m := range mf.GetMetric() {
				out[label(m, "class")+"/"+label(m, "kind")] = m.GetCounter().GetValue()
			}
		case "cors_authz_shadow_checks_total":
			checks = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return out, checks
}

func label(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

// nonZero keeps the series with a value.
func nonZero(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func wire(t testing.TB, resp *authv3.CheckResponse) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustCheck(t testing.TB, s *check.Service, req *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	resp, err := s.Check(context.Background(), req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return resp
}

var (
	reqDeniedByShadow  = checktest.Request("GET", "/api/v1/items", "https://a.example.org")
	reqAllowedByShadow = checktest.Request("GET", "/api/v1/items", "https://new.example.org")
	reqAgreed          = checktest.Request("GET", "/api/v1/items", "https://b.example.org")
)

func TestShadowDisagreements(t *testing.T) {
	tests := []struct {
		name string
		req  *authv3.CheckRequest
		want string // "class/kind", "" for agreement
	}{
		{"allowed, shadow drops the origin", reqDeniedByShadow, "public-api/would_deny"},
		{"denied, shadow adds the origin", reqAllowedByShadow, "public-api/would_allow"},
		{"preflight denied, shadow allows", checktest.Request("OPTIONS", "/api/v1/items", "https://new.example.org", checktest.Preflight("PUT", "")), "public-api/would_allow"},
		{"preflight allowed, shadow refuses", checktest.Request("OPTIONS", "/api/v1/items", "https://a.example.org", checktest.Preflight("PUT", "")), "public-api/would_deny"},
		{"allowed by both, other headers", checktest.Request("GET", "/widgets/1", "https://c.example.org"), "widgets/headers_differ"},
		{"denied by both, forwarded vs 403", checktest.Request("GET", "/strict/1", "https://evil.example"), "strict/headers_differ"},
		{"allowed by both, same answer", reqAgreed, ""},
		{"denied by both, same answer", checktest.Request("GET", "/internal/1", "https://evil.example"), ""},
		{"no Origin", checktest.Request("GET", "/api/v1/items", ""), ""},
		{"same origin", checktest.Request("POST", "/api/v1/items", "https://app.example.com"), ""},
		{"class hint", checktest.Request("GET", "/anything", "https://a.example.org", checktest.Class("public-api")), "public-api/would_deny"},
	}
	for _, cacheSize := range []int{check.DefaultCacheSize, 0} {
		for _, tt := range tests {
			name := tt.name
			if cacheSize == 0 {
				name += " (cache off)"
			}
			t.Run(name, func(t *testing.T) {
				plain, _ := shadowService(t, cacheSize, "", nil, 0)
				s, reg := shadowService(t, cacheSize, shadowCandidateYAML, nil, 0)
				const n = 3 // a miss, then hits
				for i := range n {
					want := wire(t, mustCheck(t, plain, tt.req))
					got := mustCheck(t, s, tt.req)
					checktest.AssertResponse(t, got)
					if !bytes.Equal(wire(t, got), want) {
						t.Fatalf("call %d: the shadow changed the response:\n got %v\nwant %v", i, got, mustCheck(t, plain, tt.req))
					}
				}
				d, checks := disagreements(t, reg)
				if checks != n {
					t.Errorf("shadow checks = %v, want %d", checks, n)
				}
				want := map[string]float64{}
				if tt.want != "" {
					want[tt.want] = n
				}
				if got := nonZero(d); !equalCounts(got, want) {
					t.Errorf("disagreements = %v, want %v", got, want)
				}
				st := s.Shadow()
				var total uint64
				for _, dg := range st.Disagreements {
					total += dg.Count
					if dg.Count > 0 && dg.Class+"/"+dg.Kind.String() != tt.want {
						t.Errorf("Shadow().Disagreements has %+v, want only %q", dg, tt.want)
					}
				}
				if wantTotal := uint64(len(want)) * n; total != wantTotal || st.Checks != n {
					t.Errorf("Shadow(): %d disagreements over %d checks, want %d over %d", total, st.Checks, wantTotal, n)
				}
			})
		}
	}
}

func equalCounts(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// One enforced cache entry can meet several shadow outcomes: here the
// shadow routes /api/v2/ to a class of its own that grants nothing, so the
// same origin on /api/v1/ (agreement) and /api/v2/ (would_deny) shares the
// enforced cache entry but not the shadow's answer.
func TestShadowMemoFollowsShadowRouting(t *testing.T) {
	split := strings.Replace(shadowEnforcedYAML, "classes:\n", "classes:\n  - name: api-v2\n    match: {path_prefixes: [/api/v2/]}\n", 1)
	s, reg := shadowService(t, check.DefaultCacheSize, split, nil, 0)
	v1 := checktest.Request("GET", "/api/v1/items", "https://b.example.org")
	v2 := checktest.Request("GET", "/api/v2/items", "https://b.example.org")
	for _, step := range []struct {
		req  *authv3.CheckRequest
		want float64 // public-api/would_deny after this call
	}{{v1, 0}, {v1, 0}, {v2, 1}, {v2, 2}, {v1, 2}, {v2, 3}, {v1, 3}} {
		mustCheck(t, s, step.req)
		d, _ := disagreements(t, reg)
		if got := d["public-api/would_deny"]; got != step.want {
			t.Fatalf("after %s: would_deny = %v, want %v (all: %v)", step.req.GetAttributes().GetRequest().GetHttp().GetPath(), got, step.want, nonZero(d))
		}
	}
	if hits := counter(t, reg, "cors_authz_cache_hits_total"); hits < 5 {
		t.Errorf("cache hits = %v: the enforced answers should come from one cache entry", hits)
	}

	// A route naming its class (cors_class) is served by the shadow class
	// of that name, whatever the shadow's match rules say.
	s, reg = shadowService(t, check.DefaultCacheSize, split, nil, 0)
	hinted := checktest.Request("GET", "/api/v2/items", "https://b.example.org", checktest.Class("public-api"))
	for range 3 {
		mustCheck(t, s, hinted)
	}
	mustCheck(t, s, v2)
	if d, _ := disagreements(t, reg); !equalCounts(nonZero(d), map[string]float64{"public-api/would_deny": 1}) {
		t.Errorf("hinted requests agree, the unhinted one is would_deny; got %v", nonZero(d))
	}
}

func counter(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// Replacing the shadow policy changes the outcome of requests whose
// enforced answer is cached; replacing the enforced policy keeps the
// shadow; clearing it stops the counting.
func TestShadowReplaceAndClear(t *testing.T) {
	s, reg := shadowService(t, check.DefaultCacheSize, shadowCandidateYAML, nil, 0)
	gauge := func() float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "cors_authz_shadow_policy_generation" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return -1
	}
	step := func(what string, wantDeny, wantChecks float64) {
		t.Helper()
		mustCheck(t, s, reqDeniedByShadow)
		d, checks := disagreements(t, reg)
		if d["public-api/would_deny"] != wantDeny || checks != wantChecks {
			t.Fatalf("%s: would_deny %v over %v shadow checks, want %v over %v", what, d["public-api/would_deny"], checks, wantDeny, wantChecks)
		}
	}
	if g := gauge(); g != 1 {
		t.Fatalf("shadow generation gauge = %v, want 1", g)
	}
	step("miss", 1, 1)
	step("hit", 2, 2)

	// A shadow equal to the enforced policy: the cached memo must not be
	// reused.
	if gen := s.SetShadow(parsePolicy(t, "shadow.yaml", shadowEnforcedYAML)); gen != 2 {
		t.Fatalf("SetShadow generation = %d, want 2", gen)
	}
	step("agreeing shadow", 2, 3)
	if st := s.Shadow(); st.Generation != 2 || st.Checks != 1 || st.Policy.SHA256() == "" {
		t.Errorf("Shadow() = gen %d, %d checks; want gen 2 counting from its installation (1 check)", st.Generation, st.Checks)
	}

	// Back to the disagreeing candidate, then a new enforced policy.
	s.SetShadow(parsePolicy(t, "shadow.yaml", shadowCandidateYAML))
	step("disagreeing again", 3, 4)
	s.SetPolicy(parsePolicy(t, "enforced-v2.yaml", shadowEnforcedYAML+"\n# v2\n"))
	step("new enforced policy (fresh cache)", 4, 5)
	step("new enforced policy (hit)", 5, 6)

	if gen := s.SetShadow(nil); gen != 0 {
		t.Fatalf("SetShadow(nil) = %d, want 0", gen)
	}
	if g := gauge(); g != 0 {
		t.Errorf("shadow generation gauge after clearing = %v, want 0", g)
	}
	step("cleared", 5, 6)
	if st := s.Shadow(); st.Policy != nil || st.Generation != 0 || len(st.Disagreements) != 0 {
		t.Errorf("Shadow() after clearing = %+v, want zero", st)
	}
	if gen := s.SetShadow(parsePolicy(t, "shadow.yaml", shadowCandidateYAML)); gen != 4 {
		t.Errorf("generation after clearing = %d, want 4 (never reused)", gen)
	}
}

// Without a shadow policy nothing shadow-related is exported but the
// gauge and the checks counter.
func TestShadowSeriesOnlyWithShadow(t *testing.T) {
	s, reg := shadowService(t, check.DefaultCacheSize, "", nil, 0)
	mustCheck(t, s, reqDeniedByShadow)
	if d, checks := disagreements(t, reg); len(d) != 0 || checks != 0 {
		t.Fatalf("without a shadow: disagreements %v, checks %v", d, checks)
	}
	s.SetShadow(parsePolicy(t, "shadow.yaml", shadowCandidateYAML))
	d, _ := disagreements(t, reg)
	// Every enforced class (and the fallback) × 3 kinds, at zero.
	if len(d) != 5*3 || len(nonZero(d)) != 0 {
		t.Errorf("after SetShadow: %d series (%v), want 15 at zero", len(d), d)
	}
}

// Disagreements are logged at most at the sampled rate, with the request's
// origin escaped by the JSON handler.
func TestShadowLogSampled(t *testing.T) {
	var buf bytes.Buffer
	// One record per ~11.6 days: exactly the first disagreement is logged.
	s, _ := shadowService(t, check.DefaultCacheSize, shadowCandidateYAML, &buf, 1e-6)
	hostile := "https://new.example.org\"\n<script>"
	for range 5 {
		mustCheck(t, s, reqDeniedByShadow)
		mustCheck(t, s, checktest.Request("GET", "/api/v1/items", hostile))
	}
	var recs []map[string]any
	for line := range strings.Lines(buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "shadow disagreement" {
			recs = append(recs, rec)
		}
	}
	if len(recs) != 1 {
		t.Fatalf("%d disagreement records, want 1 (sampled):\n%s", len(recs), buf.String())
	}
	want := map[string]any{
		"kind": "would_deny", "class": "public-api", "shadow_class": "public-api", "method": "GET",
		"origin": "https://a.example.org", "enforced_reason": "origin_allowed", "shadow_reason": "origin_not_allowed",
	}
	for k, v := range want {
		if recs[0][k] != v {
			t.Errorf("record %s = %v, want %v", k, recs[0][k], v)
		}
	}

	// A generous rate logs every one, and a hostile origin (refused by
	// both, forwarded by one and answered 403 by the other) stays one
	// escaped JSON string.
	buf.Reset()
	s, _ = shadowService(t, check.DefaultCacheSize, shadowCandidateYAML, &buf, 1000)
	for range 2 {
		mustCheck(t, s, checktest.Request("GET", "/strict/1", hostile))
	}
	var n int
	for line := range strings.Lines(buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] != "shadow disagreement" {
			continue
		}
		n++
		if rec["origin"] != hostile || rec["kind"] != "headers_differ" || rec["class"] != "strict" {
			t.Errorf("record %v", rec)
		}
	}
	if n != 2 {
		t.Errorf("%d records at a generous rate, want 2:\n%s", n, buf.String())
	}
}
