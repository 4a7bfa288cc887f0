// Package envoyauth is cors-authz's translation to and from Envoy's
// ext_authz v3 messages: it reads a CheckRequest into the policy engine's
// request view (ReadRequest, both header encodings), turns a verdict into
// the CheckResponse Envoy applies (Response), keeps shared responses with
// their wire encoding (PreEncoded) for the server's codec (NewCodec), and
// builds the CheckRequest Envoy sends for an HTTP request (HTTPRequest).
//
// The gRPC service (pkg/check), `cors-authz explain`, `cors-authz check`,
// the tests and the benchmarks all go through it, so what an operator view
// shows is what the service sees and answers. It knows nothing of policy
// snapshots, caches or metrics.
package envoyauth

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

// ReadRequest fills r with the policy engine's view of an Envoy CheckRequest
// and reports whether the request carried the HTTP attributes Envoy always
// sends (attributes.request.http). When it did not, r is left zero and the
// caller answers with a default deny; nothing here panics on nil messages
// (the generated getters are nil-safe).
//
// Headers come from attributes.request.http.headers, where Envoy lower-cases
// names and joins repeated headers with ",". When that map is empty and
// header_map is set (Envoy's encode_raw_headers: true), they come from
// header_map instead: raw bytes, names as sent, repeated names on separate
// entries, which ReadRequest joins with "," itself so that two Origin lines
// become one invalid origin, exactly as with the map encoding.
//
// The map path, which every Envoy without encode_raw_headers takes, only
// does map lookups and does not allocate.
//
// ReadRequest extracts the fields (fields.fromMessage) and then assembles
// the view (fields.assemble); a decoder that reads the wire format directly
// extracts the same fields and shares the assembly, so both give the same
// view for every message.
func ReadRequest(req *authv3.CheckRequest, r *policy.Request) bool {
	var f fields
	if !f.fromMessage(req) {
		*r = policy.Request{}
		return false
	}
	f.assemble(r)
	return true
}

// fields are what a decision reads from a CheckRequest, before assembly:
// the request-line fields of attributes.request.http, the class hint, and
// the values of the headers in slotNames, from either encoding.
type fields struct {
	method, scheme, host, path string // attributes.request.http.{method,scheme,host,path}
	class                      string // attributes.context_extensions[ClassHintKey]

	// hdr[i] is the value of header slotNames[i]; seen[i] whether it was
	// present at all (an empty Origin is still an Origin).
	hdr  [numSlots]string
	seen [numSlots]bool
}

// fromMessage extracts the fields of a decoded CheckRequest and reports
// whether it has attributes.request.http.
func (f *fields) fromMessage(req *authv3.CheckRequest) bool {
	attrs := req.GetAttributes()
	h := attrs.GetRequest().GetHttp()
	if h == nil {
		return false
	}
	f.class = attrs.GetContextExtensions()[ClassHintKey]
	f.method, f.scheme, f.host, f.path = h.GetMethod(), h.GetScheme(), h.GetHost(), h.GetPath()
	if hdrs := h.GetHeaders(); len(hdrs) > 0 {
		// Map keys are exact: Envoy lower-cases them. Only the headers
		// assemble uses are looked up (the map path is the hot one): the
		// Access-Control-Request-* headers with an Origin, a pseudo-header
		// when its request-line field is empty.
		f.mapValue(hdrs, slotOrigin)
		if f.seen[slotOrigin] {
			f.mapValue(hdrs, slotACRM)
			f.mapValue(hdrs, slotACRH)
			f.mapValue(hdrs, slotACRPN)
		}
		if f.method == "" {
			f.mapValue(hdrs, slotMethod)
		}
		if f.scheme == "" {
			f.mapValue(hdrs, slotScheme)
		}
		if f.host == "" {
			f.mapValue(hdrs, slotAuthority)
		}
		if f.path == "" {
			f.mapValue(hdrs, slotPath)
		}
		return true
	}
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		f.rawLine(hv.GetKey(), rawValue(hv))
	}
	return true
}

// mapValue records header slot i from the headers map.
func (f *fields) mapValue(hdrs map[string]string, i int) {
	f.hdr[i], f.seen[i] = hdrs[slotNames[i]]
}

// rawValue is the value of one header_map entry: raw_value is what Envoy
// fills with encode_raw_headers; value is accepted too, for clients that
// build the message by hand.
func rawValue(hv *corev3.HeaderValue) string {
	if v := hv.GetRawValue(); len(v) > 0 {
		return string(v)
	}
	return hv.GetValue()
}

// rawLine records one header_map line (name as sent, value raw). Lines of
// headers a decision does not read are ignored.
func (f *fields) rawLine(name, val string) {
	i := slotOf(name)
	if i < 0 {
		return
	}
	if f.seen[i] {
		// Repeated field lines: combine them as Envoy's map encoding
		// and RFC 9110 §5.3 do. A repeated Origin thereby becomes an
		// invalid origin, never one of the two values.
		f.hdr[i] = f.hdr[i] + "," + val
		return
	}
	f.hdr[i], f.seen[i] = val, true
}

// assemble turns the extracted fields into the policy's request view.
func (f *fields) assemble(r *policy.Request) {
	*r = policy.Request{ClassHint: f.class}
	// A request without Origin is not a CORS request (Fetch §3.2), so its
	// Access-Control-Request-* headers mean nothing and are not read: most
	// traffic has no Origin.
	if r.Origin, r.HasOrigin = f.hdr[slotOrigin], f.seen[slotOrigin]; r.HasOrigin {
		r.ACRM = f.hdr[slotACRM]
		r.ACRH = f.hdr[slotACRH]
		r.ACRPN = f.hdr[slotACRPN]
	}
	// Envoy sets the request-line fields; the pseudo-headers are used only
	// when a field is missing.
	r.Method = firstNonEmpty(f.method, f.hdr[slotMethod])
	r.Scheme = firstNonEmpty(f.scheme, f.hdr[slotScheme])
	r.Host = firstNonEmpty(f.host, f.hdr[slotAuthority])
	r.Path = firstNonEmpty(f.path, f.hdr[slotPath])
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Slots of the headers a decision reads.
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

// slotOf returns the slot of a header_map name (compared
// case-insensitively, as header_map keys keep the case the client sent on
// HTTP/1), or -1.
func slotOf(name string) int {
	for i, n := range slotNames {
		if len(n) == len(name) && strings.EqualFold(n, name) {
			return i
		}
	}
	return -1
}
