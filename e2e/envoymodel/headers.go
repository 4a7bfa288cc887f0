package envoymodel

//lint:file-ignore SA1019 Envoy still honours the deprecated HeaderValueOption.append flag, so this file must read (or set) it.

import (
	"net/http"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// Envoy keeps some headers "inline" (one O(1) slot per name). Adding a
// second value to an inline header appends it to the first with ","
// (HeaderMapImpl::appendToHeader), where any other header gets a second
// entry. The codecs add received headers the same way, so a repeated inline
// request header is already one comma-joined value when filters see it.
// The sets below are Envoy's default inline headers plus those the CORS
// extension registers (it is linked into every standard build, so its
// registrations hold whether or not the filter is configured).
var (
	inlineRequest = nameSet(
		"origin", "access-control-request-method", "access-control-request-headers",
		"authorization", "connection", "content-length", "content-type", "expect",
		"grpc-timeout", "keep-alive", "proxy-connection", "te", "transfer-encoding",
		"upgrade", "user-agent", "via", "x-forwarded-client-cert", "x-forwarded-for",
		"x-forwarded-host", "x-forwarded-proto", "x-request-id",
	)
	inlineResponse = nameSet(
		"access-control-allow-origin", "access-control-allow-credentials",
		"access-control-allow-methods", "access-control-allow-headers",
		"access-control-expose-headers", "access-control-max-age",
		"access-control-allow-private-network",
		"connection", "content-length", "content-type", "date", "keep-alive", "location",
		"proxy-connection", "server", "transfer-encoding", "upgrade", "via", "x-request-id",
	)
)

func nameSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// hopByHop are the connection-specific headers the HCM removes from
// requests before the filters run (ConnectionManagerUtility::
// mutateRequestHeaders) and from responses before they are encoded.
var hopByHop = []string{"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}

func stripHopByHop(h http.Header) {
	for _, n := range hopByHop {
		h.Del(n)
	}
	if te := h.Get("te"); te != "" && !strings.EqualFold(te, "trailers") {
		h.Del("te")
	}
}

// mergeInline joins the values of each repeated inline header with ",",
// as Envoy's codec does when it receives them.
func mergeInline(h http.Header, inline map[string]bool) {
	for k, vs := range h {
		if len(vs) > 1 && inline[strings.ToLower(k)] {
			h[k] = []string{joinNonEmpty(vs)}
		}
	}
}

func joinNonEmpty(vs []string) string {
	out := ""
	for _, v := range vs {
		if v == "" {
			continue
		}
		if out != "" {
			out += ","
		}
		out += v
	}
	return out
}

// addCopy is HeaderMap::addCopy: for an inline header that is present, the
// value is appended with "," (an empty value changes nothing); otherwise a
// new entry is added.
func addCopy(h http.Header, inline map[string]bool, name, value string) {
	lname := strings.ToLower(name)
	if inline[lname] {
		if vs := h.Values(name); len(vs) > 0 {
			if value == "" {
				return
			}
			if vs[0] == "" {
				vs[0] = value
			} else {
				vs[0] += "," + value
			}
			return
		}
	}
	h.Add(name, value)
}

// setCopy is HeaderMap::setCopy: replace every entry of name with one.
func setCopy(h http.Header, name, value string) { h.Set(name, value) }

// headerAction is how one HeaderValueOption of response_headers_to_add is
// applied (copyOkResponseMutations, Envoy ≥1.31): the deprecated append
// field wins when it is set; otherwise append_action decides, and its proto
// default is APPEND_IF_EXISTS_OR_ADD.
type headerAction uint8

const (
	actAdd               headerAction = iota // addCopy
	actSet                                   // setCopy
	actAddIfAbsent                           // addCopy when absent
	actOverwriteIfExists                     // setCopy when present
	actInvalid                               // unknown enum value: dropped
)

func responseHeaderAction(o *corev3.HeaderValueOption) headerAction {
	if o.GetAppend() != nil {
		if o.GetAppend().GetValue() {
			return actAdd
		}
		return actSet
	}
	switch o.GetAppendAction() {
	case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
		return actAdd
	case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
		return actSet
	case corev3.HeaderValueOption_ADD_IF_ABSENT:
		return actAddIfAbsent
	case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
		return actOverwriteIfExists
	}
	return actInvalid
}

// applyResponseHeadersToAdd applies an OkHttpResponse's
// response_headers_to_add to an upstream response the way
// Filter::encodeHeaders does: the options are grouped by action and the
// groups run in a fixed order (all adds, then all sets, then add-if-absent,
// then overwrite-if-exists), each group in the order received.
func applyResponseHeadersToAdd(h http.Header, opts []*corev3.HeaderValueOption) {
	for _, act := range []headerAction{actAdd, actSet, actAddIfAbsent, actOverwriteIfExists} {
		for _, o := range opts {
			if responseHeaderAction(o) != act {
				continue
			}
			name, value := strings.ToLower(o.GetHeader().GetKey()), headerValue(o.GetHeader())
			switch act {
			case actAdd:
				addCopy(h, inlineResponse, name, value)
			case actSet:
				setCopy(h, name, value)
			case actAddIfAbsent:
				if len(h.Values(name)) == 0 {
					addCopy(h, inlineResponse, name, value)
				}
			case actOverwriteIfExists:
				if len(h.Values(name)) > 0 {
					setCopy(h, name, value)
				}
			}
		}
	}
}

// applyDeniedHeaders applies a DeniedHttpResponse's headers to a local
// reply (Filter::onComplete, Denied): entries with append:true are not
// used (1.31–1.36 classify them as "append", which local replies ignore);
// every remaining name is removed first, then each entry is added, so
// repeated names (Set-Cookie) survive and any earlier value is overridden.
func applyDeniedHeaders(h http.Header, opts []*corev3.HeaderValueOption) {
	var set []*corev3.HeaderValueOption
	for _, o := range opts {
		if o.GetAppend().GetValue() {
			continue
		}
		set = append(set, o)
	}
	for _, o := range set {
		h.Del(o.GetHeader().GetKey())
	}
	for _, o := range set {
		addCopy(h, inlineResponse, strings.ToLower(o.GetHeader().GetKey()), headerValue(o.GetHeader()))
	}
}

// applyRequestHeaderMutations applies OkHttpResponse.headers and
// headers_to_remove to the request before it is forwarded (1.31–1.36: only
// the deprecated append field is honoured; append:true comma-appends to an
// existing header and is dropped when the header is absent; anything else
// sets). Pseudo-headers and host cannot be removed; setting host changes
// the :authority.
func applyRequestHeaderMutations(r *http.Request, h http.Header, opts []*corev3.HeaderValueOption, remove []string) {
	for _, o := range opts {
		name, value := strings.ToLower(o.GetHeader().GetKey()), headerValue(o.GetHeader())
		if name == "host" || name == ":authority" {
			r.Host = value
			continue
		}
		if strings.HasPrefix(name, ":") {
			continue
		}
		if o.GetAppend().GetValue() {
			if vs := h.Values(name); len(vs) > 0 {
				vs[0] += "," + value
			}
			continue
		}
		setCopy(h, name, value)
	}
	for _, name := range remove {
		name = strings.ToLower(name)
		if name == "host" || strings.HasPrefix(name, ":") {
			continue
		}
		h.Del(name)
	}
}

// headerValue is the value of a HeaderValue: raw_value when value is empty
// (Envoy accepts either).
func headerValue(v *corev3.HeaderValue) string {
	if v.GetValue() == "" && len(v.GetRawValue()) > 0 {
		return string(v.GetRawValue())
	}
	return v.GetValue()
}
