package check

import (
	"context"
	"fmt"
	"hash/maphash"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
)

// checkOnce runs one in-process Check and reports whether the cache
// answered it.
func checkOnce(t testing.TB, s *Service, req *authv3.CheckRequest) (*authv3.CheckResponse, bool) {
	t.Helper()
	before := cacheHits(t, s)
	resp, err := s.Check(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, cacheHits(t, s) > before
}

func cacheHits(t testing.TB, s *Service) float64 {
	var m dto.Metric
	if err := s.m.hits.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// uncached answers rs with a fresh Service without a cache.
func uncached(t testing.TB, rs reqSpec) *authv3.CheckResponse {
	t.Helper()
	s := New(Options{})
	s.SetPolicy(mustPolicy(t, testPolicyYAML))
	resp, err := s.Check(context.Background(), rs.build())
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestCacheHitReturnsTheSameAnswer(t *testing.T) {
	cases := []struct {
		name      string
		req       reqSpec
		cacheable bool
	}{
		{"allowed actual", get("/api/v1/x", "Origin", partner), true},
		{"allowed preflight", options("/api/v1/x", "Origin", tenant, "Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "content-type"), true},
		{"reflected headers", options("/reflect/x", "Origin", tenant, "Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "x-a"), true},
		{"denied actual", get("/api/v1/x", "Origin", "https://evil.example"), false},
		{"refused preflight", options("/api/v1/x", "Origin", partner, "Access-Control-Request-Method", "patch"), false},
		{"not cors", get("/api/v1/x"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestService(t, 100)
			first, hit1 := checkOnce(t, s, tc.req.build())
			second, hit2 := checkOnce(t, s, tc.req.build())
			if hit1 || hit2 != tc.cacheable {
				t.Errorf("hits = %v, %v; want false, %v", hit1, hit2, tc.cacheable)
			}
			if !proto.Equal(first, second) {
				t.Errorf("second answer differs:\n%v\n%v", first, second)
			}
			assertResponse(t, second)
			// Cached and static answers are shared, not rebuilt.
			if first != second {
				t.Errorf("second answer was rebuilt; want the shared response")
			}
			if n := s.cur.Load().cache.len(); n != map[bool]int{true: 1, false: 0}[tc.cacheable] {
				t.Errorf("cache holds %d entries", n)
			}
		})
	}
}

// TestCacheKeySeparatesRequests: answers that differ never share an entry.
func TestCacheKeySeparatesRequests(t *testing.T) {
	s, _ := newTestService(t, 100)
	pre := func(path, origin, acrh, pn string) reqSpec {
		h := []string{"Origin", origin, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", acrh}
		if pn != "" {
			h = append(h, "Access-Control-Request-Private-Network", pn)
		}
		return options(path, h...)
	}
	reqs := []reqSpec{
		get("/api/v1/x", "Origin", partner),
		get("/api/v1/x", "Origin", tenant),
		get("/api/v1/x", "Origin", "https://b.tenant.example.com"),
		get("/strict/x", "Origin", partner), // another class
		pre("/api/v1/x", tenant, "content-type", ""),
		pre("/reflect/x", tenant, "x-a", ""),
		pre("/reflect/x", tenant, "x-b", ""),
		pre("/reflect/x", tenant, "x-b", "true"),
		{Method: "GET", Path: "/admin", Class: "public-api", Headers: pairs([]string{"Origin", partner})}, // by hint
	}
	for round := range 2 {
		for i, rs := range reqs {
			want := assertResponse(t, uncached(t, rs))
			resp, hit := checkOnce(t, s, rs.build())
			if hit != (round == 1) {
				t.Errorf("round %d req %d: hit = %v", round, i, hit)
			}
			if got := assertResponse(t, resp); got != want {
				t.Errorf("round %d req %d: got %v, want (uncached) %v", round, i, got, want)
			}
		}
	}
}

// TestCacheHotSetSurvivesFlood: a hot set of 100 origins keeps being served
// from the cache while half the traffic is never-repeating but allowed,
// hence cacheable: new origins under an allowed wildcard, or new preflight
// header lists on a class that allows any header.
func TestCacheHotSetSurvivesFlood(t *testing.T) {
	const (
		hot      = 100
		requests = 20000
		size     = 1000 // small on purpose: the flood overflows it 10 times
	)
	floods := []struct {
		name string
		req  *authv3.CheckRequest
		set  func(req *authv3.CheckRequest, i int)
	}{
		{"origins", get("/api/v1/x", "Origin", "").build(), func(req *authv3.CheckRequest, i int) {
			req.Attributes.Request.Http.Headers["origin"] = fmt.Sprintf("https://r%d.tenant.example.com", i)
		}},
		{"preflight header lists", options("/reflect/x", "Origin", tenant, "Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "").build(), func(req *authv3.CheckRequest, i int) {
			req.Attributes.Request.Http.Headers["access-control-request-headers"] = fmt.Sprintf("x-a, x-r%d", i)
		}},
	}
	for _, fl := range floods {
		t.Run(fl.name, func(t *testing.T) {
			s, _ := newTestService(t, size)
			hotReqs := make([]*authv3.CheckRequest, hot)
			for i := range hotReqs {
				hotReqs[i] = get("/api/v1/x", "Origin", fmt.Sprintf("https://hot%d.tenant.example.com", i)).build()
			}
			var hotHits, hotCalls int
			for i := range requests {
				if i%2 == 0 {
					fl.set(fl.req, i)
					resp, hit := checkOnce(t, s, fl.req)
					if hit {
						t.Fatalf("never-repeating request %d hit the cache", i)
					}
					if a := assertResponse(t, resp); !strings.Contains(a.Headers, "access-control-allow-origin: ") {
						t.Fatalf("flood request %d not allowed (so not cacheable): %v", i, a)
					}
					continue
				}
				_, hit := checkOnce(t, s, hotReqs[(i/2)%hot])
				hotCalls++
				if hit {
					hotHits++
				}
				if n := s.cur.Load().cache.len(); n > size {
					t.Fatalf("cache holds %d entries, bound %d", n, size)
				}
			}
			rate := float64(hotHits) / float64(hotCalls)
			t.Logf("hot-set hit rate %.4f (%d/%d)", rate, hotHits, hotCalls)
			if rate < 0.95 {
				t.Errorf("hot-set hit rate %.4f, want >= 0.95", rate)
			}
		})
	}
}

// TestCacheVerifiesFullKey: a hash collision can never serve another key's
// answer.
func TestCacheVerifiesFullKey(t *testing.T) {
	c := newVerdictCache(10)
	keyA, keyB := []byte("class-a\x00https://a.example"), []byte("class-a\x00https://b.example")
	resp := &authv3.CheckResponse{}
	// Forge a collision: file A's entry under B's hash.
	forged := &cacheEntry{key: keyA}
	forged.enc.Init(resp)
	c.q.Add(maphash.Bytes(c.seed, keyB), forged)
	if _, ok := c.get(keyB); ok {
		t.Fatal("entry with another key served")
	}
	own := &authv3.CheckResponse{}
	c.add(keyA, own, envoyauth.NewDecisionMetadata(envoyauth.Decision{Class: "c"}), outAllowed, "")
	if e, ok := c.get(keyA); !ok || e.enc.Response() != own {
		t.Fatal("entry not found under its own key")
	}
	orig := string(keyA)
	keyA[0] = 'X' // the caller's buffer is reused; the cache kept a copy
	if _, ok := c.get([]byte(orig)); !ok {
		t.Fatal("entry lost when the caller reused its key buffer")
	}
	if newVerdictCache(0) != nil || newVerdictCache(-1) != nil {
		t.Fatal("size <= 0 must disable the cache")
	}
}

func TestCacheDisabled(t *testing.T) {
	s, reg := newTestService(t, 0)
	for range 3 {
		resp, err := s.Check(context.Background(), get("/api/v1/x", "Origin", partner).build())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := assertResponse(t, resp), forward("access-control-allow-origin: "+partner+"; "+publicActual); got != want {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if h, m := counterValue(t, reg, metricHits), counterValue(t, reg, metricMisses); h != 0 || m != 0 {
		t.Errorf("hits/misses %v/%v with the cache disabled", h, m)
	}
}
