package checktest

//lint:file-ignore SA1019 Envoy still honours the deprecated HeaderValueOption.append flag, so this file must read (or set) it.

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// recorder is a testing.TB that collects what AssertResponse reports.
type recorder struct {
	testing.TB // nil: calling anything not overridden panics
	mu         sync.Mutex
	errs       []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// hdr is one header mutation.
func hdr(name, value string, action corev3.HeaderValueOption_HeaderAppendAction) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: name, Value: value}, AppendAction: action}
}

const (
	overwrite = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
	appendAdd = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
)

// decision is valid decision metadata for a generation-3 policy.
func decision(kind policy.Kind, reason policy.Reason) *structpb.Struct {
	return envoyauth.Metadata(envoyauth.Decision{Class: "public-api", Kind: kind, Reason: reason,
		SHA256: "3f1c0e5a9b2d7788aa00bb11cc22dd33ee44ff5566778899aabbccddeeff0011", Generation: 3})
}

// okResp is a forwarded answer to an allowed actual request.
func okResp(hs ...*corev3.HeaderValueOption) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status:          &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse:    &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{ResponseHeadersToAdd: hs}},
		DynamicMetadata: decision(policy.Actual, policy.ReasonOriginAllowed),
	}
}

// deniedResp is an answered preflight: allowed for 204, refused otherwise.
func deniedResp(status int, hs ...*corev3.HeaderValueOption) *authv3.CheckResponse {
	md := decision(policy.Preflight, policy.ReasonOriginNotAllowed)
	if status == 204 {
		md = decision(policy.Preflight, policy.ReasonPreflightAllowed)
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.PermissionDenied)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode(status)}, Headers: hs,
		}},
		DynamicMetadata: md,
	}
}

// withDecision returns resp with the decision field k set to v ("" with
// del: removed).
func withDecision(resp *authv3.CheckResponse, k string, v *structpb.Value) *authv3.CheckResponse {
	inner := proto.Clone(resp.GetDynamicMetadata().GetFields()[envoyauth.MetadataKey].GetStructValue()).(*structpb.Struct)
	if v == nil {
		delete(inner.Fields, k)
	} else {
		inner.Fields[k] = v
	}
	resp.DynamicMetadata = &structpb.Struct{Fields: map[string]*structpb.Value{envoyauth.MetadataKey: structpb.NewStructValue(inner)}}
	return resp
}

func TestAssertResponse(t *testing.T) {
	const origin = "https://partner.example.org"
	allowed := okResp(
		hdr("access-control-allow-origin", origin, overwrite),
		hdr("access-control-allow-credentials", "true", overwrite),
		hdr("vary", "Origin", appendAdd),
	)
	tests := []struct {
		name    string
		resp    *authv3.CheckResponse
		want    Answer
		wantErr string // substring of the first reported error; "" for none
	}{
		{"allowed actual", allowed, Answer{codes.OK, 0,
			"access-control-allow-origin: " + origin + "; access-control-allow-credentials: true; vary: Origin"}, ""},
		{"forward without headers", okResp(), Answer{Code: codes.OK}, ""},
		{"preflight 204", deniedResp(204, hdr("access-control-allow-origin", origin, overwrite),
			hdr("access-control-allow-methods", "GET, PUT", overwrite), hdr("vary", "Origin", overwrite)),
			Answer{codes.PermissionDenied, 204, "access-control-allow-origin: " + origin + "; access-control-allow-methods: GET, PUT; vary: Origin"}, ""},
		{"refused 403", deniedResp(403), Answer{codes.PermissionDenied, 403, ""}, ""},
		{"403 may say Vary", deniedResp(403, hdr("vary", "Origin", overwrite)), Answer{codes.PermissionDenied, 403, "vary: Origin"}, ""},

		{"nil response", nil, Answer{Code: codes.Unknown}, "nil"},
		{"nil status", &authv3.CheckResponse{}, Answer{Code: codes.Unknown}, "nil"},
		{"OK without ok_response", &authv3.CheckResponse{Status: &rpcstatus.Status{}}, Answer{}, "without ok_response"},
		{"OK with denied_response", &authv3.CheckResponse{Status: &rpcstatus.Status{},
			HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{}}}, Answer{}, "without ok_response"},
		{"denied without denied_response", &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.PermissionDenied)}},
			Answer{Code: codes.PermissionDenied}, "without denied_response"},
		{"other gRPC status", &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.Unauthenticated)}},
			Answer{Code: codes.Unauthenticated}, "want OK or PermissionDenied"},
		{"denied 200", deniedResp(200), Answer{codes.PermissionDenied, 200, ""}, "want 204 or 403"},
		{"denied without HTTP status", deniedResp(0), Answer{codes.PermissionDenied, 0, ""}, "want 204 or 403"},
		{"denied with body", func() *authv3.CheckResponse {
			r := deniedResp(403)
			r.GetDeniedResponse().Body = "no"
			return r
		}(), Answer{codes.PermissionDenied, 403, ""}, "body"},
		{"CRLF in value", okResp(hdr("access-control-allow-origin", origin+"\r\nx-injected: 1", overwrite)),
			Answer{codes.OK, 0, "access-control-allow-origin: " + origin + "\r\nx-injected: 1"}, "byte 0xd"},
		{"NUL in value", okResp(hdr("access-control-expose-headers", "a\x00b", overwrite)),
			Answer{codes.OK, 0, "access-control-expose-headers: a\x00b"}, "byte 0x0"},
		{"tab in value", okResp(hdr("vary", "Origin,\tAccept", appendAdd)),
			Answer{codes.OK, 0, "vary: Origin,\tAccept"}, "byte 0x9"},
		{"non-ASCII in value", okResp(hdr("access-control-allow-origin", "https://bücher.example", overwrite)),
			Answer{codes.OK, 0, "access-control-allow-origin: https://bücher.example"}, "byte 0xc3"},
		{"DEL in denied header", deniedResp(204, hdr("access-control-allow-headers", "x\x7f", overwrite)),
			Answer{codes.PermissionDenied, 204, "access-control-allow-headers: x\x7f"}, "byte 0x7f"},
		{"control byte in name", okResp(hdr("x-a\nb", "1", overwrite)), Answer{codes.OK, 0, "x-a\nb: 1"}, "byte 0xa"},
		{"bad byte in ok_response.headers", &authv3.CheckResponse{
			Status: &rpcstatus.Status{},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
				Headers: []*corev3.HeaderValueOption{hdr("x-cors", "\x01", overwrite)}}},
		}, Answer{codes.OK, 0, "x-cors: \x01"}, "byte 0x1"},
		{"upper-case name", okResp(hdr("Vary", "Origin", appendAdd)), Answer{codes.OK, 0, "Vary: Origin"}, "lower case"},
		{"empty name", okResp(hdr("", "x", appendAdd)), Answer{codes.OK, 0, ": x"}, "lower case"},
		{"raw_value", okResp(&corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "vary", RawValue: []byte("Origin")},
			AppendAction: appendAdd}), Answer{codes.OK, 0, "vary: "}, "raw_value"},
		{"ACAO *", okResp(hdr("access-control-allow-origin", "*", overwrite)),
			Answer{codes.OK, 0, "access-control-allow-origin: *"}, `ACAO "*"`},
		{"ACAO null", okResp(hdr("access-control-allow-origin", "null", overwrite)),
			Answer{codes.OK, 0, "access-control-allow-origin: null"}, `ACAO "null"`},
		{"ACAO empty", okResp(hdr("access-control-allow-origin", "", overwrite)),
			Answer{codes.OK, 0, "access-control-allow-origin: "}, `ACAO ""`},
		{"two ACAO", okResp(hdr("access-control-allow-origin", origin, overwrite), hdr("access-control-allow-origin", origin, overwrite)),
			Answer{codes.OK, 0, "access-control-allow-origin: " + origin + "; access-control-allow-origin: " + origin}, "2 Access-Control-Allow-Origin"},
		{"ACAO appended", okResp(hdr("access-control-allow-origin", origin, appendAdd)),
			Answer{codes.OK, 0, "access-control-allow-origin: " + origin}, "append_action APPEND_IF_EXISTS_OR_ADD"},
		{"ACAC add if absent", okResp(hdr("access-control-allow-credentials", "true", corev3.HeaderValueOption_ADD_IF_ABSENT)),
			Answer{codes.OK, 0, "access-control-allow-credentials: true"}, "append_action ADD_IF_ABSENT"},
		{"deprecated append flag", okResp(&corev3.HeaderValueOption{
			Header: &corev3.HeaderValue{Key: "access-control-allow-origin", Value: origin}, Append: wrapperspb.Bool(false), AppendAction: overwrite}),
			Answer{codes.OK, 0, "access-control-allow-origin: " + origin}, "deprecated append"},
		{"403 grants an origin", deniedResp(403, hdr("access-control-allow-origin", origin, overwrite)),
			Answer{codes.PermissionDenied, 403, "access-control-allow-origin: " + origin}, "403 answer grants"},
		{"request mutation", &authv3.CheckResponse{
			Status: &rpcstatus.Status{},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
				HeadersToRemove: []string{"cookie"}}},
			DynamicMetadata: decision(policy.Actual, policy.ReasonOriginAllowed),
		}, Answer{Code: codes.OK}, "mutates the request"},

		// Decision metadata.
		{"before a policy is loaded", func() *authv3.CheckResponse {
			r := okResp()
			r.DynamicMetadata = envoyauth.Metadata(envoyauth.Decision{Class: "default-deny", Kind: policy.NotCORS, Reason: "no_policy"})
			return r
		}(), Answer{Code: codes.OK}, ""},
		{"no metadata", func() *authv3.CheckResponse { r := okResp(); r.DynamicMetadata = nil; return r }(), Answer{Code: codes.OK}, "want exactly the struct"},
		{"another key", func() *authv3.CheckResponse {
			r := okResp()
			r.DynamicMetadata.Fields["other"] = structpb.NewStringValue("x")
			return r
		}(), Answer{Code: codes.OK}, "want exactly the struct"},
		{"missing field", withDecision(okResp(), envoyauth.MetadataReason, nil), Answer{Code: codes.OK}, "reason"},
		{"extra field", withDecision(okResp(), "origin", structpb.NewStringValue(origin)), Answer{Code: codes.OK}, "6 fields"},
		{"number field", withDecision(okResp(), envoyauth.MetadataPolicyGeneration, structpb.NewNumberValue(3)), Answer{Code: codes.OK}, "want a string"},
		{"empty class", withDecision(okResp(), envoyauth.MetadataClass, structpb.NewStringValue("")), Answer{Code: codes.OK}, "class"},
		{"unknown kind", withDecision(okResp(), envoyauth.MetadataKind, structpb.NewStringValue("cors")), Answer{Code: codes.OK}, "kind"},
		{"reason not a word", withDecision(okResp(), envoyauth.MetadataReason, structpb.NewStringValue("header_not_allowed: x-a")), Answer{Code: codes.OK}, "reason"},
		{"generation not a number", withDecision(okResp(), envoyauth.MetadataPolicyGeneration, structpb.NewStringValue("3.0")), Answer{Code: codes.OK}, "policy_generation"},
		{"full sha256", withDecision(okResp(), envoyauth.MetadataPolicySHA256, structpb.NewStringValue(strings.Repeat("a", 64))), Answer{Code: codes.OK}, "policy_sha256"},
		{"no sha256 at generation 3", withDecision(okResp(), envoyauth.MetadataPolicySHA256, structpb.NewStringValue("")), Answer{Code: codes.OK}, "policy_sha256"},
		{"204 not an allowed preflight", func() *authv3.CheckResponse {
			r := deniedResp(204)
			r.DynamicMetadata = decision(policy.Preflight, policy.ReasonOriginNotAllowed)
			return r
		}(), Answer{codes.PermissionDenied, 204, ""}, "want an allowed preflight"},
		{"403 says allowed", func() *authv3.CheckResponse {
			r := deniedResp(403)
			r.DynamicMetadata = decision(policy.Preflight, policy.ReasonPreflightAllowed)
			return r
		}(), Answer{codes.PermissionDenied, 403, ""}, "want a refused cross-origin request"},
		{"403 to a request without Origin", func() *authv3.CheckResponse {
			r := deniedResp(403)
			r.DynamicMetadata = decision(policy.NotCORS, policy.ReasonNotCORS)
			return r
		}(), Answer{codes.PermissionDenied, 403, ""}, "want a refused cross-origin request"},
		{"ACAO for a non-CORS request", func() *authv3.CheckResponse {
			r := okResp(hdr("access-control-allow-origin", origin, overwrite))
			r.DynamicMetadata = decision(policy.NotCORS, policy.ReasonNotCORS)
			return r
		}(), Answer{codes.OK, 0, "access-control-allow-origin: " + origin}, "want actual"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			got := AssertResponse(rec, tt.resp)
			switch {
			case tt.wantErr == "" && len(rec.errs) > 0:
				t.Errorf("reported %q, want nothing", rec.errs)
			case tt.wantErr != "" && len(rec.errs) == 0:
				t.Errorf("reported nothing, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(rec.errs[0], tt.wantErr):
				t.Errorf("reported %q, want first error to contain %q", rec.errs, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Answer = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHeaderValueAndReflects(t *testing.T) {
	const origin = "https://partner.example.org"
	resp := okResp(hdr("access-control-allow-origin", origin, overwrite), hdr("vary", "Origin", appendAdd))
	if v, ok := HeaderValue(resp, "access-control-allow-origin"); !ok || v != origin {
		t.Errorf("HeaderValue(ACAO) = %q, %v", v, ok)
	}
	if v, ok := HeaderValue(resp, "access-control-allow-credentials"); ok {
		t.Errorf("HeaderValue(ACAC) = %q, present", v)
	}
	denied := deniedResp(204, hdr("access-control-allow-headers", "x-token", overwrite))
	if v, ok := HeaderValue(denied, "access-control-allow-headers"); !ok || v != "x-token" {
		t.Errorf("HeaderValue(denied ACAH) = %q, %v", v, ok)
	}
	withReq := &authv3.CheckResponse{Status: &rpcstatus.Status{}, HttpResponse: &authv3.CheckResponse_OkResponse{
		OkResponse: &authv3.OkHttpResponse{Headers: []*corev3.HeaderValueOption{hdr("x-upstream", "marker-42", overwrite)}}}}

	tests := []struct {
		resp *authv3.CheckResponse
		s    string
		want bool
	}{
		{resp, "partner.example", true},
		{resp, "Origin", true},
		{resp, "vary", true},
		{resp, "evil", false},
		{resp, "", false},
		{denied, "x-token", true},
		{denied, "partner", false},
		{withReq, "marker-42", true},
		{withDecision(okResp(), envoyauth.MetadataClass, structpb.NewStringValue("marker-77")), "marker-77", true}, // the decision metadata
		{resp, "origin_allowed", true},
		{nil, "x", false},
	}
	for _, tt := range tests {
		if got := Reflects(tt.resp, tt.s); got != tt.want {
			t.Errorf("Reflects(%v, %q) = %v, want %v", tt.resp, tt.s, got, tt.want)
		}
	}
	// Reflects must not write into the shared response's slices.
	before := len(resp.GetOkResponse().GetResponseHeadersToAdd())
	Reflects(resp, "x")
	if after := len(resp.GetOkResponse().GetResponseHeadersToAdd()); after != before {
		t.Errorf("Reflects changed the response: %d headers, was %d", after, before)
	}
}
