package baseline

import (
	"context"
	"net/http"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cors-authz/cors-authz/bench/fixture"
	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// BenchmarkDecision runs the four cases through every implementation. The
// names are Decision/<case>/<implementation>, so benchreport can put each
// implementation's figure next to rs/cors's from the same run.
func BenchmarkDecision(b *testing.B) {
	rsH := RSCors()
	jbH, err := Jub0bsCors()
	if err != nil {
		b.Fatal(err)
	}
	p, err := Policy()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range fixture.Cases {
		b.Run(c.Name, func(b *testing.B) {
			b.Run("rs-cors", func(b *testing.B) { benchHandler(b, rsH, c) })
			b.Run("jub0bs-cors", func(b *testing.B) { benchHandler(b, jbH, c) })
			b.Run("cors-authz-decide", func(b *testing.B) { benchDecide(b, p, c) })
			benchCheck(b, c)
		})
	}
}

func benchHandler(b *testing.B, h http.Handler, c fixture.Case) {
	r, w := Request(c), NewWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.Reset()
		h.ServeHTTP(w, r)
	}
}

var sinkVerdict policy.Verdict

func benchDecide(b *testing.B, p *policy.Policy, c fixture.Case) {
	r := PolicyRequest(c)
	b.ReportAllocs()
	for b.Loop() {
		sinkVerdict = p.Decide(&r)
	}
}

// TestBehaviour checks, before any figure is trusted, that every
// implementation gives each case the answer the benchmark names it by.
func TestBehaviour(t *testing.T) {
	rsH := RSCors()
	jbH, err := Jub0bsCors()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range fixture.Cases {
		for _, impl := range []struct {
			name string
			h    http.Handler
		}{{"rs-cors", rsH}, {"jub0bs-cors", jbH}} {
			t.Run(c.Name+"/"+impl.name, func(t *testing.T) {
				w := NewWriter()
				impl.h.ServeHTTP(w, Request(c))
				checkHeaders(t, c, func(name string) string { return strings.Join(w.H.Values(name), ",") })
				if c.Preflight && c.Allowed && w.Status != http.StatusNoContent && w.Status != http.StatusOK {
					t.Errorf("preflight status %d, want 204 or 200", w.Status)
				}
			})
		}
	}
}

func TestBehaviourPolicy(t *testing.T) {
	p, err := Policy()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range fixture.Cases {
		t.Run(c.Name, func(t *testing.T) {
			r := PolicyRequest(c)
			v := p.Decide(&r)
			if v.Allowed != c.Allowed {
				t.Errorf("Allowed = %t (%s), want %t", v.Allowed, v.ReasonText(), c.Allowed)
			}
			if c.Preflight {
				want := http.StatusForbidden
				if c.Allowed {
					want = http.StatusNoContent
				}
				if !v.Respond || v.Status != want {
					t.Errorf("Respond, Status = %t, %d; want true, %d", v.Respond, v.Status, want)
				}
			}
			checkHeaders(t, c, func(name string) string {
				s, _ := v.Header(strings.ToLower(name))
				return s
			})
		})
	}
}

// checkHeaders asserts the CORS response headers each case must produce,
// read through get (which joins repeated values with ",").
func checkHeaders(t *testing.T, c fixture.Case, get func(name string) string) {
	t.Helper()
	acao := get("Access-Control-Allow-Origin")
	if !c.Allowed {
		if acao != "" {
			t.Errorf("ACAO = %q for a disallowed origin, want none", acao)
		}
		return
	}
	if acao != c.Origin {
		t.Errorf("ACAO = %q, want %q", acao, c.Origin)
	}
	if got := get("Access-Control-Allow-Credentials"); got != "true" {
		t.Errorf("ACAC = %q, want true", got)
	}
	if !c.Preflight {
		if got := get("Access-Control-Expose-Headers"); !strings.EqualFold(got, "X-Request-Id") {
			t.Errorf("ACEH = %q, want X-Request-Id", got)
		}
		if got := get("Vary"); !strings.Contains(got, "Origin") {
			t.Errorf("Vary = %q, want it to name Origin", got)
		}
		return
	}
	if got := get("Access-Control-Allow-Methods"); !strings.Contains(got, c.ACRM) {
		t.Errorf("ACAM = %q, want it to grant %s", got, c.ACRM)
	}
	acah := strings.ToLower(get("Access-Control-Allow-Headers"))
	for _, h := range strings.Split(c.ACRH, ",") {
		if !strings.Contains(acah, h) {
			t.Errorf("ACAH = %q, want it to grant %s", acah, h)
		}
	}
	if got := get("Access-Control-Max-Age"); got != "600" {
		t.Errorf("ACMA = %q, want 600", got)
	}
}

// Cache sizes for the Check benchmarks: the hit case repeats one request
// against the default cache; the miss case cycles through missRing
// distinct origins, far more than missCache entries, so every lookup
// misses and every allowed verdict is built and inserted (evicting).
const (
	missCache = 256
	missRing  = 4096
)

func benchCheck(b *testing.B, c fixture.Case) {
	b.Run("cors-authz-check-hit", func(b *testing.B) {
		s, err := CheckService(check.DefaultCacheSize)
		if err != nil {
			b.Fatal(err)
		}
		req, ctx := fixture.CheckRequest(c, 1), context.Background()
		if _, err := s.Check(ctx, req); err != nil { // fill the cache
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			sinkResp, _ = s.Check(ctx, req)
		}
	})
	b.Run("cors-authz-check-miss", func(b *testing.B) {
		s, err := CheckService(missCache)
		if err != nil {
			b.Fatal(err)
		}
		req, ctx := fixture.CheckRequest(c, 1), context.Background()
		origins := MissOrigins(c, missRing)
		hdrs := req.GetAttributes().GetRequest().GetHttp().GetHeaders()
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			hdrs["origin"] = origins[i%missRing] // an existing key: no allocation
			i++
			sinkResp, _ = s.Check(ctx, req)
		}
	})
}

var sinkResp *authv3.CheckResponse

// TestBehaviourCheck checks the in-process Check answers each case as
// Envoy must apply it, for the request the hit benchmark repeats and for
// the origins the miss benchmark cycles through.
func TestBehaviourCheck(t *testing.T) {
	s, err := CheckService(missCache)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range fixture.Cases {
		origins := append([]string{c.Origin}, MissOrigins(c, 3)...)
		for _, o := range origins {
			t.Run(c.Name+"/"+o, func(t *testing.T) {
				cc := c
				cc.Origin = o
				for range 2 { // a miss, then a hit for cacheable verdicts
					resp, err := s.Check(context.Background(), fixture.CheckRequest(cc, 1))
					if err != nil {
						t.Fatal(err)
					}
					hdrs := map[string]string{}
					status := 0
					if d := resp.GetDeniedResponse(); d != nil {
						status = int(d.GetStatus().GetCode())
						for _, h := range d.GetHeaders() {
							hdrs[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
						}
					}
					for _, h := range resp.GetOkResponse().GetResponseHeadersToAdd() {
						hdrs[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
					}
					forwarded := resp.GetStatus().GetCode() == 0
					if forwarded == cc.Preflight {
						t.Fatalf("forwarded = %t for a preflight=%t request", forwarded, cc.Preflight)
					}
					if cc.Preflight {
						want := http.StatusForbidden
						if cc.Allowed {
							want = http.StatusNoContent
						}
						if status != want {
							t.Errorf("preflight answered %d, want %d", status, want)
						}
					}
					checkHeaders(t, cc, func(name string) string { return hdrs[strings.ToLower(name)] })
				}
			})
		}
	}
}
