package envoyauth

import (
	"slices"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// FuzzReadRequest reads arbitrary CheckRequest bytes. Whatever arrives,
// ReadRequest does not panic, reports ok exactly when
// attributes.request.http is present (and then leaves a zero view), reads
// no Access-Control-Request-* header without an Origin, takes the request
// line from http's fields before the pseudo-headers, and with the map
// encoding reads the Origin exactly as the map holds it.
func FuzzReadRequest(f *testing.F) {
	for _, tc := range readRequestCases() {
		if tc.req == nil {
			continue
		}
		data, err := proto.Marshal(tc.req)
		if err != nil {
			continue // raw invalid UTF-8 values in string fields
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte("\x0a\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req authv3.CheckRequest
		if err := proto.Unmarshal(data, &req); err != nil {
			return
		}
		var r policy.Request
		ok := ReadRequest(&req, &r)
		h := req.GetAttributes().GetRequest().GetHttp()
		if ok != (h != nil) {
			t.Fatalf("ok %v with http %v", ok, h)
		}
		if !ok {
			if r != (policy.Request{}) {
				t.Fatalf("no http attributes, view %+v", r)
			}
			return
		}
		if !r.HasOrigin && (r.Origin != "" || r.ACRM != "" || r.ACRH != "" || r.ACRPN != "") {
			t.Fatalf("Access-Control-Request-* read without an Origin: %+v", r)
		}
		if h.GetMethod() != "" && r.Method != h.GetMethod() || h.GetPath() != "" && r.Path != h.GetPath() ||
			h.GetHost() != "" && r.Host != h.GetHost() || h.GetScheme() != "" && r.Scheme != h.GetScheme() {
			t.Fatalf("request line %+v does not come from http's fields %v", r, h)
		}
		if r.ClassHint != req.GetAttributes().GetContextExtensions()[ClassHintKey] {
			t.Fatalf("class hint %q", r.ClassHint)
		}
		if hdrs := h.GetHeaders(); len(hdrs) > 0 {
			if o, has := hdrs["origin"]; o != r.Origin || has != r.HasOrigin {
				t.Fatalf("map Origin %q (%v), view %q (%v)", o, has, r.Origin, r.HasOrigin)
			}
			return
		}
		// header_map: the Origin is the lines named origin (any case),
		// joined with "," (the first two: a second line already makes it
		// invalid), at most maxJoinedLen bytes.
		var lines []string
		for _, hv := range h.GetHeaderMap().GetHeaders() {
			if strings.EqualFold(hv.GetKey(), "origin") {
				lines = append(lines, rawValue(hv))
			}
		}
		if (len(lines) > 0) != r.HasOrigin || cappedJoin(lines, true) != r.Origin {
			t.Fatalf("header_map Origin lines %q, view %q (%v)", lines, r.Origin, r.HasOrigin)
		}
	})
}

// cappedJoin is how header_map lines of one header join, written plainly:
// one line as it is; more joined with ",", only the first two of a header
// that occurs once (once), the first line cut to leave room for a comma,
// the whole cut at maxJoinedLen bytes.
func cappedJoin(lines []string, once bool) string {
	switch len(lines) {
	case 0:
		return ""
	case 1:
		return lines[0]
	}
	if once && len(lines) > 2 {
		lines = lines[:2]
	}
	first := lines[0]
	if len(first) > maxJoinedLen-1 {
		first = first[:maxJoinedLen-1]
	}
	s := strings.Join(append([]string{first}, lines[1:]...), ",")
	if len(s) > maxJoinedLen {
		s = s[:maxJoinedLen]
	}
	return s
}

// joinPolicy has a class that checks Access-Control-Request-Headers by name
// and one that echoes them ("*"), so that the header list decides.
const joinPolicy = `version: 1
classes:
  - name: listed
    match: {path_prefixes: [/listed/]}
    allow_origins: [https://partner.example.org]
    allow_methods: [PUT, patch]
    allow_headers: [content-type, x-a]
    allow_private_network: true
  - name: star
    match: {path_prefixes: [/star/]}
    allow_origins: [https://partner.example.org]
    allow_methods: [PUT]
    allow_headers: ["*"]
  - name: internal
    match: {path_prefixes: [/]}
`

// FuzzHeaderMapJoin (issue 11 item 4): however many header_map lines
// carry the CORS request headers, and whatever they hold, the capped and
// early-stopped join decides exactly as the plain join of every line
// would (the quadratic reading this replaced): same class, kind, reason,
// status and headers. The fuzzer's bytes become the lines: each byte
// picks a header (any case, or a header no decision reads) and a value;
// a count byte repeats a line up to 2,000 times so the caps are reached.
func FuzzHeaderMapJoin(f *testing.F) {
	f.Add([]byte{0, 0}, "/listed/x", "PUT")
	f.Add([]byte{0, 0, 0, 0}, "/listed/x", "PUT")
	f.Add([]byte{0, 0, 2, 1, 2, 2}, "/star/x", "PUT")
	f.Add([]byte{0, 0, 2, 255, 3, 0}, "/star/x", "PUT")
	f.Add([]byte{0, 0, 1, 0, 1, 1, 4, 0}, "/listed/x", "")
	f.Add([]byte{0, 0, 3, 0, 3, 0}, "/listed/x", "PUT")
	f.Add([]byte{0, 0, 0x82, 7}, "/star/x", "PUT")      // 57 long ACRH lines: over the cap
	f.Add([]byte{0, 0, 0x82, 2}, "/listed/x", "PUT")    // 17 ACRH lines of x-a, X-B
	f.Add([]byte{0x85, 0x10, 2, 2}, "/listed/x", "PUT") // 129 Origin lines
	p, _, err := policy.Parse("join.yaml", []byte(joinPolicy))
	if err != nil {
		f.Fatal(err)
	}
	names := []string{"origin", "access-control-request-method", "access-control-request-headers",
		"access-control-request-private-network", "Access-Control-Request-Headers", "ORIGIN", "x-other"}
	values := []string{partner, "PUT", "content-type", "true", "x-a, X-B", "", "patch", strings.Repeat("x", 300), "TRUE", ","}
	f.Fuzz(func(t *testing.T, data []byte, path, acrm string) {
		hm := &corev3.HeaderMap{}
		if acrm != "" {
			hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: "access-control-request-method", RawValue: []byte(acrm)})
		}
		plain := map[string][]string{}
		for i := 0; i+1 < len(data) && len(hm.Headers) < 20000; i += 2 {
			name, val := names[int(data[i])%len(names)], values[int(data[i+1])%len(values)]
			reps := 1
			if data[i]&0x80 != 0 {
				reps = 1 + int(data[i+1])*8
			}
			for range reps {
				hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: name, RawValue: []byte(val)})
			}
		}
		for _, hv := range hm.Headers {
			k := strings.ToLower(hv.GetKey())
			plain[k] = append(plain[k], string(hv.GetRawValue()))
		}
		var got policy.Request
		if !ReadRequest(httpReq(&authv3.AttributeContext_HttpRequest{
			Method: "OPTIONS", Scheme: "https", Host: "api.example.com", Path: path, HeaderMap: hm}), &got) {
			t.Fatal("not read")
		}
		for _, v := range []string{got.Origin, got.ACRM, got.ACRH, got.ACRPN} {
			if len(v) > maxJoinedLen && strings.Contains(v, ",") {
				t.Fatalf("joined value of %d bytes, cap %d", len(v), maxJoinedLen)
			}
		}
		// The plain reading: every line joined.
		want := policy.Request{Method: "OPTIONS", Scheme: "https", Host: "api.example.com", Path: path}
		if o, ok := plain["origin"]; ok {
			want.Origin, want.HasOrigin = strings.Join(o, ","), true
			want.ACRM = strings.Join(plain["access-control-request-method"], ",")
			want.ACRH = strings.Join(plain["access-control-request-headers"], ",")
			want.ACRPN = strings.Join(plain["access-control-request-private-network"], ",")
		}
		if got.HasOrigin != want.HasOrigin {
			t.Fatalf("HasOrigin %v, plain %v", got.HasOrigin, want.HasOrigin)
		}
		v, w := p.Decide(&got), p.Decide(&want)
		if v.Class != w.Class || v.Kind != w.Kind || v.Allowed != w.Allowed || v.Respond != w.Respond || v.Status != w.Status ||
			v.Reason != w.Reason || !slices.Equal(v.Headers(), w.Headers()) {
			t.Fatalf("capped join: %s %v %s %v; plain join: %s %v %s %v\ncapped %+.200v\nplain  %+.200v",
				v.Class.Name, v.Kind, v.ReasonText(), v.Headers(), w.Class.Name, w.Kind, w.ReasonText(), w.Headers(), got, want)
		}
	})
}
