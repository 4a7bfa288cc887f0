package envoyauth

import (
	"strings"
	"testing"

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
		// joined with ",".
		var lines []string
		for _, hv := range h.GetHeaderMap().GetHeaders() {
			if strings.EqualFold(hv.GetKey(), "origin") {
				lines = append(lines, rawValue(hv))
			}
		}
		if (len(lines) > 0) != r.HasOrigin || strings.Join(lines, ",") != r.Origin {
			t.Fatalf("header_map Origin lines %q, view %q (%v)", lines, r.Origin, r.HasOrigin)
		}
	})
}
