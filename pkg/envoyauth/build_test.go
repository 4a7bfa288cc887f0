package envoyauth

import (
	"fmt"
	"net/netip"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

func TestHTTPRequestMapEncoding(t *testing.T) {
	h := HTTPRequest{
		Method: "OPTIONS", Scheme: "http", Host: "shop.example.com:8443", Path: "/api/v1/x?q=1",
		Headers: pairs("Origin", partner, "X-Dup", "a", "x-dup", "b", "x-bytes", "ok\xff\xfeok"),
		Class:   "public-api", ContextExtensions: map[string]string{"tenant": "t1", ClassHintKey: "overridden"},
		ID: "7", Protocol: "HTTP/2",
		Source: netip.MustParseAddrPort("192.0.2.1:1234"), Destination: netip.MustParseAddrPort("[2001:db8::1]:8080"),
	}
	req := h.CheckRequest()
	hr := req.GetAttributes().GetRequest().GetHttp()
	if hr.GetMethod() != "OPTIONS" || hr.GetPath() != "/api/v1/x?q=1" || hr.GetHost() != "shop.example.com:8443" || hr.GetScheme() != "http" ||
		hr.GetId() != "7" || hr.GetProtocol() != "HTTP/2" {
		t.Errorf("request line %v", hr)
	}
	if hr.GetHeaderMap() != nil {
		t.Error("header_map set in the map encoding")
	}
	want := map[string]string{
		":authority": "shop.example.com:8443", ":path": "/api/v1/x?q=1", ":method": "OPTIONS", ":scheme": "http",
		"origin": partner, "x-dup": "a,b", "x-bytes": "ok!!ok",
	}
	if fmt.Sprint(hr.GetHeaders()) != fmt.Sprint(want) {
		t.Errorf("headers = %v\nwant      %v", hr.GetHeaders(), want)
	}
	ext := req.GetAttributes().GetContextExtensions()
	if ext[ClassHintKey] != "public-api" || ext["tenant"] != "t1" || len(ext) != 2 {
		t.Errorf("context_extensions = %v", ext)
	}
	if h.ContextExtensions[ClassHintKey] != "overridden" {
		t.Error("CheckRequest modified the caller's ContextExtensions")
	}
	src := req.GetAttributes().GetSource().GetAddress().GetSocketAddress()
	dst := req.GetAttributes().GetDestination().GetAddress().GetSocketAddress()
	if src.GetAddress() != "192.0.2.1" || src.GetPortValue() != 1234 || dst.GetAddress() != "2001:db8::1" || dst.GetPortValue() != 8080 {
		t.Errorf("peers %v %v", src, dst)
	}
	if _, err := proto.Marshal(req); err != nil {
		t.Errorf("Marshal: %v (the map encoding is valid UTF-8)", err)
	}
}

func TestHTTPRequestRawEncoding(t *testing.T) {
	h := HTTPRequest{Method: "GET", Path: "/x", Headers: pairs("Origin", "https://a.example", "origin", "https://b.example", "x-bytes", "\xff\x00\r\n"), Raw: true}
	req := h.CheckRequest()
	hr := req.GetAttributes().GetRequest().GetHttp()
	if len(hr.GetHeaders()) != 0 {
		t.Fatalf("headers map set in the raw encoding: %v", hr.GetHeaders())
	}
	var got [][2]string
	for _, hv := range hr.GetHeaderMap().GetHeaders() {
		if hv.GetValue() != "" {
			t.Errorf("%s: value set; Envoy fills raw_value only", hv.GetKey())
		}
		got = append(got, [2]string{hv.GetKey(), string(hv.GetRawValue())})
	}
	want := append(pairs(":authority", "", ":path", "/x", ":method", "GET", ":scheme", ""), h.Headers...)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("header_map = %q\nwant         %q", got, want)
	}
	if req.GetAttributes().GetSource() != nil || req.GetAttributes().GetDestination() != nil || req.GetAttributes().GetContextExtensions() != nil {
		t.Errorf("peers or context extensions set without being asked: %v", req.GetAttributes())
	}
	if _, err := proto.Marshal(req); err != nil {
		t.Errorf("Marshal: %v (raw values are bytes)", err)
	}
}

func TestHTTPRequestPseudoOnly(t *testing.T) {
	h := HTTPRequest{Method: "DELETE", Scheme: "https", Host: "h", Path: "/y", PseudoOnly: true}
	hr := h.CheckRequest().GetAttributes().GetRequest().GetHttp()
	if hr.GetMethod() != "" || hr.GetPath() != "" || hr.GetHost() != "" || hr.GetScheme() != "" {
		t.Errorf("PseudoOnly left request-line fields: %v", hr)
	}
	var r policy.Request
	if !ReadRequest(h.CheckRequest(), &r) || r.Method != "DELETE" || r.Host != "h" || r.Path != "/y" || r.Scheme != "https" {
		t.Errorf("view of a pseudo-header-only request: %+v", r)
	}
}

// TestHTTPRequestEncodingsAgree: both encodings of one request give the
// same view (values valid UTF-8; the map sanitises, header_map does not).
func TestHTTPRequestEncodingsAgree(t *testing.T) {
	reqs := []HTTPRequest{
		envoyLike("GET", "/api", "Origin", partner),
		envoyLike("OPTIONS", "/api", "Origin", partner, "Access-Control-Request-Method", "PUT",
			"access-control-request-headers", "a", "Access-Control-Request-Headers", "b"),
		envoyLike("GET", "/api", "origin", "https://a.example", "Origin", "https://b.example"),
		envoyLike("GET", "/api", "access-control-request-method", "PUT"),
		{Method: "GET", Path: "/", Class: "c", PseudoOnly: true},
	}
	for i, h := range reqs {
		raw := h
		raw.Raw = true
		var fromMap, fromRaw policy.Request
		okMap, okRaw := ReadRequest(h.CheckRequest(), &fromMap), ReadRequest(raw.CheckRequest(), &fromRaw)
		if !okMap || !okRaw || fromMap != fromRaw {
			t.Errorf("request %d: map view %+v (%v), header_map view %+v (%v)", i, fromMap, okMap, fromRaw, okRaw)
		}
	}
}
