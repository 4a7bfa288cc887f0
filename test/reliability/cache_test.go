//go:build linux

package reliability

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// hotSet is a handful of allowed requests a real deployment repeats all
// day: they must stay cached whatever else arrives.
func hotSet() []*authv3.CheckRequest {
	R := checktest.Request
	return []*authv3.CheckRequest{
		R("GET", "/api/v1/items", partner),
		R("POST", "/api/v1/orders", partner),
		R("GET", "/api/v1/items", tenant),
		R("OPTIONS", "/api/v1/items", partner, checktest.Preflight("PUT", "content-type")),
		R("OPTIONS", "/api/v1/items", tenant, checktest.Preflight("DELETE", "authorization, x-request-id")),
		R("OPTIONS", "/uploads/a", tenant, checktest.Preflight("PUT", "x-upload-token")),
	}
}

// floodRequest is the i-th request of a flood of never-repeating allowed
// requests: even i a new origin under the allowed wildcard, odd i a
// preflight with a new header list (the uploads class allows any header).
func floodRequest(i int) *authv3.CheckRequest {
	if i%2 == 0 {
		return checktest.Request("GET", "/api/v1/items", "https://f"+strconv.Itoa(i)+".tenant.example.com")
	}
	return checktest.Request("OPTIONS", "/uploads/x", tenant,
		checktest.Preflight("PUT", fmt.Sprintf("x-f%d, x-g%d", i, i)))
}

// TestCachePollutionInProcess floods a Check service (cache of 1,000
// entries) with 40,000 never-repeating allowed requests after warming a hot
// set: the cache stays at its size, the hot set is still answered from the
// cache afterwards, and the live heap grows by less than 16 MiB. Without
// eviction the flood's 40,000 entries (each the key plus a built response,
// about 1.3 KiB) hold about 50 MiB: run with a cache of 100,000 and this
// test fails.
func TestCachePollutionInProcess(t *testing.T) {
	const cacheSize, flood = 1000, 40_000
	pol, _, err := policy.Parse("policy.yaml", []byte(policyA))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s := check.New(check.Options{CacheSize: cacheSize, Registerer: reg})
	s.SetPolicy(pol)
	ctx := context.Background()
	call := func(req *authv3.CheckRequest) *authv3.CheckResponse {
		resp, err := s.Check(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		checktest.AssertResponse(t, resp)
		return resp
	}

	hot := hotSet()
	for range 2 { // a second use promotes an entry to the frequent queue
		for _, r := range hot {
			call(r)
		}
	}
	heapBefore := liveHeap()
	for i := range flood {
		resp := call(floodRequest(i))
		if _, ok := checktest.HeaderValue(resp, "access-control-allow-origin"); !ok {
			t.Fatalf("flood request %d was not allowed, so it tests nothing: %v", i, resp)
		}
	}
	heapAfter := liveHeap()
	entries := gathered(t, reg, "cors_authz_cache_entries")
	hits := gathered(t, reg, "cors_authz_cache_hits_total")
	for _, r := range hot {
		call(r)
	}
	hotHits := gathered(t, reg, "cors_authz_cache_hits_total") - hits

	growth := int64(heapAfter) - int64(heapBefore)
	t.Logf("flood of %d never-repeating allowed requests, cache size %d: %v entries, live heap %+.1f MiB; hot set %d/%d hits after it",
		flood, cacheSize, entries, float64(growth)/(1<<20), int(hotHits), len(hot))
	if entries > cacheSize {
		t.Errorf("cors_authz_cache_entries = %v, want <= %d", entries, cacheSize)
	}
	if int(hotHits) != len(hot) {
		t.Errorf("hot set: %v cache hits for %d requests after the flood, want all", hotHits, len(hot))
	}
	if growth > 16<<20 {
		t.Errorf("live heap grew %.1f MiB over the flood, want < 16 MiB", float64(growth)/(1<<20))
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// gathered returns the value of an unlabelled counter or gauge in reg.
func gathered(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("metric %s not gathered", name)
	return 0
}

// TestCachePollutionProcess does the same to the real process over gRPC
// (cache of 500 entries, a flood of 3,000) and reads the outcome where an
// operator would: cors_authz_cache_entries stays at most the cache size
// and the hot set's requests are counted as hits after the flood.
func TestCachePollutionProcess(t *testing.T) {
	const cacheSize, flood = 500, 3_000
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, path, policyA)
	p := startProc(t, "--config", path, "--cache-size", strconv.Itoa(cacheSize))
	oracle := newService(t, policyA)
	conns := []*grpc.ClientConn{p.dial(), p.dial()}

	asItems := func(reqs []*authv3.CheckRequest) []item {
		var its []item
		for i, r := range reqs {
			resp, err := oracle.Check(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			its = append(its, item{name: fmt.Sprintf("request %d", i), req: r, want: [][]byte{marshal(t, resp)}})
		}
		return its
	}
	run := func(its []item) *loadStats {
		st := startLoad(t, loadConfig{conns: conns, workers: 8, items: its, once: true}).wait()
		if st.answered.Load() != int64(len(its)) || st.mismatches.Load() != 0 {
			t.Fatalf("want %d correct answers: %v", len(its), st)
		}
		return st
	}
	hot := asItems(hotSet())
	run(hot)
	run(hot)
	rssBefore, _ := p.RSS()

	var reqs []*authv3.CheckRequest
	for i := range flood {
		reqs = append(reqs, floodRequest(i))
	}
	run(asItems(reqs))
	m := p.metrics()
	entries, hits := m.Value("cors_authz_cache_entries"), m.Value("cors_authz_cache_hits_total")
	run(hot)
	hotHits := p.metrics().Value("cors_authz_cache_hits_total") - hits
	rssAfter, _ := p.RSS()

	t.Logf("process: flood of %d, --cache-size %d: cors_authz_cache_entries %v; hot set %d/%d hits after it; RSS %.1f -> %.1f MiB",
		flood, cacheSize, entries, int(hotHits), len(hot), float64(rssBefore)/(1<<20), float64(rssAfter)/(1<<20))
	if entries > cacheSize {
		t.Errorf("cors_authz_cache_entries = %v, want <= %d", entries, cacheSize)
	}
	if int(hotHits) != len(hot) {
		t.Errorf("hot set: %v cache hits for %d requests after the flood, want all", hotHits, len(hot))
	}
	p.stop(15 * time.Second)
}
