package envoymodel

import (
	"fmt"
	"io"
	"net/http"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// LocalReplyFilter models an HTTP filter that answers some requests itself
// with a local reply instead of passing them on: jwt_authn's 401, rbac's
// 403, local_ratelimit's 429. Filters run in Config.Filters order, each
// before or after ext_authz in the decoder chain.
type LocalReplyFilter struct {
	// Name is the filter's name, for messages (e.g. envoy.filters.http.jwt_authn).
	Name string
	// BeforeExtAuthz places the filter ahead of ext_authz in the chain.
	BeforeExtAuthz bool
	// Status is the local reply's status (401, 403, 429, ...).
	Status int
	// Headers are the filter's own reply headers (e.g. www-authenticate).
	Headers map[string]string
	// Body is the reply body (text/plain).
	Body string
	// Reject decides whether the filter refuses this request; nil refuses
	// every request.
	Reject func(method, path string, h http.Header) bool
}

func (f *LocalReplyFilter) rejects(d *downstream) bool {
	return f.Reject == nil || f.Reject(d.method, d.path, d.header)
}

// firstRejecting returns the first filter on the given side of ext_authz
// that refuses the request, or nil.
func (c *compiled) firstRejecting(d *downstream, before bool) *LocalReplyFilter {
	for i := range c.Filters {
		f := &c.Filters[i]
		if f.BeforeExtAuthz == before && f.rejects(d) {
			return f
		}
	}
	return nil
}

// filterReply sends a filter's local reply through the encoder chain as
// Envoy does (DownstreamFilterManager::sendLocalReply →
// sendLocalReplyViaFilterChain → encodeHeaders from the first encoder
// filter): the route's response header rules, the filter's own headers, and
// then every encoder filter, ext_authz among them. ext_authz's
// encodeHeaders adds the response_headers_to_add it stored when its check
// came back OK (Filter::onComplete); respAdd is nil when the check did not
// run (filter before ext_authz, route with ext_authz disabled) or did not
// return OK (failure_mode_allow), and then the reply carries no CORS headers.
func (p *Proxy) filterReply(w http.ResponseWriter, r *http.Request, rt *Route, f *LocalReplyFilter, respAdd []*corev3.HeaderValueOption) {
	h := w.Header()
	if rt != nil {
		for _, name := range rt.ResponseHeadersToRemove {
			h.Del(name)
		}
	}
	for k, v := range f.Headers {
		h.Set(k, v)
	}
	applyResponseHeadersToAdd(h, respAdd)
	if f.Body != "" {
		h.Set("content-length", fmt.Sprint(len(f.Body)))
		h.Set("content-type", "text/plain")
	}
	h.Set("server", "envoy")
	w.WriteHeader(f.Status)
	if f.Body != "" && r.Method != http.MethodHead {
		_, _ = io.WriteString(w, f.Body)
	}
}
