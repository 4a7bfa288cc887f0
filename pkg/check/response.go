package check

import (
	"sync/atomic"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// buildResponse turns a verdict into the CheckResponse Envoy applies.
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
func buildResponse(v *policy.Verdict) *authv3.CheckResponse {
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

// Static responses.
//
// Most verdicts carry nothing taken from the request: not_cors and
// same_origin (at most "Vary: Origin"), every denied verdict (no CORS
// headers, a 403, or deny_action self_origin's ACAO, which is one of the
// policy's self_origins). Their responses are built once per snapshot,
// class and shape on first use and shared from then on, so a flood of
// denied or non-CORS requests allocates nothing for its answers and never
// touches the verdict cache.
//
// Allowed cross-origin verdicts echo the request's Origin; they go through
// the verdict cache instead (cache.go).

// maxStaticVariants bounds the responses kept per (class, shape). A shape
// has one variant except deny_action self_origin, which has one per self
// origin actually chosen (by the request's host). Past the bound a response
// is built per request: correct, just not free.
const maxStaticVariants = 8

// A shape is what, besides the headers, distinguishes static verdicts of a
// class: the request kind and whether it was allowed.
func shapeOf(v *policy.Verdict) int {
	s := int(v.Kind) * 2
	if v.Allowed {
		s++
	}
	return s
}

const numShapes = int(policy.Preflight)*2 + 2

type staticVariant struct {
	respond bool
	status  int
	hdrs    []policy.Header
	enc     PreEncoded
}

func (sv *staticVariant) matches(v *policy.Verdict) bool {
	if sv.respond != v.Respond || sv.status != v.Status {
		return false
	}
	hs := v.Headers()
	if len(hs) != len(sv.hdrs) {
		return false
	}
	for i := range hs {
		if hs[i] != sv.hdrs[i] {
			return false
		}
	}
	return true
}

// staticResponses holds a class's shared static responses. Each slot is a
// copy-on-write list: readers load it without locking.
type staticResponses struct {
	slots [numShapes]atomic.Pointer[[]*staticVariant]
}

// get returns the shared response for v and its encoding, building and
// publishing them on first use. v must be a verdict with no request-derived
// header values. Past maxStaticVariants the response is built for this
// request alone (pre is nil).
func (sr *staticResponses) get(v *policy.Verdict) (resp *authv3.CheckResponse, pre *PreEncoded) {
	slot := &sr.slots[shapeOf(v)]
	for {
		cur := slot.Load()
		if cur != nil {
			for _, sv := range *cur {
				if sv.matches(v) {
					return sv.enc.resp, &sv.enc
				}
			}
		}
		var n int
		if cur != nil {
			n = len(*cur)
		}
		resp := buildResponse(v)
		if n >= maxStaticVariants {
			return resp, nil
		}
		sv := &staticVariant{
			respond: v.Respond,
			status:  v.Status,
			hdrs:    append([]policy.Header(nil), v.Headers()...),
		}
		sv.enc.init(resp)
		next := make([]*staticVariant, n, n+1)
		if cur != nil {
			copy(next, *cur)
		}
		next = append(next, sv)
		if slot.CompareAndSwap(cur, &next) {
			return resp, &sv.enc
		}
		// Another request published first; look again (it may be ours).
	}
}
