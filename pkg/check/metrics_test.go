package check

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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
