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

	"github.com/cors-authz/cors-authz/internal/headers"
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
// become one invalid origin, exactly as with the map encoding. Joining
// takes linear time whatever the number of lines: it stops where the value
// is already invalid (a second Origin) and at a byte cap (see join).
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

	// Repeated header_map lines of slot i are joined into joined[i]
	// (hdr[i] is then its first line); full[i] says joining has stopped.
	joined [numSlots][]byte
	full   [numSlots]bool
}

// maxJoinedLen caps a value joined from repeated header_map lines: one
// byte past the longest value a decision reads (an
// Access-Control-Request-Headers list longer than headers.MaxACRHLen is
// refused unread), so a capped value is refused exactly like the whole.
const maxJoinedLen = headers.MaxACRHLen + 1

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
		if i := f.slot(hv.GetKey()); i >= 0 {
			f.line(i, rawValue(hv))
		}
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

// slot returns the slot a header_map line named name fills, or -1 when the
// line is not needed: a header a decision does not read, or one whose
// value has stopped growing (see join). A decoder calls it before it
// copies the line's value.
func (f *fields) slot(name string) int {
	i := slotOf(name)
	if i < 0 || f.full[i] {
		return -1
	}
	return i
}

// line records the value (raw, as sent) of one header_map line of slot i.
func (f *fields) line(i int, val string) {
	if f.seen[i] {
		f.join(i, val)
		return
	}
	f.hdr[i], f.seen[i] = val, true
}

// join appends a repeated line of slot i to its value. Repeated field lines
// are combined with "," as Envoy's map encoding and RFC 9110 §5.3 do, so a
// repeated Origin becomes an invalid origin, never one of the two values.
//
// Each call costs at most the bytes it appends, and the appending stops
// early, so any number of lines is read in linear time (a client that
// reaches the gRPC port can send tens of thousands):
//   - a header that occurs once per request (Origin, Fetch §3.2.5; the
//     Access-Control-Request-Method token and the private-network flag;
//     the pseudo-headers, RFC 9113 §8.3) is invalid from its second line
//     on, so the value stops there;
//   - any joined value stops at maxJoinedLen bytes, which keeps it over
//     every limit a decision applies (an Access-Control-Request-Headers
//     list is refused past headers.MaxACRHLen).
//
// A stopped CORS header value decides exactly as the whole join would
// (FuzzHeaderMapJoin). Envoy never repeats a pseudo-header.
func (f *fields) join(i int, val string) {
	if f.full[i] {
		return
	}
	b := f.joined[i]
	if b == nil {
		// The first line leaves room for the ",": a capped Origin or
		// method keeps the comma that makes it invalid.
		first := f.hdr[i]
		b = make([]byte, 0, min(len(first)+1+len(val), maxJoinedLen))
		b = append(b, first[:min(len(first), maxJoinedLen-1)]...)
	}
	b = appendCapped(b, ",")
	b = appendCapped(b, val)
	f.joined[i] = b
	f.full[i] = len(b) >= maxJoinedLen || i != slotACRH
}

// appendCapped appends s to b up to maxJoinedLen bytes in all.
func appendCapped(b []byte, s string) []byte {
	if room := maxJoinedLen - len(b); len(s) > room {
		s = s[:max(room, 0)]
	}
	return append(b, s...)
}

// value is slot i's value: its line, or its lines joined.
func (f *fields) value(i int) string {
	if f.joined[i] != nil {
		return string(f.joined[i])
	}
	return f.hdr[i]
}

// assemble turns the extracted fields into the policy's request view.
func (f *fields) assemble(r *policy.Request) {
	*r = policy.Request{ClassHint: f.class}
	// A request without Origin is not a CORS request (Fetch §3.2), so its
	// Access-Control-Request-* headers mean nothing and are not read: most
	// traffic has no Origin.
	if r.Origin, r.HasOrigin = f.value(slotOrigin), f.seen[slotOrigin]; r.HasOrigin {
		r.ACRM = f.value(slotACRM)
		r.ACRH = f.value(slotACRH)
		r.ACRPN = f.value(slotACRPN)
	}
	// Envoy sets the request-line fields; the pseudo-headers are used only
	// when a field is missing.
	r.Method = f.orHeader(f.method, slotMethod)
	r.Scheme = f.orHeader(f.scheme, slotScheme)
	r.Host = f.orHeader(f.host, slotAuthority)
	r.Path = f.orHeader(f.path, slotPath)
}

// orHeader is field, or when it is empty the value of header slot i.
func (f *fields) orHeader(field string, i int) string {
	if field != "" {
		return field
	}
	return f.value(i)
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
	i, j := slotCandidates(len(name))
	if i >= 0 && foldEqual(slotNames[i], name) {
		return i
	}
	if j >= 0 && foldEqual(slotNames[j], name) {
		return j
	}
	return -1
}

// slotCandidates returns the slots whose names have n bytes (-1 for none):
// most header names have none of these lengths, and each length has at
// most two candidates.
func slotCandidates(n int) (i, j int) {
	switch n {
	case len(hdrOrigin):
		return slotOrigin, -1
	case len(hdrACRM):
		return slotACRM, -1
	case len(hdrACRH):
		return slotACRH, -1
	case len(hdrACRPN):
		return slotACRPN, -1
	case len(hdrAuthority):
		return slotAuthority, -1
	case len(hdrPath):
		return slotPath, -1
	case len(hdrMethod): // and hdrScheme
		return slotMethod, slotScheme
	}
	return -1, -1
}

// foldEqual is strings.EqualFold for a lower-case slot name, rejecting on
// the first byte without a call: names of a slot's length ("accept",
// "cookie", "user-agent", "referer") differ from it there.
func foldEqual(slotName, name string) bool {
	return len(name) > 0 && name[0]|0x20 == slotName[0] && strings.EqualFold(slotName, name)
}

// slotLen reports whether a header name of n bytes may have a slot: a
// check cheap enough to inline, that most names fail, to make before
// slotOf.
func slotLen(n int) bool { return slotLens>>uint(n)&1 != 0 } // 0 from n = 64 on

// slotLens has bit n set when a slot's name has n bytes.
const slotLens uint64 = 1<<len(hdrOrigin) | 1<<len(hdrACRM) | 1<<len(hdrACRH) | 1<<len(hdrACRPN) |
	1<<len(hdrAuthority) | 1<<len(hdrPath) | 1<<len(hdrMethod) | 1<<len(hdrScheme)

// The lengths slotOf switches on are distinct but for :method and :scheme.
var _ = [1]struct{}{}[len(hdrMethod)-len(hdrScheme)]
