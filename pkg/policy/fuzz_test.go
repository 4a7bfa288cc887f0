package policy_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cors-authz/cors-authz/internal/paths"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// assertSaysWhere stops the test unless err, a refusal of file, is a
// *policy.Error whose every issue names file and says what is wrong.
func assertSaysWhere(t *testing.T, err error, file string) {
	t.Helper()
	var perr *policy.Error
	if !errors.As(err, &perr) || len(perr.Issues) == 0 {
		t.Fatalf("error %v is not a *policy.Error with issues", err)
	}
	for _, is := range perr.Issues {
		if is.File != file || is.Msg == "" {
			t.Fatalf("issue without file or message: %+v", is)
		}
	}
}

// FuzzParse: loading never panics; a refused file always says where; an
// accepted file yields a policy that decides without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte(testPolicy))
	f.Add(policy.DefaultYAML)
	f.Add([]byte(delegatedBase))
	f.Add([]byte("version: 1\nclasses:\n  - name: a\n    allow_origins: ['https://*.com', '*']\n"))
	f.Add([]byte("version: 1\nclasses: [{name: x, match: {hosts: ['*.a:1']}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _, err := policy.Parse("f.yaml", data)
		if err != nil {
			assertSaysWhere(t, err, "f.yaml")
			return
		}
		r := policy.Request{Method: "OPTIONS", Scheme: "https", Host: "a", Path: "/", Origin: "https://a.example", HasOrigin: true, ACRM: "PUT", ACRH: "x"}
		for _, c := range p.Classes() {
			r.ClassHint = c.Name
			_ = p.Decide(&r)
		}
	})
}

// FuzzDecide: whatever a request carries, the verdict never grants "*",
// only ever echoes the request's own (valid) origin or a self origin, and
// every header value is visible ASCII.
func FuzzDecide(f *testing.F) {
	f.Add("GET", "api.example.com", "/api/v1/x", partner, "", "", "", "")
	f.Add("OPTIONS", "api.example.com", "/api/v1/x", "https://a.tenant.example.com", "PUT", "content-type, x-request-id", "true", "")
	f.Add("OPTIONS", "api.example.com", "/open/x", partner, "GET", "x-a,\tx-b", "", "open-api")
	f.Add("GET", "x", "/self/", "https://evil.example", "", "", "", "")
	p := mustParse(f, testPolicy)
	f.Fuzz(func(t *testing.T, method, host, path, origin, acrm, acrh, acrpn, hint string) {
		r := policy.Request{Method: method, Scheme: "https", Host: host, Path: path, Origin: origin, HasOrigin: origin != "",
			ACRM: acrm, ACRH: acrh, ACRPN: acrpn, ClassHint: hint}
		v := p.Decide(&r)
		for _, h := range v.Headers() {
			for i := 0; i < len(h.Value); i++ {
				if c := h.Value[i]; c < ' ' || c > '~' {
					t.Fatalf("header %s has byte %#x: %q", h.Name, c, h.Value)
				}
			}
			if h.Name == policy.HeaderACAO && h.Value != origin && !strings.HasPrefix(h.Value, "https://app.example.com") && !strings.HasPrefix(h.Value, "https://admin.example.com") {
				t.Fatalf("ACAO %q is neither the request origin %q nor a self origin", h.Value, origin)
			}
		}
		if v.Allowed && (v.Kind == policy.Actual || v.Kind == policy.Preflight) {
			if _, ok := v.Header(policy.HeaderACAO); !ok {
				t.Fatalf("allowed %v without ACAO", v.Kind)
			}
		}
	})
}

// FuzzParseFragment: a fragment never panics the parser; a refused one
// always says where; an accepted one merges, and every origin it grants is
// allowed with the fragment named as its provenance.
func FuzzParseFragment(f *testing.F) {
	f.Add([]byte(teamA))
	f.Add([]byte(teamB))
	f.Add([]byte(frag("    allow_origins: ['https://*.com', http://a.example.net, HTTPS://X.EXAMPLE.NET:443]\n    allow_methods: [patch]\n")))
	f.Add([]byte("version: 1\nextend: [{class: internal, match: {}}]\nclasses: []\n"))
	base := mustParse(f, strings.Replace(delegatedBase, "max_origins: 3", "max_origins: 50", 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, _, err := policy.ParseFragment(base, "f.yaml", data)
		if err != nil {
			assertSaysWhere(t, err, "f.yaml")
			return
		}
		p, err := base.WithFragments([]*policy.Fragment{fr})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range fr.Doc().Extend {
			for _, o := range e.AllowOrigins {
				if strings.Contains(o, "*") {
					continue
				}
				r := policy.Request{Method: "GET", Scheme: "https", Host: "h", Path: "/api/", Origin: o, HasOrigin: true, ClassHint: e.Class}
				v := p.Decide(&r)
				if !v.Allowed || v.Grant == nil || !slices.Contains(v.Grant.Files(), "f.yaml") {
					t.Fatalf("granted origin %q: %s, grant %v", o, v.ReasonText(), v.Grant)
				}
			}
		}
	})
}

// FuzzDisagreementKindText: reading a kind label never panics, and a label
// it accepts is written back unchanged.
func FuzzDisagreementKindText(f *testing.F) {
	for _, s := range []string{"none", "would_allow", "would_deny", "headers_differ", "unknown", "", "WOULD_ALLOW"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var k policy.DisagreementKind
		if err := k.UnmarshalText([]byte(s)); err != nil {
			return
		}
		if b, err := k.MarshalText(); err != nil || string(b) != s {
			t.Errorf("%q read as %v, written as %q (%v)", s, k, b, err)
		}
	})
}

// FuzzPathGrant (issue 11 item 2): a path never gets a wider grant than its
// normal form. Whatever the path, a cross-origin request granted on it is
// granted the same on paths.Normalise(path), and the verdict on a raw
// path is either the normal form's or a refusal.
func FuzzPathGrant(f *testing.F) {
	for _, s := range []string{"/api/v1/x", "/api/v1/../admin", "/api/v1/%2e%2e/admin", "/api/v1/..%2Fadmin", `/api/v1/..\admin`,
		"/api/v1/./x", "//api/v1/x", "/admin/../api/v1/x", "/open/%2e%2e;/x", "/self/../open/x", "/%61pi/v1/x?q=/../",
		"/api/v1/x#/../../admin", "https://api.example.com/admin/x"} {
		f.Add(s, "GET", "")
		f.Add(s, "OPTIONS", "PUT")
	}
	p := mustParse(f, testPolicy)
	f.Fuzz(func(t *testing.T, path, method, acrm string) {
		norm, _ := paths.Normalise(path)
		for _, host := range []string{"api.example.com", "other.example.com", "admin.example.com:8443"} {
			raw := policy.Request{Method: method, Scheme: "https", Host: host, Path: path, Origin: partner, HasOrigin: true, ACRM: acrm}
			nr := raw
			nr.Path = norm
			v, w := p.Decide(&raw), p.Decide(&nr)
			if !v.Allowed {
				continue
			}
			if !w.Allowed || v.Class != w.Class || v.Kind != w.Kind || v.Status != w.Status {
				t.Fatalf("%s %q on %s: %s %s allowed; its normal form %q: %s %s allowed=%v", method, path, host,
					v.Class.Name, v.ReasonText(), norm, w.Class.Name, w.ReasonText(), w.Allowed)
			}
			vh, wh := v.Headers(), w.Headers()
			if len(vh) != len(wh) {
				t.Fatalf("%q: headers %v, normal form %v", path, vh, wh)
			}
			for i := range vh {
				if vh[i] != wh[i] {
					t.Fatalf("%q: headers %v, normal form %v", path, vh, wh)
				}
			}
		}
	})
}
