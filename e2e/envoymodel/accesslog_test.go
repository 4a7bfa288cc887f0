package envoymodel

import (
	"context"
	"net/http"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cors-authz/cors-authz/internal/logtest"
)

func TestParseLogFormat(t *testing.T) {
	tests := []struct {
		format string
		ops    int    // operators and literals
		err    string // "" for none
	}{
		{"plain\n", 1, ""},
		{"%START_TIME% %REQ(:METHOD)% %RESPONSE_CODE%\n", 6, ""},
		{"%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", 1, ""},
		{"%REQ(ORIGIN):256%", 1, ""},
		{"%DYNAMIC_METADATA(envoy.filters.http.ext_authz:cors_authz:class)%", 1, ""},
		{"%UPSTREAM_HOST%", 0, "not modelled"},
		{"%START_TIME(%s)%", 0, "takes no argument"}, // a date format
		{"%RESPONSE_CODE(x)%", 0, "takes no argument"},
		{"%REQ()%", 0, "needs a header name"},
		{"%DYNAMIC_METADATA(ns)%", 0, "needs NAMESPACE:KEY"},
		{"100% sure", 0, "not a command operator"},
	}
	for _, tt := range tests {
		ops, err := parseLogFormat(tt.format)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.format, err, tt.err)
			}
			continue
		}
		if err != nil || len(ops) != tt.ops {
			t.Errorf("%q: %d ops, %v; want %d", tt.format, len(ops), err, tt.ops)
		}
	}
}

func TestFormatLine(t *testing.T) {
	md, err := structpb.NewStruct(map[string]any{
		"cors_authz": map[string]any{"class": "public-api", "generation": 3, "nested": map[string]any{"a": "b"}},
		"other":      "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	si := &streamInfo{
		method: "OPTIONS", path: "/api/v1/users", protocol: "HTTP/1.1",
		reqHdr:   http.Header{"Origin": {"https://partner.example.org"}, "X-Long": {strings.Repeat("a", 300)}},
		respHdr:  http.Header{"Access-Control-Allow-Origin": {"https://partner.example.org"}},
		code:     204,
		flags:    "UAEX",
		details:  "ext_authz_denied",
		metadata: map[string]*structpb.Struct{extAuthzMetadataNamespace: md},
	}
	const ns = "envoy.filters.http.ext_authz"
	tests := []struct{ format, want string }{
		{"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%", "OPTIONS /api/v1/users HTTP/1.1"},
		{"%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%", "204 UAEX ext_authz_denied"},
		{"%REQ(origin)% %RESP(access-control-allow-origin)% %REQ(x-absent)%", "https://partner.example.org https://partner.example.org -"},
		{"%REQ(X-LONG):5%", "aaaaa"},
		{"%DYNAMIC_METADATA(" + ns + ":cors_authz:class)%", "public-api"},
		{"%DYNAMIC_METADATA(" + ns + ":cors_authz:generation)%", "3"},
		{"%DYNAMIC_METADATA(" + ns + ":cors_authz:nested)%", `{"a":"b"}`},
		{"%DYNAMIC_METADATA(" + ns + ":cors_authz:absent)% %DYNAMIC_METADATA(" + ns + ":other:deeper)% %DYNAMIC_METADATA(nope:x)%", "- - -"},
		{"%DYNAMIC_METADATA(" + ns + ":cors_authz:class):6%", "public"},
	}
	for _, tt := range tests {
		ops, err := parseLogFormat(tt.format)
		if err != nil {
			t.Fatalf("%q: %v", tt.format, err)
		}
		if got := formatLine(ops, si); got != tt.want {
			t.Errorf("%q = %q, want %q", tt.format, got, tt.want)
		}
	}
	// Nothing decided: no flags, no details, no metadata.
	ops, _ := parseLogFormat("%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %DYNAMIC_METADATA(" + ns + ":cors_authz:class)%")
	if got := formatLine(ops, &streamInfo{}); got != "- - -" {
		t.Errorf("empty stream info: %q", got)
	}
}

// The proxy logs every request: the ext_authz answer's dynamic metadata
// (OK and denied; none on errors), the flags and details of each outcome.
func TestAccessLog(t *testing.T) {
	meta := func(class string) *structpb.Struct {
		s, _ := structpb.NewStruct(map[string]any{"cors_authz": map[string]any{"class": class}})
		return s
	}
	answer := func(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		h := req.GetAttributes().GetRequest().GetHttp()
		switch {
		case h.GetMethod() == "OPTIONS":
			resp := denied(codes.PermissionDenied, typev3.StatusCode_NoContent, "")
			resp.DynamicMetadata = meta("preflight-class")
			return resp, nil
		case strings.HasPrefix(h.GetPath(), "/api/v1/nometa"):
			return okWith(), nil
		}
		resp := okWith()
		resp.DynamicMetadata = meta(req.GetAttributes().GetContextExtensions()["cors_class"])
		return resp, nil
	}
	authz := startFakeAuthz(t, answer)
	up := startUpstream(t, nil)
	var buf logtest.Lines // the access log
	format := `%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% class=%DYNAMIC_METADATA(envoy.filters.http.ext_authz:cors_authz:class)%` + "\n"
	p := startProxy(t, Config{AccessLogFormat: format, AccessLog: &buf}, up, authz.addr)
	dead := startProxy(t, Config{AccessLogFormat: format, AccessLog: &buf, Routes: testRoutes}, up, deadAddr(t))

	tests := []struct {
		method, url, want string
	}{
		{"GET", p.URL + "/api/v1/users", "GET /api/v1/users 200 - via_upstream class=public-api"},
		{"OPTIONS", p.URL + "/api/v1/users", "OPTIONS /api/v1/users 204 UAEX ext_authz_denied class=preflight-class"},
		{"GET", p.URL + "/admin/../internal", "GET /internal 200 - via_upstream class=internal"},
		{"GET", p.URL + "/api/v1/nometa", "GET /api/v1/nometa 200 - via_upstream class=-"},
		{"GET", p.URL + "/healthz", "GET /healthz 200 - via_upstream class=-"}, // no check on this route
		{"GET", dead.URL + "/api/v1/users", "GET /api/v1/users 403 UAEX ext_authz_error class=-"},
	}
	for _, tt := range tests {
		buf.Reset()
		do(t, tt.method, tt.url, nil)
		if got := buf.WaitLine(t); got != tt.want+"\n" {
			t.Errorf("%s %s: logged %q, want %q", tt.method, tt.url, got, tt.want+"\n")
		}
	}
	noRoute := startProxy(t, Config{AccessLogFormat: format, AccessLog: &buf, Routes: []Route{{Prefix: "/only"}}}, up, authz.addr)
	buf.Reset()
	do(t, "GET", noRoute.URL+"/elsewhere", nil)
	if got, want := buf.WaitLine(t), "GET /elsewhere 404 NR route_not_found class=-\n"; got != want {
		t.Errorf("no route: logged %q, want %q", got, want)
	}
}

// FuzzParseLogFormat: any format is parsed or refused with an error, never
// a panic, and a parsed one formats any stream.
func FuzzParseLogFormat(f *testing.F) {
	for _, s := range []string{
		"%START_TIME% %REQ(:METHOD)% %RESPONSE_CODE%\n",
		"%REQ(X-ENVOY-ORIGINAL-PATH?:PATH):10%",
		"%DYNAMIC_METADATA(envoy.filters.http.ext_authz:cors_authz:class)%",
		"%", "%%", "%REQ(%", "%DYNAMIC_METADATA(:)%", "100% %RESP()%",
	} {
		f.Add(s)
	}
	md, _ := structpb.NewStruct(map[string]any{"cors_authz": map[string]any{"class": "c"}})
	si := &streamInfo{reqHdr: http.Header{"Origin": {"o"}}, respHdr: http.Header{}, metadata: map[string]*structpb.Struct{extAuthzMetadataNamespace: md}}
	f.Fuzz(func(t *testing.T, format string) {
		ops, err := parseLogFormat(format)
		if err != nil {
			return
		}
		_ = formatLine(ops, si)
		_ = formatLine(ops, &streamInfo{})
	})
}
