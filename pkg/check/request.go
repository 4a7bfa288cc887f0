package check

import (
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// ClassHintKey is the context_extensions key that names a request's class
// (set per route in Envoy: ExtAuthzPerRoute.check_settings.context_extensions).
const ClassHintKey = "cors_class"

// The request headers a CORS decision reads, as Envoy names them (lower
// case; pseudo-headers carry the request line).
const (
	hdrOrigin    = "origin"
	hdrACRM      = "access-control-request-method"
	hdrACRH      = "access-control-request-headers"
	hdrACRPN     = "access-control-request-private-network"
	hdrAuthority = ":authority"
	hdrPath      = ":path"
	hdrMethod    = ":method"
	hdrScheme    = ":scheme"
)

// viewRequest fills r with the policy engine's view of an Envoy CheckRequest
// and reports whether the request carried the HTTP attributes Envoy always
// sends (attributes.request.http). When it did not, r is left zero and the
// caller answers with a default deny; nothing here panics on nil messages
// (the generated getters are nil-safe).
//
// Headers come from attributes.request.http.headers, where Envoy lower-cases
// names and joins repeated headers with ",". When that map is empty and
// header_map is set (Envoy's encode_raw_headers: true), they come from
// header_map instead: raw bytes, names as sent, repeated names on separate
// entries, which viewRequest joins with "," itself so that two Origin lines
// become one invalid origin, exactly as with the map encoding.
//
// The map path, which every Envoy without encode_raw_headers takes, only
// does map lookups and does not allocate.
func viewRequest(req *authv3.CheckRequest, r *policy.Request) bool {
	attrs := req.GetAttributes()
	h := attrs.GetRequest().GetHttp()
	if h == nil {
		return false
	}
	r.ClassHint = attrs.GetContextExtensions()[ClassHintKey]

	if hdrs := h.GetHeaders(); len(hdrs) > 0 {
		// A request without Origin is not a CORS request (Fetch §3.2),
		// so its Access-Control-Request-* headers mean nothing and are
		// not read: most traffic has no Origin.
		if r.Origin, r.HasOrigin = hdrs[hdrOrigin]; r.HasOrigin {
			r.ACRM = hdrs[hdrACRM]
			r.ACRH = hdrs[hdrACRH]
			r.ACRPN = hdrs[hdrACRPN]
		}
		// Envoy sets the request-line fields; the pseudo-headers are
		// looked up only when a field is missing.
		if r.Method = h.GetMethod(); r.Method == "" {
			r.Method = hdrs[hdrMethod]
		}
		if r.Scheme = h.GetScheme(); r.Scheme == "" {
			r.Scheme = hdrs[hdrScheme]
		}
		if r.Host = h.GetHost(); r.Host == "" {
			r.Host = hdrs[hdrAuthority]
		}
		if r.Path = h.GetPath(); r.Path == "" {
			r.Path = hdrs[hdrPath]
		}
		return true
	}

	var raw rawHeaders
	raw.read(h.GetHeaderMap().GetHeaders())
	if r.Origin, r.HasOrigin = raw.v[slotOrigin], raw.seen[slotOrigin]; r.HasOrigin {
		r.ACRM = raw.v[slotACRM]
		r.ACRH = raw.v[slotACRH]
		r.ACRPN = raw.v[slotACRPN]
	}
	r.Method = firstNonEmpty(h.GetMethod(), raw.v[slotMethod])
	r.Scheme = firstNonEmpty(h.GetScheme(), raw.v[slotScheme])
	r.Host = firstNonEmpty(h.GetHost(), raw.v[slotAuthority])
	r.Path = firstNonEmpty(h.GetPath(), raw.v[slotPath])
	return true
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Slots of the headers read from a header_map.
const (
	slotOrigin = iota
	slotACRM
	slotACRH
	slotACRPN
	slotAuthority
	slotPath
	slotMethod
	slotScheme
	numSlots
)

var slotNames = [numSlots]string{
	slotOrigin:    hdrOrigin,
	slotACRM:      hdrACRM,
	slotACRH:      hdrACRH,
	slotACRPN:     hdrACRPN,
	slotAuthority: hdrAuthority,
	slotPath:      hdrPath,
	slotMethod:    hdrMethod,
	slotScheme:    hdrScheme,
}

// rawHeaders collects the headers a decision reads from Envoy's header_map
// encoding.
type rawHeaders struct {
	v    [numSlots]string
	seen [numSlots]bool
}

func (rh *rawHeaders) read(list []*corev3.HeaderValue) {
	for _, hv := range list {
		i := slotOf(hv.GetKey())
		if i < 0 {
			continue
		}
		// raw_value is what Envoy fills with encode_raw_headers; value is
		// accepted too, for clients that build the message by hand.
		val := string(hv.GetRawValue())
		if val == "" {
			val = hv.GetValue()
		}
		if rh.seen[i] {
			// Repeated field lines: combine them as Envoy's map encoding
			// and RFC 9110 §5.3 do. A repeated Origin thereby becomes an
			// invalid origin, never one of the two values.
			rh.v[i] = rh.v[i] + "," + val
			continue
		}
		rh.v[i], rh.seen[i] = val, true
	}
}

// slotOf returns the slot of a header name (compared case-insensitively, as
// header_map keys keep the case the client sent on HTTP/1), or -1.
func slotOf(name string) int {
	for i, n := range slotNames {
		if len(n) == len(name) && strings.EqualFold(n, name) {
			return i
		}
	}
	return -1
}
