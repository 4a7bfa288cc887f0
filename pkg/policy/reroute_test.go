package policy_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// RouteMap.Route(r, from.Classify(r)) is to.Classify(r), complete enough
// to decide on: to.DecideRoute of it is to.Decide(r).
func TestRouteMap(t *testing.T) {
	base := testPolicy
	pairs := []struct {
		name  string
		to    string
		alike bool
	}{
		{"same policy", base, true},
		{"other grants", strings.Replace(base, "      - https://partner.example.org\n", "", 1), true},
		{"a class added", strings.Replace(base, "classes:\n", "classes:\n  - name: v2\n    match: {path_prefixes: [/api/v1/v2/]}\n    allow_origins: [https://partner.example.org]\n", 1), false},
		{"classes reordered", strings.Replace(base, "  - name: selfish\n    match: {path_prefixes: [/self/]}\n    deny_action: self_origin\n", "", 1) + "  - name: selfish\n    match: {path_prefixes: [/self/]}\n    deny_action: self_origin\n", false},
		{"a class renamed", strings.Replace(base, "name: open-api", "name: open", 1), false},
		{"other match", strings.Replace(base, "path_prefixes: [/open/]", "path_prefixes: [/open/, /free/]", 1), false},
		{"other self_origins", strings.Replace(base, "  - https://admin.example.com:8443\n", "  - https://partner.example.org\n", 1), false},
		{"fewer self_origins", strings.Replace(base, "  - https://app.example.com\n", "", 1), false},
	}
	hinted := func(r policy.Request, hint string) policy.Request { r.ClassHint = hint; return r }
	hosted := func(r policy.Request, host string) policy.Request { r.Host = host; return r }
	noOrigin := req("GET", "/api/v1/x", "")
	noOrigin.HasOrigin = false
	pnr := preflight("/api/v1/x", partner, "PUT", "x-request-id")
	pnr.ACRPN = "true"
	reqs := []policy.Request{
		req("GET", "/api/v1/x", partner),
		req("GET", "/api/v1/v2/x", partner),
		req("GET", "/api/v1/x", "https://a.tenant.example.com"),
		req("GET", "/open/x", partner),
		req("GET", "/free/x", partner),
		req("GET", "/self/x", "https://evil.example"),
		req("GET", "/x", partner),
		req("GET", "/x", "https://app.example.com"),
		req("GET", "/x", "https://api.example.com"),
		req("GET", "/api/v1/x", "https://admin.example.com:8443"),
		req("GET", "/api/v1/x", "null"),
		req("GET", "/api/v1/x", ""),
		noOrigin,
		preflight("/api/v1/x", partner, "PUT", "x-request-id"),
		preflight("/open/x", partner, "DELETE", "x-anything"),
		pnr,
		hinted(req("GET", "/x", partner), "public-api"),
		hinted(req("GET", "/x", partner), "open"),
		hinted(req("GET", "/x", partner), "v2"),
		hinted(req("GET", "/api/v1/x", partner), "nope"),
		hosted(req("GET", "/api/v1/x", partner), "localhost:8080"),
		hosted(req("GET", "/api/v1/x", partner), "other.example.com"),
	}
	from := mustParse(t, base)
	r0 := req("GET", "/open/x", partner)
	for _, pair := range pairs {
		t.Run(pair.name, func(t *testing.T) {
			to := mustParse(t, pair.to)
			m := policy.NewRouteMap(from, to)
			if m.Alike() != pair.alike || from.RoutesLike(to) != pair.alike || to.RoutesLike(from) != pair.alike {
				t.Errorf("Alike = %v, RoutesLike = %v/%v, want %v", m.Alike(), from.RoutesLike(to), to.RoutesLike(from), pair.alike)
			}
			for i := range reqs {
				r := &reqs[i]
				got, want := from.Classify(r), to.Classify(r)
				m.Route(r, &got)
				if got.Class != want.Class || got.Selection != want.Selection || got.Kind != want.Kind || got.Hint != want.Hint {
					t.Errorf("request %d (%s %s hint %q origin %q): route %s/%v/%v, want %s/%v/%v", i, r.Host, r.Path, r.ClassHint, r.Origin,
						got.Class.Name, got.Selection, got.Kind, want.Class.Name, want.Selection, want.Kind)
					continue
				}
				gv, wv := to.DecideRoute(r, got), to.Decide(r)
				if gv.Allowed != wv.Allowed || gv.ReasonText() != wv.ReasonText() || gv.Status != wv.Status || !slices.Equal(gv.Headers(), wv.Headers()) {
					t.Errorf("request %d: verdict on the carried route %+v, want %+v", i, gv, wv)
				}
			}
		})
	}
	// A zero route is no route of from's either.
	var zero policy.Route
	policy.NewRouteMap(from, from).Route(&r0, &zero)
	if zero.Class == nil || zero.Class.Name != "open-api" {
		t.Errorf("zero route carried to %+v", zero.Class)
	}
	// A route of a third policy is not from's: the map classifies afresh.
	other := mustParse(t, base)
	m := policy.NewRouteMap(from, mustParse(t, base))
	r := req("GET", "/open/x", partner)
	got := other.Classify(&r)
	if m.Route(&r, &got); got.Class == nil || got.Class.Name != "open-api" || got.Class == other.Class("open-api") {
		t.Errorf("foreign route carried to %+v", got.Class)
	}
}
