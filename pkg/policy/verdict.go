package policy

// Kind is what a request is, as far as CORS is concerned.
type Kind uint8

const (
	// NotCORS: the request carries no Origin header (server-to-server,
	// or a same-origin GET/HEAD from a browser).
	NotCORS Kind = iota
	// SameOrigin: the Origin is one of the policy's self_origins or equals
	// the request's own scheme://host.
	SameOrigin
	// Actual: a cross-origin request that is not a preflight.
	Actual
	// Preflight: OPTIONS with an Origin and a non-empty
	// Access-Control-Request-Method (Fetch §4.8 "CORS-preflight fetch").
	Preflight
)

var kindNames = [...]string{NotCORS: "not_cors", SameOrigin: "same_origin", Actual: "actual", Preflight: "preflight"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Reason is a short, machine-readable word for why a verdict was reached.
// The set is closed, so it is safe as a metric label.
type Reason string

const (
	ReasonNotCORS             Reason = "not_cors"
	ReasonSameOrigin          Reason = "same_origin"
	ReasonOriginAllowed       Reason = "origin_allowed"
	ReasonPreflightAllowed    Reason = "preflight_allowed"
	ReasonOriginNotAllowed    Reason = "origin_not_allowed"
	ReasonOriginInvalid       Reason = "origin_invalid"
	ReasonMethodNotAllowed    Reason = "method_not_allowed"
	ReasonMethodInvalid       Reason = "method_invalid"
	ReasonHeaderNotAllowed    Reason = "header_not_allowed"
	ReasonHeadersInvalid      Reason = "request_headers_invalid"
	ReasonPrivateNetwork      Reason = "private_network_not_allowed"
	ReasonUnknownClass        Reason = "unknown_class"
	ReasonNoClass             Reason = "no_class_matched"
	ReasonCrossOriginInternal Reason = "cross_origin_to_internal"
	ReasonMethodMissing       Reason = "method_missing"
	ReasonPathAmbiguous       Reason = "path_ambiguous"
)

// Selection says how the class was chosen.
type Selection uint8

const (
	ByHint    Selection = iota // the request's cors_class context extension
	ByMatch                    // the first class whose match held
	ByDefault                  // nothing matched (or the hint named no class): default deny
)

var selectionNames = [...]string{ByHint: "context_extension", ByMatch: "match", ByDefault: "default"}

func (s Selection) String() string {
	if int(s) < len(selectionNames) {
		return selectionNames[s]
	}
	return "unknown"
}

// HeaderMode says how a response header must be applied by the proxy.
type HeaderMode uint8

const (
	// Overwrite replaces any value the upstream set (Envoy's
	// OVERWRITE_IF_EXISTS_OR_ADD). Used for every Access-Control-* header.
	Overwrite HeaderMode = iota
	// Append keeps the upstream's value and adds ours (Envoy's
	// APPEND_IF_EXISTS_OR_ADD). Used for Vary.
	Append
)

// Header is one response header of a verdict. Name is lower case.
type Header struct {
	Name  string
	Value string
	Mode  HeaderMode
}

// maxVerdictHeaders bounds the headers a verdict can carry: ACAO, ACAC,
// ACAM, ACAH, ACMA, ACAPN, ACEH and Vary.
const maxVerdictHeaders = 8

// Verdict is the outcome of a decision. It is a value with no pointers into
// mutable state, so it can be built without allocating.
type Verdict struct {
	Class     *Class    // never nil; a synthetic default-deny class when none applies
	Selection Selection // how Class was chosen
	Kind      Kind

	// Allowed reports whether the browser is granted cross-origin access
	// (true also for NotCORS and SameOrigin requests, which need none).
	Allowed bool
	// Respond reports whether the proxy must answer the request itself
	// with Status (a preflight, or deny_action: reject) instead of
	// forwarding it upstream.
	Respond bool
	Status  int // HTTP status when Respond: 204 or 403

	// Grant is what the class grants the request's origin, when the origin
	// is allowed (else nil): Grant.Files says which file granted it.
	Grant *Grant

	Reason Reason
	// Detail adds context to Reason (the refused header name, the unknown
	// class). It may quote request bytes: log it escaped, never echo it
	// in a response header.
	Detail string

	hdrs [maxVerdictHeaders]Header
	n    uint8
}

// Headers returns the response headers of the verdict: on the forwarded
// response when !Respond, on the proxy's own answer when Respond.
func (v *Verdict) Headers() []Header { return v.hdrs[:v.n] }

// Header returns the value of the named (lower-case) header, if present.
func (v *Verdict) Header(name string) (string, bool) {
	for _, h := range v.hdrs[:v.n] {
		if h.Name == name {
			return h.Value, true
		}
	}
	return "", false
}

func (v *Verdict) add(name, value string, mode HeaderMode) {
	v.hdrs[v.n] = Header{Name: name, Value: value, Mode: mode}
	v.n++
}

// ReasonText is Reason with its Detail, e.g. "header_not_allowed: x-foo".
func (v *Verdict) ReasonText() string {
	if v.Detail == "" {
		return string(v.Reason)
	}
	return string(v.Reason) + ": " + v.Detail
}
