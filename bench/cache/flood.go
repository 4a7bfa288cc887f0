// Package cache measures cors-authz's verdict cache under a realistic and
// a hostile load at once: a hot set of origins that keep coming back, mixed
// half and half with never-repeating origins that a wildcard allows (so
// each is cacheable, and each would evict something from a plain LRU).
//
//	go test -run '^$' -bench . -benchmem ./cache
package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cors-authz/cors-authz/bench/baseline"
	"github.com/cors-authz/cors-authz/bench/fixture"
	"github.com/cors-authz/cors-authz/pkg/check"
)

// Flood is one hot-set-plus-flood workload against an in-process Check.
type Flood struct {
	svc    *check.Service
	reg    *prometheus.Registry
	req    *authv3.CheckRequest
	hdrs   map[string]string
	hot    []string
	cold   []string // never-repeating origins, used once each
	rng    *rand.Rand
	i      int
	nHot   int
	nCold  int
	before runtime.MemStats
}

// NewFlood builds the workload: a Check service with the fixture policy
// and cacheSize entries, hot origins allowed by the wildcard, and room for
// maxCold never-repeating ones. The heap in use now is the baseline
// HeldHeap subtracts.
func NewFlood(cacheSize, hot, maxCold int) (*Flood, error) {
	p, err := baseline.Policy()
	if err != nil {
		return nil, err
	}
	f := &Flood{
		reg: prometheus.NewRegistry(),
		req: fixture.CheckRequest(fixture.Cases[0], 1),
		rng: rand.New(rand.NewPCG(1, 2)), // the same sequence every run
	}
	f.hdrs = f.req.GetAttributes().GetRequest().GetHttp().GetHeaders()
	for i := range hot {
		f.hot = append(f.hot, fmt.Sprintf("https://hot-%d.example.com", i))
	}
	f.cold = make([]string, maxCold)
	for i := range f.cold {
		f.cold[i] = fmt.Sprintf("https://flood-%d.example.com", i)
	}
	runtime.GC()
	runtime.ReadMemStats(&f.before)
	f.svc = check.New(check.Options{CacheSize: cacheSize, Registerer: f.reg})
	f.svc.SetPolicy(p)
	return f, nil
}

// Next sends one request: even-numbered ones from a hot origin chosen at
// random, odd-numbered ones from the next never-seen origin. It returns
// false once the never-repeating origins are used up.
func (f *Flood) Next(ctx context.Context) (bool, error) {
	if f.i%2 == 0 {
		f.hdrs["origin"] = f.hot[f.rng.IntN(len(f.hot))]
		f.nHot++
	} else {
		if f.nCold == len(f.cold) {
			return false, nil
		}
		f.hdrs["origin"] = f.cold[f.nCold]
		f.nCold++
	}
	f.i++
	resp, err := f.svc.Check(ctx, f.req)
	if err != nil {
		return false, err
	}
	if resp.GetStatus().GetCode() != 0 || len(resp.GetOkResponse().GetResponseHeadersToAdd()) == 0 {
		return false, fmt.Errorf("origin %s was not granted access: the workload is not measuring allowed verdicts", f.hdrs["origin"])
	}
	return true, nil
}

// Stats is what the cache did.
type Stats struct {
	Requests, HotRequests uint64
	Hits, Misses          uint64
	Entries               uint64
	// HotHitRate is hits per hot request: never-repeating origins can
	// never hit, so every hit is a hot one.
	HotHitRate float64
	HitRate    float64 // hits / (hits + misses), all requests
	// HeldHeap is the live heap the service holds (its cache included)
	// after a collection, over the heap before it was built.
	HeldHeap uint64
}

// Stats reads the service's cache counters and measures its heap.
func (f *Flood) Stats() (Stats, error) {
	mfs, err := f.reg.Gather()
	if err != nil {
		return Stats{}, err
	}
	val := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				val[mf.GetName()] += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				val[mf.GetName()] += m.GetGauge().GetValue()
			}
		}
	}
	s := Stats{
		Requests:    uint64(f.nHot + f.nCold),
		HotRequests: uint64(f.nHot),
		Hits:        uint64(val["cors_authz_cache_hits_total"]),
		Misses:      uint64(val["cors_authz_cache_misses_total"]),
		Entries:     uint64(val["cors_authz_cache_entries"]),
	}
	if s.Hits+s.Misses == 0 {
		return s, fmt.Errorf("no cache lookups counted (metrics %v): has the metric name changed?", val)
	}
	if s.HotRequests > 0 {
		s.HotHitRate = float64(s.Hits) / float64(s.HotRequests)
	}
	s.HitRate = float64(s.Hits) / float64(s.Hits+s.Misses)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(f.svc)
	if after.HeapAlloc > f.before.HeapAlloc {
		s.HeldHeap = after.HeapAlloc - f.before.HeapAlloc
	}
	return s, nil
}
