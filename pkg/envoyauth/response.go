package envoyauth

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Response returns the CheckResponse the service sends for v: the exact
// status and header mutations Envoy applies. `cors-authz explain` and the
// admin page use it too, so what they show is what Envoy gets.
//
// Forwarded verdicts (!v.Respond) answer gRPC OK with the verdict's headers
// in ok_response.response_headers_to_add, which Envoy applies to the
// upstream's response (and to local replies generated after ext_authz).
// Access-Control-* headers are sent with OVERWRITE_IF_EXISTS_OR_ADD, so an
// upstream's own value is replaced and never comma-joined into an invalid
// second origin; Vary with APPEND_IF_EXISTS_OR_ADD, so the upstream's Vary
// survives. The deprecated append BoolValue is left unset: Envoy ≥1.31 then
// honours append_action, and 1.21–1.30 treat unset as "set" (overwrite).
//
// Answered verdicts (v.Respond: a preflight, or deny_action reject) answer
// gRPC PERMISSION_DENIED with denied_response: Envoy sends a local reply
// with v.Status (204 or 403), the headers, and an empty body (so no
// content-type or content-length). On a local reply there is no upstream
// value to keep, and Envoy 1.31–1.36 apply only "set" entries there, so
// every header of an answered verdict is sent with OVERWRITE_IF_EXISTS_OR_ADD.
//
// The result is immutable once returned: callers share it between requests.
func Response(v *policy.Verdict) *authv3.CheckResponse {
	hs := v.Headers()
	var opts []*corev3.HeaderValueOption
	if len(hs) > 0 {
		// One allocation for the entries, one for the list of pointers.
		entries := make([]headerEntry, len(hs))
		opts = make([]*corev3.HeaderValueOption, len(hs))
		for i, h := range hs {
			e := &entries[i]
			e.val.Key, e.val.Value = h.Name, h.Value
			e.opt.Header = &e.val
			e.opt.AppendAction = appendAction(h.Mode, v.Respond)
			opts[i] = &e.opt
		}
	}
	if !v.Respond {
		m := new(okMessages)
		m.ok.ResponseHeadersToAdd = opts
		m.oneof.OkResponse = &m.ok
		m.status.Code = int32(codes.OK)
		m.resp.Status = &m.status
		m.resp.HttpResponse = &m.oneof
		return &m.resp
	}
	m := new(deniedMessages)
	m.httpStatus.Code = typev3.StatusCode(v.Status)
	m.denied.Status = &m.httpStatus
	m.denied.Headers = opts
	m.oneof.DeniedResponse = &m.denied
	m.status.Code = int32(codes.PermissionDenied)
	m.resp.Status = &m.status
	m.resp.HttpResponse = &m.oneof
	return &m.resp
}

// The messages of one response, allocated together: a response is built
// whole and never changed, so its parts share one lifetime. (Fields are
// set in place; no message is ever copied.)
type (
	headerEntry struct {
		val corev3.HeaderValue
		opt corev3.HeaderValueOption
	}
	okMessages struct {
		resp   authv3.CheckResponse
		status rpcstatus.Status
		oneof  authv3.CheckResponse_OkResponse
		ok     authv3.OkHttpResponse
	}
	deniedMessages struct {
		resp       authv3.CheckResponse
		status     rpcstatus.Status
		oneof      authv3.CheckResponse_DeniedResponse
		denied     authv3.DeniedHttpResponse
		httpStatus typev3.HttpStatus
	}
)

func appendAction(m policy.HeaderMode, respond bool) corev3.HeaderValueOption_HeaderAppendAction {
	if m == policy.Append && !respond {
		return corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
	}
	return corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
}
