package explain_test

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/internal/explain"
	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

func ptr(s string) *string { return &s }

func TestInputRequest(t *testing.T) {
	in := explain.Input{Method: "OPTIONS", Path: "/api/v1/x", Host: "api.example.com", Origin: ptr("https://a.example"),
		Headers: []string{"access-control-request-method: PUT", "Access-Control-Request-Headers: x-a", "ACCESS-CONTROL-REQUEST-HEADERS:x-b",
			"Origin: https://b.example", "Access-Control-Request-Private-Network: true"}}
	r, err := in.Request()
	if err != nil {
		t.Fatal(err)
	}
	// Repeated headers are joined with "," as Envoy joins them, which makes
	// two Origins one invalid origin.
	if r.Origin != "https://a.example,https://b.example" || r.ACRM != "PUT" || r.ACRH != "x-a,x-b" || r.ACRPN != "true" || r.Scheme != "https" {
		t.Errorf("request = %+v", r)
	}
	if _, err := (explain.Input{Headers: []string{"nocolon"}}).Request(); err == nil {
		t.Error("header without colon accepted")
	}
	r, _ = explain.Input{}.Request()
	if r.HasOrigin || r.Method != "GET" || r.Path != "/" {
		t.Errorf("defaults = %+v", r)
	}
}

// TestInputSeenAsTheServiceSeesIt: explain's view is the Check service's
// view of the CheckRequest Envoy would send (envoyauth.ReadRequest of the
// map encoding), not a reading of its own.
func TestInputSeenAsTheServiceSeesIt(t *testing.T) {
	tests := []struct {
		name string
		in   explain.Input
		want policy.Request
	}{
		{"defaults", explain.Input{},
			policy.Request{Method: explain.DefaultMethod, Scheme: explain.DefaultScheme, Path: explain.DefaultPath}},
		{"invalid UTF-8 is sanitised as Envoy's map encoding does", explain.Input{Host: "h", Origin: ptr("https://\xffa.example")},
			policy.Request{Method: "GET", Scheme: "https", Host: "h", Path: "/", Origin: "https://!a.example", HasOrigin: true}},
		{"no Origin: Access-Control-Request-* are not read", explain.Input{Method: "OPTIONS", Host: "h",
			Headers: []string{"Access-Control-Request-Method: PUT"}},
			policy.Request{Method: "OPTIONS", Scheme: "https", Host: "h", Path: "/"}},
		{"Host and :authority lines set the host, last wins", explain.Input{Host: "flag.example",
			Headers: []string{"Host: a.example", ":authority: b.example"}, Class: "c"},
			policy.Request{Method: "GET", Scheme: "https", Host: "b.example", Path: "/", ClassHint: "c"}},
		{"an empty ACRM line is still joined", explain.Input{Origin: ptr("https://o.example"),
			Headers: []string{"access-control-request-method:", "access-control-request-method: PUT"}},
			policy.Request{Method: "GET", Scheme: "https", Path: "/", Origin: "https://o.example", HasOrigin: true, ACRM: ",PUT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Request()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("view %+v\nwant %+v", got, tt.want)
			}
			req, err := tt.in.CheckRequest()
			if err != nil {
				t.Fatal(err)
			}
			var svc policy.Request
			if !envoyauth.ReadRequest(req, &svc) || svc != got {
				t.Errorf("the service reads %+v from the CheckRequest, explain shows %+v", svc, got)
			}
			if _, err := proto.Marshal(req); err != nil {
				t.Errorf("the CheckRequest does not marshal: %v", err)
			}
		})
	}
	if _, err := (explain.Input{Headers: []string{"nocolon"}}).CheckRequest(); err == nil {
		t.Error("CheckRequest accepted a header without colon")
	}
}

func TestExplain(t *testing.T) {
	p := policy.Default()
	tests := []struct {
		in                         explain.Input
		class, selection, action   string
		allowed                    bool
		status                     int
		reason, firstHeader, write string
	}{
		{explain.Input{Method: "OPTIONS", Path: "/api/v1/x", Host: "api.example.com", Origin: ptr("https://partner.example.org"),
			Headers: []string{"Access-Control-Request-Method: PUT"}},
			"public-api", "match", "respond", true, 204, "preflight_allowed", "access-control-allow-origin", "answers the request itself with HTTP 204"},
		{explain.Input{Path: "/api/v1/x", Origin: ptr("https://evil.example")},
			"public-api", "match", "forward", false, 0, "origin_not_allowed", "vary", "forwards the request upstream"},
		{explain.Input{Path: "/x", Origin: ptr("https://partner.example.org"), Class: "nope"},
			"default-deny", "default", "forward", false, 0, "unknown_class: nope", "", "does not define"},
		{explain.Input{Path: "/x", Origin: ptr("https://partner.example.org"), Class: "public-api"},
			"public-api", "context_extension", "forward", true, 0, "origin_allowed", "access-control-allow-origin", "context extension"},
		// Issue 11 item 2: the class comes from the path's normal form, and says so.
		{explain.Input{Path: "/api/v1/%2e%2e/admin?x", Origin: ptr("https://partner.example.org")},
			"internal", "match", "forward", false, 0, "cross_origin_to_internal", "", `path "/api/v1/%2e%2e/admin?x" (normal form "/api/admin")`},
		{explain.Input{Path: "/api/v1/..%2Fadmin", Origin: ptr("https://partner.example.org")},
			"public-api", "match", "forward", false, 0, "path_ambiguous", "vary", `and path "/api/v1/..%2Fadmin"`},
		{explain.Input{Path: "/api/v1/x?y", Origin: ptr("https://partner.example.org")},
			"public-api", "match", "forward", true, 0, "origin_allowed", "access-control-allow-origin", `and path "/api/v1/x?y"` + "\n"},
	}
	for _, tt := range tests {
		r, err := tt.in.Request()
		if err != nil {
			t.Fatal(err)
		}
		e := explain.Explain(p, r)
		if e.Class != tt.class || e.Selection != tt.selection || e.Action != tt.action || e.Allowed != tt.allowed || e.HTTPStatus != tt.status || e.Reason != tt.reason {
			t.Errorf("%+v: got %+v", tt.in, e)
		}
		if tt.firstHeader != "" && (len(e.Headers) == 0 || e.Headers[0].Name != tt.firstHeader) {
			t.Errorf("%+v: headers %+v", tt.in, e.Headers)
		}
		var buf bytes.Buffer
		e.WriteText(&buf)
		if !strings.Contains(buf.String(), tt.write) {
			t.Errorf("text lacks %q:\n%s", tt.write, buf.String())
		}
	}
}

// TestExplainProvenance: in a delegated class, explain names the files
// that granted the origin; outside delegation the text is unchanged.
func TestExplainProvenance(t *testing.T) {
	base, _, err := policy.Parse("policy.yaml", []byte(`version: 1
classes:
  - name: partners
    match: {path_prefixes: [/]}
    allow_origins: [https://own.example.org]
    delegate: {origin_domains: [example.org], allow_methods: [PUT]}
`))
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := policy.ParseFragment(base, "team-a.yaml", []byte("version: 1\nextend: [{class: partners, allow_origins: [https://a.example.org, https://own.example.org], allow_methods: [PUT]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := base.WithFragments([]*policy.Fragment{f})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pol    *policy.Policy
		origin string
		want   []string
		line   string
	}{
		{p, "https://a.example.org", []string{"team-a.yaml"}, "granted:  https://a.example.org by team-a.yaml\n"},
		{p, "https://own.example.org", []string{"policy.yaml", "team-a.yaml"}, "granted:  https://own.example.org by policy.yaml, team-a.yaml\n"},
		{p, "https://b.example.org", nil, ""},
		{policy.Default(), "https://partner.example.org", []string{policy.DefaultName}, ""},
	}
	for _, tt := range tests {
		r, _ := explain.Input{Method: "GET", Path: "/api/v1/x", Host: "api.example.com", Origin: ptr(tt.origin)}.Request()
		e := explain.Explain(tt.pol, r)
		if strings.Join(e.GrantedBy, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: granted by %v, want %v", tt.origin, e.GrantedBy, tt.want)
		}
		var b bytes.Buffer
		e.WriteText(&b)
		if got := strings.Contains(b.String(), "granted:"); got != (tt.line != "") || tt.line != "" && !strings.Contains(b.String(), tt.line) {
			t.Errorf("%s: text\n%s\nwant line %q", tt.origin, b.String(), tt.line)
		}
	}
}
