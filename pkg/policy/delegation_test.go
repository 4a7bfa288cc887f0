package policy_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// delegatedBase delegates partner-api (line 4) with every guardrail set;
// internal is not delegated. The delegate key is at line 11.
const delegatedBase = `version: 1
self_origins: [https://app.example.com]
classes:
  - name: partner-api
    match: {path_prefixes: [/api/]}
    allow_origins: [https://www.example.com]
    allow_methods: [GET, PUT]
    allow_headers: [Content-Type]
    expose_headers: [X-Request-Id]
    allow_credentials: true
    delegate:
      origin_domains: [partners.example.org, example.net]
      allow_wildcards: true
      allow_methods: [PATCH, DELETE]
      allow_headers: [X-Team-A, X-Team-B, Authorization]
      expose_headers: [X-A-Trace, X-B-Trace]
      max_origins: 3
  - name: internal
    match: {path_prefixes: [/]}
`

const (
	teamA = `version: 1
extend:
  - class: partner-api
    allow_origins: [https://a.partners.example.org, https://shared.example.net]
    allow_methods: [PATCH]
    allow_headers: [X-Team-A]
    expose_headers: [X-A-Trace]
`
	teamB = `version: 1
extend:
  - class: partner-api
    allow_origins: [https://b.example.net, https://shared.example.net, 'https://*.b.partners.example.org']
    allow_methods: [DELETE]
    allow_headers: [X-Team-B, Authorization]
    expose_headers: [X-B-Trace]
`
	// teamC grants an origin B's wildcard covers, adding nothing.
	teamC = `version: 1
extend:
  - class: partner-api
    allow_origins: [https://x.b.partners.example.org]
`
)

func mustFragment(t testing.TB, base *policy.Policy, name, src string) *policy.Fragment {
	t.Helper()
	f, _, err := policy.ParseFragment(base, name, []byte(src))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

func mergedPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	base := mustParse(t, delegatedBase)
	p, err := base.WithFragments([]*policy.Fragment{
		mustFragment(t, base, "team-b.yaml", teamB),
		mustFragment(t, base, "team-a.yaml", teamA),
		mustFragment(t, base, "team-c.yaml", teamC),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMergeSemantics: what a fragment adds applies only to the origins it
// grants; an origin several files grant gets each one's additions.
func TestMergeSemantics(t *testing.T) {
	p := mergedPolicy(t)
	pre := func(origin, method, hdrs string) policy.Request {
		return policy.Request{Method: "OPTIONS", Scheme: "https", Host: "api.example.com", Path: "/api/x",
			Origin: origin, HasOrigin: true, ACRM: method, ACRH: hdrs}
	}
	get := func(origin string) policy.Request {
		return policy.Request{Method: "GET", Scheme: "https", Host: "api.example.com", Path: "/api/x", Origin: origin, HasOrigin: true}
	}
	const (
		a      = "https://a.partners.example.org"
		b      = "https://b.example.net"
		shared = "https://shared.example.net"
		bWild  = "https://y.b.partners.example.org"
		cExact = "https://x.b.partners.example.org"
		own    = "https://www.example.com"
	)
	tests := []struct {
		name    string
		r       policy.Request
		reason  policy.Reason
		headers map[string]string // expected values ("" = absent)
		files   string            // the grant's files, joined by ","
	}{
		{"A's partner gets A's method", pre(a, "PATCH", "x-team-a"), policy.ReasonPreflightAllowed,
			map[string]string{policy.HeaderACAM: "GET, PUT, PATCH", policy.HeaderACAH: "content-type, x-team-a", policy.HeaderACAC: "true"}, "team-a.yaml"},
		{"A's partner never gets B's method", pre(a, "DELETE", ""), policy.ReasonMethodNotAllowed, nil, "team-a.yaml"},
		{"A's partner never gets B's header", pre(a, "PUT", "x-team-b"), policy.ReasonHeaderNotAllowed, nil, "team-a.yaml"},
		{"A's partner never gets Authorization from B", pre(a, "PUT", "authorization"), policy.ReasonHeaderNotAllowed, nil, "team-a.yaml"},
		{"B's partner gets B's method and headers", pre(b, "DELETE", "x-team-b,authorization"), policy.ReasonPreflightAllowed,
			map[string]string{policy.HeaderACAM: "GET, PUT, DELETE", policy.HeaderACAH: "content-type, x-team-b, authorization"}, "team-b.yaml"},
		{"B's partner never gets A's method", pre(b, "PATCH", ""), policy.ReasonMethodNotAllowed, nil, "team-b.yaml"},
		{"B's partner never gets A's header", pre(b, "PUT", "x-team-a"), policy.ReasonHeaderNotAllowed, nil, "team-b.yaml"},
		{"base origin gets no fragment additions", pre(own, "PATCH", ""), policy.ReasonMethodNotAllowed, nil, "test.yaml"},
		{"base origin keeps the base grant", pre(own, "PUT", "content-type"), policy.ReasonPreflightAllowed,
			map[string]string{policy.HeaderACAM: "GET, PUT", policy.HeaderACAH: "content-type"}, "test.yaml"},
		{"origin both teams grant gets both", pre(shared, "PATCH", "x-team-a,x-team-b"), policy.ReasonPreflightAllowed,
			map[string]string{policy.HeaderACAM: "GET, PUT, PATCH, DELETE"}, "team-a.yaml,team-b.yaml"},
		{"B's wildcard grants B's additions", pre(bWild, "DELETE", ""), policy.ReasonPreflightAllowed,
			map[string]string{policy.HeaderACAM: "GET, PUT, DELETE"}, "team-b.yaml"},
		{"exact origin under B's wildcard gets C's and B's", pre(cExact, "DELETE", ""), policy.ReasonPreflightAllowed,
			map[string]string{policy.HeaderACAM: "GET, PUT, DELETE"}, "team-b.yaml,team-c.yaml"},
		{"A's actual exposes A's headers", get(a), policy.ReasonOriginAllowed,
			map[string]string{policy.HeaderACEH: "X-Request-Id, X-A-Trace", policy.HeaderACAO: a, policy.HeaderACAC: "true"}, "team-a.yaml"},
		{"B's actual exposes B's headers", get(b), policy.ReasonOriginAllowed,
			map[string]string{policy.HeaderACEH: "X-Request-Id, X-B-Trace"}, "team-b.yaml"},
		{"base origin exposes the base list", get(own), policy.ReasonOriginAllowed,
			map[string]string{policy.HeaderACEH: "X-Request-Id"}, "test.yaml"},
		{"an origin no file grants", get("https://c.partners.example.org"), policy.ReasonOriginNotAllowed,
			map[string]string{policy.HeaderACAO: "", policy.HeaderVary: "Origin"}, ""},
		{"the apex of B's wildcard is not granted", get("https://b.partners.example.org"), policy.ReasonOriginNotAllowed, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := p.Decide(&tt.r)
			if v.Reason != tt.reason {
				t.Fatalf("reason = %s, want %s", v.ReasonText(), tt.reason)
			}
			for name, want := range tt.headers {
				got, ok := v.Header(name)
				if want == "" && ok || want != "" && got != want {
					t.Errorf("%s = %q (present %v), want %q", name, got, ok, want)
				}
			}
			files := ""
			if v.Grant != nil {
				files = strings.Join(v.Grant.Files(), ",")
			}
			if files != tt.files {
				t.Errorf("grant files = %q, want %q", files, tt.files)
			}
			if g := v.Class.Grant(tt.r.Origin); (g != nil) != (tt.files != "") {
				t.Errorf("Class.Grant(%q) = %v, want a grant: %v", tt.r.Origin, g, tt.files != "")
			}
		})
	}
}

// TestMergeSharesUnextendedClasses: classes no fragment extends are the
// base's own, and the merged policy has its own digest.
func TestMergeSharesUnextendedClasses(t *testing.T) {
	p := mergedPolicy(t)
	base := p.Base()
	if p.Class("internal") != base.Class("internal") {
		t.Error("internal class copied although no fragment extends it")
	}
	if p.Class("partner-api") == base.Class("partner-api") {
		t.Error("extended class shared with the base")
	}
	if p.SHA256() == base.SHA256() || len(p.SHA256()) != 64 {
		t.Errorf("merged digest %q, base %q", p.SHA256(), base.SHA256())
	}
	if n := len(p.Class("partner-api").Extensions()); n != 3 {
		t.Errorf("%d extensions, want 3", n)
	}
	var names []string
	for _, f := range p.Fragments() {
		names = append(names, f.Name())
	}
	if got := strings.Join(names, ","); got != "team-a.yaml,team-b.yaml,team-c.yaml" {
		t.Errorf("fragments = %s, want name order", got)
	}
	if same, err := base.WithFragments(nil); err != nil || same != base {
		t.Errorf("no fragments: got %p (%v), want the base itself", same, err)
	}
	// A fragment validated against another base is refused.
	other := mustParse(t, strings.Replace(delegatedBase, "max_origins: 3", "max_origins: 4", 1))
	if _, err := other.WithFragments(p.Fragments()); err == nil {
		t.Error("fragments of another base merged")
	}
}

// TestDelegatedClassWithoutOrigins: a delegated class may leave every
// origin to fragments; without any it denies like an external class.
func TestDelegatedClassWithoutOrigins(t *testing.T) {
	base := mustParse(t, `version: 1
classes:
  - name: api
    match: {path_prefixes: [/]}
    allow_methods: [PUT]
    delegate: {origin_domains: [example.org]}
`)
	r := policy.Request{Method: "GET", Scheme: "https", Host: "h", Path: "/", Origin: "https://a.example.org", HasOrigin: true}
	if v := base.Decide(&r); v.Reason != policy.ReasonOriginNotAllowed || v.Headers()[0].Value != "Origin" {
		t.Errorf("without fragments: %s %v", v.ReasonText(), v.Headers())
	}
	p, err := base.WithFragments([]*policy.Fragment{mustFragment(t, base, "f.yaml", "version: 1\nextend: [{class: api, allow_origins: [https://a.example.org]}]\n")})
	if err != nil {
		t.Fatal(err)
	}
	r.Method, r.ACRM = "OPTIONS", "PUT"
	if v := p.Decide(&r); v.Reason != policy.ReasonPreflightAllowed {
		t.Errorf("with the fragment: %s", v.ReasonText())
	}
}

// frag wraps one extension body in a fragment; the extension's first line
// is line 3.
func frag(body string) string {
	return "version: 1\nextend:\n  - class: partner-api\n" + body
}

// TestFragmentGuardrails: a fragment outside its guardrails is refused
// with file:line and the guardrail it breaks.
func TestFragmentGuardrails(t *testing.T) {
	base := mustParse(t, delegatedBase)
	tests := []struct {
		name string
		src  string
		line int
		want string
	}{
		{"origin outside the domains", frag("    allow_origins: [https://evil.example.com]\n"), 4,
			`guardrail delegate.origin_domains of class "partner-api" (test.yaml:12)`},
		{"domain lookalike", frag("    allow_origins: [https://notpartners.example.org]\n"), 4, "delegate.origin_domains"},
		{"scheme not allowed", frag("    allow_origins: [http://a.partners.example.org]\n"), 4,
			`guardrail delegate.origin_schemes of class "partner-api" (test.yaml:12, default)`},
		{"insecure origin with credentials", frag("    allow_origins: [http://a.partners.example.org]\n"), 4, "insecure origin"},
		{"wildcard on a public suffix", frag("    allow_origins: ['https://*.com']\n"), 4, "public suffix"},
		{"method above the ceiling", frag("    allow_origins: [https://a.example.net]\n    allow_methods: [POST, OPTIONS]\n"), 5,
			`"OPTIONS": outside guardrail delegate.allow_methods of class "partner-api" (test.yaml:14): fragments may add only PATCH, DELETE`},
		{"forbidden method", frag("    allow_origins: [https://a.example.net]\n    allow_methods: [TRACE]\n"), 5, "forbidden method"},
		{"header above the ceiling", frag("    allow_origins: [https://a.example.net]\n    allow_headers: [X-Other]\n"), 5,
			"guardrail delegate.allow_headers"},
		{"star header without a star ceiling", frag("    allow_origins: [https://a.example.net]\n    allow_headers: ['*']\n"), 5,
			"guardrail delegate.allow_headers"},
		{"forbidden header", frag("    allow_origins: [https://a.example.net]\n    allow_headers: [Cookie]\n"), 5, "forbidden request-header"},
		{"expose above the ceiling", frag("    allow_origins: [https://a.example.net]\n    expose_headers: [X-Secret]\n"), 5,
			"guardrail delegate.expose_headers"},
		{"expose star with credentials", frag("    allow_origins: [https://a.example.net]\n    expose_headers: ['*']\n"), 5, "literal name"},
		{"too many origins", frag("    allow_origins: [https://a.example.net, https://b.example.net, https://c.example.net, https://d.example.net]\n"), 4,
			`4 origins: outside guardrail delegate.max_origins of class "partner-api" (test.yaml:17): at most 3 per fragment`},
		{"additions without origins", frag("    allow_methods: [PATCH]\n"), 3, "grants none"},
		{"class not delegated", "version: 1\nextend:\n  - class: internal\n    allow_origins: [https://a.example.net]\n", 3,
			`"internal": class is not delegated`},
		{"unknown class", "version: 1\nextend:\n  - class: nope\n", 3, "no such class"},
		{"extend not a list", "version: 1\nextend:\n  class: nope\n", 3, "expected a list of class extensions, found a mapping"},
		{"class extended twice", frag("    allow_origins: [https://a.example.net]\n  - class: partner-api\n"), 5, "extended twice"},
		{"missing class", "version: 1\nextend:\n  - allow_origins: [https://a.example.net]\n", 3, "name the delegated class"},
		{"match is the base's", frag("    match: {paths: [/]}\n"), 4, "cannot set match"},
		{"credentials are the base's", frag("    allow_credentials: false\n"), 4, "cannot set allow_credentials"},
		{"deny_action is the base's", frag("    deny_action: reject\n"), 4, "cannot set deny_action"},
		{"max_age is the base's", frag("    max_age: 5\n"), 4, "cannot set max_age"},
		{"guardrails are the base's", frag("    delegate: {}\n"), 4, "cannot set delegate"},
		{"classes are the base's", "version: 1\nclasses: []\n", 2, "cannot add or reorder classes"},
		{"self origins are the base's", "version: 1\nself_origins: [https://x.example.net]\n", 2, "self origins belong to the base"},
		{"unknown key", frag("    allow_origin: [https://a.example.net]\n"), 4, "unknown key"},
		{"repeated key", frag("    allow_origins: []\n    allow_origins: []\n"), 5, "key repeated"},
		{"missing version", "extend: []\n", 1, "version: missing"},
		{"wrong version", "version: 2\n", 1, "unsupported version"},
		{"extend not a list", "version: 1\nextend: {class: partner-api}\n", 2, "expected a list"},
		{"not a mapping", "- a\n", 1, "expected a mapping"},
		{"syntax error", "version: 1\nextend:\n  - class: [\n", 3, "did not find expected node content"},
		{"empty file", "", 1, "empty fragment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := policy.ParseFragment(base, "team.yaml", []byte(tt.src))
			var perr *policy.Error
			if !errors.As(err, &perr) {
				t.Fatalf("ParseFragment error = %v, want *policy.Error", err)
			}
			for _, is := range perr.Issues {
				if strings.Contains(is.String(), tt.want) && is.File == "team.yaml" && is.Line == tt.line {
					return
				}
			}
			t.Errorf("no issue containing %q at team.yaml:%d in:\n%v", tt.want, tt.line, err)
		})
	}
}

// TestFragmentAllErrorsAtOnce: every problem of a fragment is reported,
// in line order.
func TestFragmentAllErrorsAtOnce(t *testing.T) {
	base := mustParse(t, delegatedBase)
	src := `version: 1
extend:
  - class: partner-api
    allow_origins: [https://evil.example.com, 'https://*.com', https://ok.example.net]
    allow_methods: [POST, OPTIONS]
    match: {}
  - class: internal
`
	_, _, err := policy.ParseFragment(base, "team.yaml", []byte(src))
	var perr *policy.Error
	if !errors.As(err, &perr) {
		t.Fatalf("err = %v", err)
	}
	// evil (domains), *.com (public suffix, domains), OPTIONS, match, internal.
	if len(perr.Issues) != 6 {
		t.Errorf("got %d issues, want 6:\n%v", len(perr.Issues), err)
	}
	for i := 1; i < len(perr.Issues); i++ {
		if perr.Issues[i].Line < perr.Issues[i-1].Line {
			t.Errorf("issues not in line order:\n%v", err)
		}
	}
}

func TestFragmentWarningsAndNormalisation(t *testing.T) {
	base := mustParse(t, strings.Replace(delegatedBase, "max_origins: 3", "max_origins: 10", 1))
	f, warns, err := policy.ParseFragment(base, "team.yaml", []byte(frag(
		"    allow_origins: [HTTPS://A.Example.NET:443, https://a.example.net, https://x.b.partners.example.org, 'https://*.b.partners.example.org']\n"+
			"    allow_methods: [PUT, GET]\n    allow_headers: [content-type]\n")))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Doc().Extend[0].AllowOrigins[0]; got != "https://a.example.net" {
		t.Errorf("origin = %q, want normalised", got)
	}
	var text []string
	for _, w := range warns {
		text = append(text, w.String())
	}
	all := strings.Join(text, "\n")
	for _, w := range []string{"normalised to", "duplicate of the entry at line 4", "already allowed by a wildcard",
		`"PUT": already allowed for every origin`, `"GET": already allowed`, `"content-type": already allowed`} {
		if !strings.Contains(all, w) {
			t.Errorf("no warning mentions %q; warnings:\n%s", w, all)
		}
	}
	if _, warns, err := policy.ParseFragment(base, "empty.yaml", []byte("version: 1\n")); err != nil || len(warns) != 1 {
		t.Errorf("empty fragment: err %v warnings %v, want one warning", err, warns)
	}
}

// TestDelegateErrors: the base policy's guardrails are validated too.
func TestDelegateErrors(t *testing.T) {
	tests := []struct {
		name string
		body string // the delegate mapping, at line 6
		want string
	}{
		{"no domains", "{max_origins: 3}", "origin_domains: missing"},
		{"empty domains", "{origin_domains: []}", "at least one domain"},
		{"public suffix domain", "{origin_domains: [co.uk]}", "a public suffix"},
		{"domain with scheme", "{origin_domains: ['https://a.example']}", "no scheme, port or wildcard"},
		{"wildcard domain", "{origin_domains: ['*.a.example']}", "no scheme, port or wildcard"},
		{"bad scheme", "{origin_domains: [a.example], origin_schemes: [ftp]}", "https or http"},
		{"zero max origins", "{origin_domains: [a.example], max_origins: 0}", "from 1 to 100000"},
		{"text max origins", "{origin_domains: [a.example], max_origins: many}", "from 1 to 100000"},
		{"forbidden ceiling method", "{origin_domains: [a.example], allow_methods: [CONNECT]}", "forbidden method"},
		{"forbidden ceiling header", "{origin_domains: [a.example], allow_headers: [Host]}", "forbidden request-header"},
		{"forbidden ceiling expose", "{origin_domains: [a.example], expose_headers: [Set-Cookie]}", "forbidden response-header"},
		{"unknown key", "{origin_domains: [a.example], domains: [b.example]}", "unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "version: 1\nclasses:\n  - name: c\n    match: {path_prefixes: [/]}\n    allow_origins: [https://a.example]\n    delegate: " + tt.body + "\n"
			_, _, err := policy.Parse("p.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), "p.yaml:6:") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q at line 6", err, tt.want)
			}
		})
	}
	// A delegated class may grant methods with no origins of its own.
	if _, _, err := policy.Parse("p.yaml", []byte("version: 1\nclasses:\n  - name: c\n    match: {path_prefixes: [/]}\n    allow_methods: [PUT]\n    delegate: {origin_domains: [a.example]}\n")); err != nil {
		t.Errorf("delegated class without origins refused: %v", err)
	}
}

func ExamplePolicy_WithFragments() {
	base, _, err := policy.Parse("policy.yaml", []byte(`version: 1
classes:
  - name: partner-api
    match: {path_prefixes: [/]}
    allow_methods: [GET]
    delegate:
      origin_domains: [example.org]
      allow_methods: [PUT, DELETE]
`))
	if err != nil {
		panic(err)
	}
	a, _, err := policy.ParseFragment(base, "team-a.yaml", []byte(`version: 1
extend:
  - class: partner-api
    allow_origins: [https://a.example.org]
    allow_methods: [PUT]
`))
	if err != nil {
		panic(err)
	}
	_, _, err = policy.ParseFragment(base, "team-b.yaml", []byte(`version: 1
extend:
  - class: partner-api
    allow_origins: [https://b.example.com]
    allow_methods: [PATCH]
`))
	fmt.Println(err)
	p, err := base.WithFragments([]*policy.Fragment{a})
	if err != nil {
		panic(err)
	}
	r := policy.Request{Method: "OPTIONS", Scheme: "https", Host: "api.example.com", Path: "/",
		Origin: "https://a.example.org", HasOrigin: true, ACRM: "PUT"}
	v := p.Decide(&r)
	acam, _ := v.Header(policy.HeaderACAM)
	fmt.Println(v.Status, v.ReasonText(), acam, v.Grant.Files())
	// Output:
	// policy refused (2 error(s)):
	//   team-b.yaml:4:21: extend[0].allow_origins[0]: "https://b.example.com": outside guardrail delegate.origin_domains of class "partner-api" (policy.yaml:7): "b.example.com" is not example.org or a subdomain of it
	//   team-b.yaml:5:21: extend[0].allow_methods[0]: "PATCH": outside guardrail delegate.allow_methods of class "partner-api" (policy.yaml:8): fragments may add only PUT, DELETE
	// 204 preflight_allowed GET, PUT [team-a.yaml]
}

// TestFragmentGuardrailDefaults: a delegate key with only origin_domains
// lets fragments grant up to 100 exact https origins and add nothing else;
// a "*" ceiling lets them add any header but Authorization.
func TestFragmentGuardrailDefaults(t *testing.T) {
	strict := mustParse(t, "version: 1\nclasses:\n  - name: c\n    match: {path_prefixes: [/]}\n    delegate: {origin_domains: [example.org]}\n")
	star := mustParse(t, "version: 1\nclasses:\n  - name: c\n    match: {path_prefixes: [/]}\n    delegate: {origin_domains: [example.org], allow_headers: ['*'], expose_headers: ['*']}\n")
	many := make([]string, policy.DefaultMaxOrigins+1)
	for i := range many {
		many[i] = fmt.Sprintf("https://o%d.example.org", i)
	}
	ext := func(lines string) string { return "version: 1\nextend:\n  - class: c\n" + lines }
	tests := []struct {
		name string
		base *policy.Policy
		src  string
		want string // "" = accepted
	}{
		{"exact https origin", strict, ext("    allow_origins: [https://a.example.org]\n"), ""},
		{"the domain itself", strict, ext("    allow_origins: [https://example.org]\n"), ""},
		{"wildcard by default", strict, ext("    allow_origins: ['https://*.a.example.org']\n"),
			`guardrail delegate.allow_wildcards of class "c" (test.yaml:5, default)`},
		{"http by default", strict, ext("    allow_origins: [http://a.example.org]\n"), "delegate.origin_schemes"},
		{"any method by default", strict, ext("    allow_origins: [https://a.example.org]\n    allow_methods: [PUT]\n"), "fragments may add none"},
		{"any header by default", strict, ext("    allow_origins: [https://a.example.org]\n    allow_headers: [X-A]\n"), "delegate.allow_headers"},
		{"any exposed header by default", strict, ext("    allow_origins: [https://a.example.org]\n    expose_headers: [X-A]\n"), "delegate.expose_headers"},
		{"101 origins by default", strict, ext("    allow_origins: [" + strings.Join(many, ", ") + "]\n"), "at most 100 per fragment"},
		{"100 origins by default", strict, ext("    allow_origins: [" + strings.Join(many[1:], ", ") + "]\n"), ""},
		{"star ceiling: any header", star, ext("    allow_origins: [https://a.example.org]\n    allow_headers: [X-Anything, '*']\n    expose_headers: [X-B, '*']\n"), ""},
		{"star ceiling: not Authorization", star, ext("    allow_origins: [https://a.example.org]\n    allow_headers: [Authorization]\n"), "delegate.allow_headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := policy.ParseFragment(tt.base, "team.yaml", []byte(tt.src))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
