package check

import (
	"sync/atomic"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

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
// has one variant per reason (the decision metadata names it; a refused
// actual request has a handful), times one per self origin actually chosen
// (by the request's host) under deny_action self_origin. Past the bound a
// response is built per request: correct, just not free.
const maxStaticVariants = 16

// A shape is what, besides the headers and the reason, distinguishes
// static verdicts of a class: the request kind and whether it was allowed.
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
	reason  policy.Reason // in the response's decision metadata
	hdrs    []policy.Header
	enc     envoyauth.PreEncoded
}

func (sv *staticVariant) matches(v *policy.Verdict) bool {
	if sv.respond != v.Respond || sv.status != v.Status || sv.reason != v.Reason {
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
// publishing them on first use, with the decision metadata md. v
// must be a verdict with no request-derived header values. Past
// maxStaticVariants the response is built for this request alone (pre is
// nil).
func (sr *staticResponses) get(v *policy.Verdict, md *envoyauth.DecisionMetadata) (resp *authv3.CheckResponse, pre *envoyauth.PreEncoded) {
	slot := &sr.slots[shapeOf(v)]
	for {
		cur := slot.Load()
		if cur != nil {
			for _, sv := range *cur {
				if sv.matches(v) {
					return sv.enc.Response(), &sv.enc
				}
			}
		}
		var n int
		if cur != nil {
			n = len(*cur)
		}
		if n >= maxStaticVariants {
			return envoyauth.ResponseWithMetadata(v, md.Struct()), nil
		}
		resp := envoyauth.Response(v)
		sv := &staticVariant{
			respond: v.Respond,
			status:  v.Status,
			reason:  v.Reason,
			hdrs:    append([]policy.Header(nil), v.Headers()...),
		}
		sv.enc.InitWithMetadata(resp, md)
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
