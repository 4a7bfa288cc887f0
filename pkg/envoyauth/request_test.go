package envoyauth

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cors-authz/cors-authz/internal/headers"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

const partner = "https://partner.example.org"

// pairs turns name, value, name, value... into header lines.
func pairs(kv ...string) [][2]string {
	if len(kv)%2 != 0 {
		panic("pairs: odd count")
	}
	var out [][2]string
	for i := 0; i < len(kv); i += 2 {
		out = append(out, [2]string{kv[i], kv[i+1]})
	}
	return out
}

// envoyLike is an HTTPRequest with the headers Envoy's HCM adds next to
// the client's.
func envoyLike(method, path string, hdrs ...string) HTTPRequest {
	return HTTPRequest{
		Method: method, Scheme: "https", Host: "api.example.com", Path: path,
		Headers: append(pairs("user-agent", "Mozilla/5.0", "x-request-id", "0d6e3b0a-5a1e-4c2e-9a51-1b1d2f0c9e77",
			"x-forwarded-proto", "https"), pairs(hdrs...)...),
		ID: "1234567890", Protocol: "HTTP/1.1",
	}
}

func httpReq(h *authv3.AttributeContext_HttpRequest) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: h}}}
}

func rawMap(kv ...string) *corev3.HeaderMap {
	hm := &corev3.HeaderMap{}
	for i := 0; i < len(kv); i += 2 {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return hm
}

// readRequestCases are CheckRequests with the view ReadRequest must give.
func readRequestCases() []struct {
	name string
	req  *authv3.CheckRequest
	ok   bool
	want policy.Request
} {
	full := policy.Request{
		Method: "OPTIONS", Scheme: "https", Host: "api.example.com", Path: "/api/v1/x?y=1",
		Origin: partner, HasOrigin: true, ACRM: "PUT", ACRH: "content-type,x-request-id", ACRPN: "true",
		ClassHint: "public-api",
	}
	fullSpec := envoyLike("OPTIONS", "/api/v1/x?y=1", "Origin", partner, "Access-Control-Request-Method", "PUT",
		"Access-Control-Request-Headers", "content-type", "Access-Control-Request-Headers", "x-request-id",
		"Access-Control-Request-Private-Network", "true")
	fullSpec.Class = "public-api"
	fullSpec.ContextExtensions = map[string]string{"other": "x"}
	rawSpec := fullSpec
	rawSpec.Raw = true

	return []struct {
		name string
		req  *authv3.CheckRequest
		ok   bool
		want policy.Request
	}{
		{"nil", nil, false, policy.Request{}},
		{"no http", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{}}}, false, policy.Request{}},
		{"envoy headers map", fullSpec.CheckRequest(), true, full},
		{"envoy header_map", rawSpec.CheckRequest(), true, full},
		{"pseudo-headers when http fields are empty", httpReq(&authv3.AttributeContext_HttpRequest{Headers: map[string]string{
			":method": "GET", ":scheme": "http", ":authority": "h:8080", ":path": "/p", "origin": "http://o"}}), true,
			policy.Request{Method: "GET", Scheme: "http", Host: "h:8080", Path: "/p", Origin: "http://o", HasOrigin: true}},
		{"http fields win over pseudo-headers", httpReq(&authv3.AttributeContext_HttpRequest{
			Method: "POST", Scheme: "https", Host: "a", Path: "/a",
			Headers: map[string]string{":method": "GET", ":scheme": "http", ":authority": "b", ":path": "/b"}}), true,
			policy.Request{Method: "POST", Scheme: "https", Host: "a", Path: "/a"}},
		{"empty origin is present", httpReq(&authv3.AttributeContext_HttpRequest{Headers: map[string]string{"origin": ""}}), true,
			policy.Request{HasOrigin: true}},
		{"header_map: names any case, value fallback, repeats joined", httpReq(&authv3.AttributeContext_HttpRequest{
			HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
				{Key: ":Method", Value: "GET"},
				{Key: "ORIGIN", RawValue: []byte("https://a.example")},
				{Key: "origin", Value: "https://b.example"},
				{Key: "Access-Control-Request-Headers", RawValue: []byte("a")},
				{Key: "access-control-request-headers", RawValue: []byte("")},
				{Key: "x-other", RawValue: []byte("ignored")},
				nil,
			}}}), true,
			policy.Request{Method: "GET", Origin: "https://a.example,https://b.example", HasOrigin: true, ACRH: "a,"}},
		{"header_map with raw bytes kept as sent", httpReq(&authv3.AttributeContext_HttpRequest{
			HeaderMap: rawMap("origin", "https://a.example\x00\xff")}), true,
			policy.Request{Origin: "https://a.example\x00\xff", HasOrigin: true}},
		{"no Origin: Access-Control-Request-* not read (map)", httpReq(&authv3.AttributeContext_HttpRequest{Method: "OPTIONS",
			Headers: map[string]string{"access-control-request-method": "PUT", "access-control-request-headers": "a"}}), true,
			policy.Request{Method: "OPTIONS"}},
		{"no Origin: Access-Control-Request-* not read (header_map)", httpReq(&authv3.AttributeContext_HttpRequest{Method: "OPTIONS",
			HeaderMap: rawMap("access-control-request-method", "PUT", "access-control-request-headers", "a")}), true,
			policy.Request{Method: "OPTIONS"}},
		{"headers map wins over header_map", httpReq(&authv3.AttributeContext_HttpRequest{
			Headers:   map[string]string{"origin": "https://map.example"},
			HeaderMap: rawMap("origin", "https://raw.example")}), true,
			policy.Request{Origin: "https://map.example", HasOrigin: true}},
		{"map keys are exact (Envoy lower-cases them)", httpReq(&authv3.AttributeContext_HttpRequest{
			Headers: map[string]string{"Origin": "https://upper.example", "x": "y"}}), true,
			policy.Request{}},
	}
}

func TestReadRequest(t *testing.T) {
	for _, tc := range readRequestCases() {
		t.Run(tc.name, func(t *testing.T) {
			var got policy.Request
			ok := ReadRequest(tc.req, &got)
			if ok != tc.ok || got != tc.want {
				t.Errorf("ReadRequest = %v, %+v\nwant          %v, %+v", ok, got, tc.ok, tc.want)
			}
		})
	}
}

// TestReadRequestAllocs: the map encoding (every Envoy without
// encode_raw_headers) is read without allocating.
func TestReadRequestAllocs(t *testing.T) {
	h := envoyLike("OPTIONS", "/api/v1/x", "Origin", partner, "Access-Control-Request-Method", "PUT",
		"Access-Control-Request-Headers", "content-type")
	req := h.CheckRequest()
	var r policy.Request
	if n := testing.AllocsPerRun(100, func() { ReadRequest(req, &r) }); n != 0 {
		t.Errorf("ReadRequest allocates %v times per call, want 0", n)
	}
}

// lines is a header_map with name on n lines of value, after the lines
// given in before (name, value pairs).
func lines(name, value string, n int, before ...string) *authv3.CheckRequest {
	hm := rawMap(before...)
	for range n {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: name, RawValue: []byte(value)})
	}
	return httpReq(&authv3.AttributeContext_HttpRequest{Method: "OPTIONS", Path: "/api/v1/x", HeaderMap: hm})
}

// TestReadRequestRepeatedLines (issue 11 item 4): repeated header_map lines
// are joined in linear time: a header that occurs once stops at its second
// line (the value is already invalid), a list stops at maxJoinedLen bytes
// (over headers.MaxACRHLen, so still refused unread), and reading costs
// the same few allocations for 3 lines or 64,000.
func TestReadRequestRepeatedLines(t *testing.T) {
	long := strings.Repeat("a", 5000)
	tests := []struct {
		name string
		req  *authv3.CheckRequest
		want func(r policy.Request) string // the field checked
		is   string
	}{
		{"two Origin lines", lines("origin", partner, 2), func(r policy.Request) string { return r.Origin }, partner + "," + partner},
		{"64,000 Origin lines stop at the second", lines("Origin", partner, 64000), func(r policy.Request) string { return r.Origin }, partner + "," + partner},
		{"a long first Origin keeps the comma", lines("origin", "x", 1, "origin", long), func(r policy.Request) string { return r.Origin },
			long[:maxJoinedLen-1] + ","},
		{"64,000 method lines stop at the second", lines("access-control-request-method", "PUT", 64000, "origin", partner),
			func(r policy.Request) string { return r.ACRM }, "PUT,PUT"},
		{"64,000 private-network lines stop at the second", lines("access-control-request-private-network", "true", 64000, "origin", partner),
			func(r policy.Request) string { return r.ACRPN }, "true,true"},
		{"Access-Control-Request-Headers lines joined under the cap", lines("access-control-request-headers", "x-a", 3, "origin", partner),
			func(r policy.Request) string { return r.ACRH }, "x-a,x-a,x-a"},
		{"64,000 Access-Control-Request-Headers lines stop at the cap",
			lines("access-control-request-headers", "content-type", 64000, "origin", partner),
			func(r policy.Request) string { return r.ACRH }, strings.Repeat("content-type,", 64000)[:maxJoinedLen]},
		{"64,000 :path lines stop at the second", lines(":path", "/a", 64000),
			func(r policy.Request) string { return r.Path }, "/api/v1/x"}, // http.path wins
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r policy.Request
			if !ReadRequest(tt.req, &r) {
				t.Fatal("not read")
			}
			if got := tt.want(r); got != tt.is {
				t.Errorf("value %.80q… (%d bytes), want %.80q… (%d bytes)", got, len(got), tt.is, len(tt.is))
			}
		})
	}
	if maxJoinedLen <= headers.MaxACRHLen {
		t.Fatalf("maxJoinedLen %d does not exceed headers.MaxACRHLen %d", maxJoinedLen, headers.MaxACRHLen)
	}
	// Past the caps, the allocations do not grow with the number of lines
	// (the join this replaced allocated a longer string per line).
	for _, name := range []string{"origin", "access-control-request-headers"} {
		few, many := lines(name, "content-type", 6400, "origin", partner), lines(name, "content-type", 64000, "origin", partner)
		var r policy.Request
		a := testing.AllocsPerRun(5, func() { ReadRequest(few, &r) })
		b := testing.AllocsPerRun(5, func() { ReadRequest(many, &r) })
		if b != a || a >= 640 {
			t.Errorf("%s: %v allocations for 6,400 lines, %v for 64,000", name, a, b)
		}
	}
}
