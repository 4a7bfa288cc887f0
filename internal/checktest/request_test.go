package checktest

import (
	"context"
	"fmt"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

func TestRequestMapEncoding(t *testing.T) {
	req := Request("OPTIONS", "/api/v1/x?q=1", "https://partner.example.org",
		Preflight("PUT", "content-type"),
		WithHeader("X-Dup", "a"), WithHeader("x-dup", "b"),
		WithHeader("x-bytes", "ok\xff\xfeok"),
		Host("shop.example.com:8443"), Scheme("http"),
		Class("public-api"), ContextExtension("tenant", "t1"),
	)
	h := req.GetAttributes().GetRequest().GetHttp()
	if h.GetMethod() != "OPTIONS" || h.GetPath() != "/api/v1/x?q=1" || h.GetHost() != "shop.example.com:8443" || h.GetScheme() != "http" {
		t.Errorf("request line %q %q %q %q", h.GetMethod(), h.GetPath(), h.GetHost(), h.GetScheme())
	}
	if h.GetHeaderMap() != nil {
		t.Errorf("header_map set in the map encoding")
	}
	want := map[string]string{
		":authority":                     "shop.example.com:8443",
		":path":                          "/api/v1/x?q=1",
		":method":                        "OPTIONS",
		":scheme":                        "http",
		"origin":                         "https://partner.example.org",
		"access-control-request-method":  "PUT",
		"access-control-request-headers": "content-type",
		"x-dup":                          "a,b",
		"x-bytes":                        "ok!!ok",
		"x-forwarded-proto":              "http",
	}
	for k, v := range want {
		if got, ok := h.GetHeaders()[k]; !ok || got != v {
			t.Errorf("headers[%q] = %q (present %v), want %q", k, got, ok, v)
		}
	}
	for k := range h.GetHeaders() {
		if k != toLower(k) {
			t.Errorf("header key %q not lower case", k)
		}
	}
	ext := req.GetAttributes().GetContextExtensions()
	if ext[envoyauth.ClassHintKey] != "public-api" || ext["tenant"] != "t1" || len(ext) != 2 {
		t.Errorf("context_extensions = %v", ext)
	}
	if req.GetAttributes().GetSource().GetAddress().GetSocketAddress().GetAddress() != "127.0.0.1" {
		t.Errorf("source peer = %v", req.GetAttributes().GetSource())
	}
	// Envoy's map encoding is valid UTF-8, so it marshals.
	if _, err := proto.Marshal(req); err != nil {
		t.Errorf("Marshal: %v", err)
	}
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func TestRequestRawEncoding(t *testing.T) {
	req := Request("GET", "/x", "https://a.example", WithHeader("Origin", "https://b.example"),
		WithHeader("x-bytes", "\xff\x00\r\n"), Raw())
	h := req.GetAttributes().GetRequest().GetHttp()
	if len(h.GetHeaders()) != 0 {
		t.Fatalf("headers map set in the raw encoding: %v", h.GetHeaders())
	}
	var origins []string
	var raw string
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		switch hv.GetKey() {
		case "origin":
			origins = append(origins, string(hv.GetRawValue()))
		case "x-bytes":
			raw = string(hv.GetRawValue())
		}
		if hv.GetValue() != "" {
			t.Errorf("%s: value set; Envoy fills raw_value only", hv.GetKey())
		}
	}
	if fmt.Sprint(origins) != "[https://a.example https://b.example]" {
		t.Errorf("origins = %q, want both lines kept apart", origins)
	}
	if raw != "\xff\x00\r\n" {
		t.Errorf("raw bytes = %q, want them unchanged", raw)
	}
	// Raw values are bytes: invalid UTF-8 still marshals.
	if _, err := proto.Marshal(req); err != nil {
		t.Errorf("Marshal: %v", err)
	}
}

func TestRequestOptions(t *testing.T) {
	noOrigin := Request("GET", "/", "")
	if _, ok := noOrigin.GetAttributes().GetRequest().GetHttp().GetHeaders()["origin"]; ok {
		t.Errorf("origin header present for an empty origin")
	}
	if noOrigin.GetAttributes().GetContextExtensions() != nil {
		t.Errorf("context_extensions set without options")
	}
	p := Request("DELETE", "/y", "", PseudoOnly()).GetAttributes().GetRequest().GetHttp()
	if p.GetMethod() != "" || p.GetPath() != "" || p.GetHost() != "" || p.GetScheme() != "" {
		t.Errorf("PseudoOnly left request-line fields: %v", p)
	}
	if p.GetHeaders()[":method"] != "DELETE" || p.GetHeaders()[":authority"] != DefaultHost {
		t.Errorf("PseudoOnly pseudo-headers: %v", p.GetHeaders())
	}
	pf := Request("OPTIONS", "/", "https://a.example", Preflight("GET", "")).GetAttributes().GetRequest().GetHttp().GetHeaders()
	if _, ok := pf["access-control-request-headers"]; ok || pf["access-control-request-method"] != "GET" {
		t.Errorf("Preflight with no ACRH: %v", pf)
	}
}

// TestRequestsDecideLikeEnvoyRequests runs built requests through the real
// Check service: both encodings of a request get the same answer, which
// passes AssertResponse, and the Class option sets the hint the service reads.
func TestRequestsDecideLikeEnvoyRequests(t *testing.T) {
	var view policy.Request
	if !envoyauth.ReadRequest(Request("GET", "/", "", Class("public-api")), &view) || view.ClassHint != "public-api" {
		t.Fatalf("Class option: the service reads class hint %q, want public-api", view.ClassHint)
	}
	pol, _, err := policy.Parse("default", policy.DefaultYAML)
	if err != nil {
		t.Fatal(err)
	}
	s := check.New(check.Options{})
	s.SetPolicy(pol)
	const partner = "https://partner.example.org"
	tests := []struct {
		name string
		req  func(...Option) *authv3.CheckRequest
		want Answer
	}{
		{"allowed actual", func(o ...Option) *authv3.CheckRequest { return Request("GET", "/api/v1/x", partner, o...) },
			Answer{Code: 0, Headers: "access-control-allow-origin: " + partner + "; access-control-allow-credentials: true; access-control-expose-headers: X-Request-Id; vary: Origin"}},
		{"class hint overrides the path", func(o ...Option) *authv3.CheckRequest {
			return Request("GET", "/elsewhere", partner, append(o, Class("public-api"))...)
		}, Answer{Code: 0, Headers: "access-control-allow-origin: " + partner + "; access-control-allow-credentials: true; access-control-expose-headers: X-Request-Id; vary: Origin"}},
		{"refused preflight", func(o ...Option) *authv3.CheckRequest {
			return Request("OPTIONS", "/api/v1/x", "https://evil.example", append(o, Preflight("PUT", ""))...)
		}, Answer{Code: 7, HTTP: 403}},
	}
	for _, tt := range tests {
		for _, raw := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/raw=%v", tt.name, raw), func(t *testing.T) {
				var opts []Option
				if raw {
					opts = append(opts, Raw())
				}
				resp, err := s.Check(context.Background(), tt.req(opts...))
				if err != nil {
					t.Fatal(err)
				}
				if got := AssertResponse(t, resp); got != tt.want {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}
	}
}
