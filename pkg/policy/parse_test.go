package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// class wraps one class body (indented 4 spaces) in a policy; the class's
// first line is line 4. A body without match rules gets one after it, as
// every class needs one.
func class(body string) string {
	if !strings.Contains(body, "match:") {
		body += "    match: {path_prefixes: [/c/]}\n"
	}
	return "version: 1\nclasses:\n  - name: c\n" + body
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
		want string // substring of the issue
	}{
		{"unknown top-level key", "version: 1\nclasess: []\n", 2, "unknown key"},
		{"unknown class key", class("    allow_origin: [https://a.example]\n"), 4, "classes[0].allow_origin: unknown key"},
		{"missing version", "classes: []\n", 1, "version: missing"},
		{"wrong version", "version: 2\n", 1, "unsupported version"},
		{"star origin", class("    allow_origins: ['*']\n"), 4, `"*" is not allowed`},
		{"null origin", class("    allow_origins: ['null']\n"), 4, `"null" is not allowed`},
		{"file origin", class("    allow_origins: ['file://']\n"), 4, "file: origins"},
		{"origin with path", class("    allow_origins: [https://a.example/x]\n"), 4, "no path"},
		{"origin with trailing slash", class("    allow_origins: [https://a.example/]\n"), 4, "no path"},
		{"origin with query", class("    allow_origins: ['https://a.example?x']\n"), 4, "no path"},
		{"origin with userinfo", class("    allow_origins: [https://u@a.example]\n"), 4, "userinfo"},
		{"origin with whitespace", class("    allow_origins: ['https://a .example']\n"), 4, "whitespace"},
		{"not an origin", class("    allow_origins: [a.example]\n"), 4, "expected scheme://host"},
		{"bad port", class("    allow_origins: ['https://a.example:99999']\n"), 4, "invalid port"},
		{"wildcard in the middle", class("    allow_origins: ['https://api.*.example.com']\n"), 4, "invalid wildcard"},
		{"wildcard without dot", class("    allow_origins: ['https://*example.com']\n"), 4, "invalid wildcard"},
		{"wildcard on other scheme", class("    allow_origins: ['chrome-extension://*.x']\n"), 4, "only for http and https"},
		{"wildcard on IP", class("    allow_origins: ['https://*.10.0.0.1']\n"), 4, "IP address"},
		{"public suffix com", class("    allow_origins: ['https://*.com']\n"), 4, "public suffix"},
		{"public suffix co.uk", class("    allow_origins: ['https://*.co.uk']\n"), 4, "public suffix"},
		{"public suffix github.io", class("    allow_origins: ['https://*.github.io']\n"), 4, "public suffix"},
		{"non-canonical IPv6", class("    allow_origins: ['https://[0:0:0:0:0:0:0:1]']\n"), 4, "IPv6"},
		{"non-canonical IPv4", class("    allow_origins: ['https://127.1']\n"), 4, "IPv4"},
		{"insecure origin with credentials", class("    allow_origins: [http://a.example]\n    allow_credentials: true\n"), 4, "insecure origin"},
		{"connect method", class("    allow_origins: [https://a.example]\n    allow_methods: [CONNECT]\n"), 5, "forbidden method"},
		{"trace method", class("    allow_origins: [https://a.example]\n    allow_methods: [TRACE]\n"), 5, "forbidden method"},
		{"track method", class("    allow_origins: [https://a.example]\n    allow_methods: [track]\n"), 5, "forbidden method"},
		{"lower-case get", class("    allow_origins: [https://a.example]\n    allow_methods: [get]\n"), 5, `write "GET"`},
		{"mixed-case put", class("    allow_origins: [https://a.example]\n    allow_methods: [Put]\n"), 5, `write "PUT"`},
		// Issue 11 item 1: no match rule may match every request by omission.
		{"match missing", "version: 1\nclasses:\n  - name: c\n    allow_origins: [https://a.example]\n", 3, "classes[0].match: missing"},
		{"match null", "version: 1\nclasses:\n  - name: c\n    match:\n    allow_origins: [https://a.example]\n", 4, "classes[0].match: empty match"},
		{"match null explicit", "version: 1\nclasses:\n  - name: c\n    match: null\n", 4, "classes[0].match: empty match"},
		{"match empty mapping", "version: 1\nclasses:\n  - name: c\n    match: {}\n", 4, "classes[0].match: empty match {}"},
		{"match empty path_prefixes", "version: 1\nclasses:\n  - name: c\n    match: {path_prefixes: []}\n", 4, "classes[0].match.path_prefixes: empty list"},
		{"match empty paths", "version: 1\nclasses:\n  - name: c\n    match:\n      paths: []\n", 5, "classes[0].match.paths: empty list"},
		{"match empty hosts beside a path", "version: 1\nclasses:\n  - name: c\n    match: {hosts: [], path_prefixes: [/x/]}\n", 4, "classes[0].match.hosts: empty list"},
		{"match null list", "version: 1\nclasses:\n  - name: c\n    match:\n      path_prefixes:\n", 5, "classes[0].match.path_prefixes: empty list"},
		{"forbidden header cookie", class("    allow_origins: [https://a.example]\n    allow_headers: [Cookie]\n"), 5, "forbidden request-header"},
		{"forbidden header sec-", class("    allow_origins: [https://a.example]\n    allow_headers: [Sec-Fetch-Mode]\n"), 5, "forbidden request-header"},
		{"forbidden header proxy-", class("    allow_origins: [https://a.example]\n    allow_headers: [Proxy-Authorization]\n"), 5, "forbidden request-header"},
		{"response header as request header", class("    allow_origins: [https://a.example]\n    allow_headers: [Access-Control-Allow-Origin]\n"), 5, "CORS response header"},
		{"invalid header name", class("    allow_origins: [https://a.example]\n    allow_headers: ['X Foo']\n"), 5, "not a valid header name"},
		{"expose set-cookie", class("    allow_origins: [https://a.example]\n    expose_headers: [Set-Cookie]\n"), 5, "forbidden response-header"},
		{"expose star with credentials", class("    allow_origins: [https://a.example]\n    expose_headers: ['*']\n    allow_credentials: true\n"), 5, "literal name"},
		{"negative max_age", class("    allow_origins: [https://a.example]\n    max_age: -1\n"), 5, "between 0 and 86400"},
		{"max_age too large", class("    allow_origins: [https://a.example]\n    max_age: 25h\n"), 5, "between 0 and 86400"},
		{"max_age not a duration", class("    allow_origins: [https://a.example]\n    max_age: soon\n"), 5, "expected a duration"},
		{"duplicate class names", "version: 1\nclasses:\n  - name: a\n  - name: a\n", 4, "duplicate class name"},
		{"classes not a list", "version: 1\nclasses:\n  name: a\n", 3, "expected a list of classes, found a mapping"},
		{"grants without origins", class("    allow_methods: [PUT]\n"), 4, "no allow_origins"},
		{"credentials without origins", class("    allow_credentials: true\n"), 4, "no allow_origins"},
		{"unknown deny action", class("    deny_action: drop\n"), 4, "unknown deny_action"},
		{"self_origin without self origins", class("    deny_action: self_origin\n"), 4, "needs self_origins"},
		{"class without name", "version: 1\nclasses:\n  - match: {paths: [/x]}\n", 3, "every class needs a name"},
		{"bad path", class("    match: {paths: [x]}\n"), 4, "starts with '/'"},
		{"bad host", class("    match: {hosts: ['a b']}\n"), 4, "invalid host"},
		{"host with an empty label", class("    match: {hosts: ['a..example']}\n"), 4, "invalid host name"},
		// Issue 11 item 2: path entries are written in the normal form requests are matched on.
		{"path with dot segments", class("    match: {path_prefixes: [/api/v1/../admin/]}\n"), 4, `write "/api/admin/"`},
		{"path with encoded dots", class("    match: {paths: [/api/%2e%2e/x]}\n"), 4, `write "/x"`},
		{"path with escaped unreserved", class("    match: {paths: ['/%7Euser']}\n"), 4, `write "/~user"`},
		{"path with lower-case hex", class("    match: {paths: ['/caf%c3%a9']}\n"), 4, `write "/caf%C3%A9"`},
		{"path with double slash", class("    match: {path_prefixes: [//api/]}\n"), 4, `write "/api/"`},
		{"path with encoded slash", class("    match: {path_prefixes: ['/a%2Fb/']}\n"), 4, "means different paths to different servers"},
		{"path with backslash", class("    match: {path_prefixes: ['/a\\b/']}\n"), 4, "means different paths to different servers"},
		{"wrong type", class("    allow_credentials: yes please\n"), 4, "expected true or false"},
		{"syntax error", "version: 1\nclasses:\n  - name: [\n", 3, "did not find expected node content"},
		{"empty file", "", 1, "empty policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := policy.Parse("p.yaml", []byte(tt.src))
			var perr *policy.Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse error = %v, want *policy.Error", err)
			}
			for _, is := range perr.Issues {
				if strings.Contains(is.String(), tt.want) && is.File == "p.yaml" && (tt.line == 0 || is.Line == tt.line) {
					return
				}
			}
			t.Errorf("no issue containing %q at line %d in:\n%v", tt.want, tt.line, err)
		})
	}
}

// TestParseAllErrorsAtOnce: every problem is reported, not just the first.
func TestParseAllErrorsAtOnce(t *testing.T) {
	src := `version: 1
classes:
  - name: a
    allow_origins: ['*', 'null', https://ok.example, 'https://*.com']
    allow_methods: [CONNECT, get]
    max_age: 100000
    match: {path_prefixes: [/a/]}
  - name: a
    bogus: 1
    match: {paths: [/b]}
`
	_, _, err := policy.Parse("p.yaml", []byte(src))
	var perr *policy.Error
	if !errors.As(err, &perr) {
		t.Fatalf("err = %v", err)
	}
	if len(perr.Issues) != 8 {
		t.Errorf("got %d issues, want 8:\n%v", len(perr.Issues), err)
	}
}

func TestParseWarningsAndNormalisation(t *testing.T) {
	src := `version: 1
self_origins: [HTTPS://App.Example.com:443]
classes:
  - name: a
    allow_origins:
      - HTTPS://Partner.Example.ORG:443
      - https://bücher.example
      - https://x.tenant.example.com
      - https://*.tenant.example.com
      - https://[::1]:8443
      - http://localhost:3000
    allow_credentials: true
    max_age: 3h
    match: {path_prefixes: [/]}
  - name: all
    match: {path_prefixes: [/]}
  - name: hidden
    match: {paths: [/hidden]}
`
	p, warns, err := policy.Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	wantOrigins := []string{"https://partner.example.org", "https://xn--bcher-kva.example", "https://x.tenant.example.com",
		"https://*.tenant.example.com", "https://[::1]:8443", "http://localhost:3000"}
	got := p.Spec().Classes[0].AllowOrigins
	if strings.Join(got, " ") != strings.Join(wantOrigins, " ") {
		t.Errorf("origins = %v, want %v", got, wantOrigins)
	}
	if p.Spec().SelfOrigins[0] != "https://app.example.com" {
		t.Errorf("self origin = %q", p.Spec().SelfOrigins[0])
	}
	var text []string
	for _, w := range warns {
		text = append(text, w.String())
	}
	all := strings.Join(text, "\n")
	for _, w := range []string{"scheme lower-cased", "host lower-cased", "default port :443 dropped", "punycode",
		"already allowed by a wildcard", "Chromium caps max_age", `class "a" before it matches every request`} {
		if !strings.Contains(all, w) {
			t.Errorf("no warning mentions %q; warnings:\n%s", w, all)
		}
	}
	// The normalised origin is what a browser sends, and it is allowed.
	r := policy.Request{Method: "GET", Scheme: "https", Host: "api", Path: "/", Origin: "https://xn--bcher-kva.example", HasOrigin: true, ClassHint: "a"}
	if v := p.Decide(&r); !v.Allowed {
		t.Errorf("punycoded origin refused: %s", v.ReasonText())
	}
}

// TestParseAdvice: accepted files whose meaning is easy to misread get a
// warning at the entry concerned (issue 11 items 7 and 8).
func TestParseAdvice(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
		want string // substring of a warning; "" = no warning at all
		not  string // substring no warning may contain
	}{
		{"lower-case patch is sent as written", class("    allow_origins: [https://a.example]\n    allow_methods: [patch]\n"), 5,
			`"patch": methods are case-sensitive: this allows only scripts that send exactly "patch"`, ""},
		{"lower-case extension method", class("    allow_origins: [https://a.example]\n    allow_methods: [PATCH, propfind]\n"), 5,
			`allow_methods[1]: "propfind": methods are case-sensitive`, ""},
		{"upper-case methods need no advice", class("    allow_origins: [https://a.example]\n    allow_methods: [PATCH, PROPFIND]\n"), 0, "", ""},
		{"star headers with credentials omit Authorization", class("    allow_origins: [https://a.example]\n    allow_headers: [X-A, '*']\n    allow_credentials: true\n"), 5,
			`allow_headers[1]: "*": "*" never covers Authorization (Fetch §3.2.6), so a preflight asking for it is refused; list Authorization explicitly`, ""},
		{"star headers with Authorization listed", class("    allow_origins: [https://a.example]\n    allow_headers: ['*', authorization]\n    allow_credentials: true\n"), 6,
			`browsers read "*" literally`, "Authorization"},
		{"host with a trailing dot", class("    match: {hosts: [Admin.Example.com.]}\n"), 4,
			`"Admin.Example.com.": normalised to "admin.example.com" (trailing dot dropped`, ""},
		{"star headers without credentials", class("    allow_origins: [https://a.example]\n    allow_headers: ['*']\n"), 0, "", ""},
		{"request header longer than the ACRH check reads", class("    allow_origins: [https://a.example]\n    allow_headers: [X-A, x-" + strings.Repeat("a", 200) + "]\n"), 5,
			`longer than 128 bytes: a preflight asking for it is always refused`, ""},
		{"request header at the length limit", class("    allow_origins: [https://a.example]\n    allow_headers: [x-" + strings.Repeat("a", 126) + "]\n"), 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warns, err := policy.Parse("p.yaml", []byte(tt.src))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			for _, w := range warns {
				if tt.not != "" && strings.Contains(w.String(), tt.not) {
					t.Errorf("unexpected warning %v", w)
				}
			}
			if tt.want == "" {
				if len(warns) != 0 {
					t.Errorf("warnings %v, want none", warns)
				}
				return
			}
			for _, w := range warns {
				if strings.Contains(w.String(), tt.want) && w.Line == tt.line {
					return
				}
			}
			t.Errorf("no warning containing %q at line %d in %v", tt.want, tt.line, warns)
		})
	}
}

// TestEmptyMatchIsNoCatchAll: a class refused for an empty match is not
// also reported as a catch-all hiding the classes after it.
func TestEmptyMatchIsNoCatchAll(t *testing.T) {
	src := "version: 1\nclasses:\n  - name: a\n    match: {path_prefixes: []}\n  - name: b\n    match: {path_prefixes: [/]}\n"
	_, warns, err := policy.Parse("p.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "empty list") {
		t.Fatalf("err = %v, want the empty list refused", err)
	}
	for _, w := range warns {
		if strings.Contains(w.Msg, "matches every request") {
			t.Errorf("unexpected warning %v", w)
		}
	}
}

func TestInsecureOriginsOptIn(t *testing.T) {
	src := class("    allow_origins: [http://a.example]\n    allow_credentials: true\n    dangerously_allow_insecure_origins: true\n")
	if _, _, err := policy.Parse("p.yaml", []byte(src)); err != nil {
		t.Fatalf("opt-in refused: %v", err)
	}
}

func TestDefaultPolicy(t *testing.T) {
	p, warns, err := policy.Parse(policy.DefaultName, policy.DefaultYAML)
	if err != nil || len(warns) != 0 {
		t.Fatalf("default policy: err %v, warnings %v", err, warns)
	}
	if p.Class("public-api") == nil || p.Class("internal") == nil {
		t.Fatal("default policy lacks public-api or internal")
	}
	if len(p.SHA256()) != 64 || p.Source() != policy.DefaultName {
		t.Errorf("digest %q source %q", p.SHA256(), p.Source())
	}
}
