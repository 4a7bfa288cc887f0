package policy

import (
	"strings"

	"github.com/cors-authz/cors-authz/internal/headers"
	"github.com/cors-authz/cors-authz/internal/hosts"
)

// Response header names (Fetch §3.2.3), lower case as HTTP/2 requires.
const (
	HeaderACAO  = "access-control-allow-origin"
	HeaderACAC  = "access-control-allow-credentials"
	HeaderACAM  = "access-control-allow-methods"
	HeaderACAH  = "access-control-allow-headers"
	HeaderACMA  = "access-control-max-age"
	HeaderACEH  = "access-control-expose-headers"
	HeaderACAPN = "access-control-allow-private-network"
	HeaderVary  = "vary"
)

const (
	varyActual      = "Origin"
	varyPreflight   = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
	varyPreflightPN = varyPreflight + ", Access-Control-Request-Private-Network"
)

// Decide returns the verdict for r.
func (p *Policy) Decide(r *Request) (v Verdict) {
	rt := p.Classify(r)
	p.decide(r, &rt, &v)
	return v
}

// DecideRoute returns the verdict for r on the route Classify chose.
func (p *Policy) DecideRoute(r *Request, rt Route) (v Verdict) {
	p.decide(r, &rt, &v)
	return v
}

// decide fills the zero verdict v in place: the verdict is a few hundred
// bytes, and writing it where the caller keeps it saves copies.
func (p *Policy) decide(r *Request, rt *Route, v *Verdict) {
	c := rt.Class
	v.Class, v.Selection, v.Kind = c, rt.Selection, rt.Kind
	switch rt.Kind {
	case NotCORS, SameOrigin:
		v.Allowed = true
		v.Reason = ReasonNotCORS
		if rt.Kind == SameOrigin {
			v.Reason = ReasonSameOrigin
		}
		if c.vary {
			v.add(HeaderVary, varyActual, Append)
		}
		return
	}
	g, reason, detail := p.originRefused(r, rt)
	if reason == "" && r.Method == "" {
		// No method, no grant: every HTTP request has one (RFC 9110
		// §9.1), so a check without it says nothing a grant could rest on.
		reason = ReasonMethodMissing
	}
	if reason == "" && rt.pathAmbiguous {
		// Defence in depth: a proxy that does not normalise paths (Istio
		// without pathNormalization, a direct gRPC client) may route
		// "/api/v1/..%2Fadmin" to /admin; a path-selected grant must not
		// depend on how the upstream decodes the path.
		reason = ReasonPathAmbiguous
	}
	if reason != "" {
		v.Reason, v.Detail = reason, detail
		if rt.Kind == Preflight {
			v.Respond, v.Status = true, 403
			return
		}
		p.deny(r, v)
		return
	}
	v.Grant = g
	if rt.Kind == Actual {
		v.Allowed, v.Reason = true, ReasonOriginAllowed
		v.add(HeaderACAO, r.Origin, Overwrite)
		if c.credentials {
			v.add(HeaderACAC, "true", Overwrite)
		}
		if g.aceh != "" {
			v.add(HeaderACEH, g.aceh, Overwrite)
		}
		v.add(HeaderVary, varyActual, Append)
		return
	}
	p.preflight(r, g, v)
}

// originRefused returns the grant of r's origin, or why it gets no access.
// The allowlist lookup returns the grant, so a policy whose classes are
// extended by fragments decides at the cost of a single file.
func (p *Policy) originRefused(r *Request, rt *Route) (*Grant, Reason, string) {
	switch {
	case !rt.originValid:
		return nil, ReasonOriginInvalid, ""
	case rt.Selection == ByDefault && rt.Hint != "":
		return nil, ReasonUnknownClass, rt.Hint
	case rt.Selection == ByDefault:
		return nil, ReasonNoClass, ""
	case !rt.Class.external:
		return nil, ReasonCrossOriginInternal, ""
	}
	g, ok := rt.Class.grants.Lookup(r.Origin, rt.origin)
	if !ok {
		return nil, ReasonOriginNotAllowed, ""
	}
	return g, "", ""
}

// deny applies the class's deny_action to a refused actual request.
func (p *Policy) deny(r *Request, v *Verdict) {
	c := v.Class
	switch c.denyAction {
	case DenyReject:
		v.Respond, v.Status = true, 403
		return
	case DenySelfOrigin:
		if so := p.selfOriginFor(r.Host); so != "" {
			v.add(HeaderACAO, so, Overwrite)
		}
	}
	if c.vary {
		v.add(HeaderVary, varyActual, Append)
	}
}

// selfOriginFor returns the self origin whose host is the request's host
// (a default port, or one trailing dot of the name, makes no difference),
// else the first self origin.
func (p *Policy) selfOriginFor(authority string) string {
	if len(p.selfList) == 0 {
		return ""
	}
	if so, ok := p.selfByHost[authority]; ok {
		return so
	}
	host, port := hosts.SplitHostPort(authority) // drops a trailing dot
	key := host
	if port != "" && port != "443" && port != "80" {
		key = host + ":" + port
	}
	if so, ok := p.selfByHost[key]; ok {
		return so
	}
	return p.selfList[0]
}

// preflight checks the method, headers and private-network request of a
// preflight whose origin is allowed (Fetch §4.8 steps 5-7).
func (p *Policy) preflight(r *Request, g *Grant, v *Verdict) {
	c := v.Class
	v.Respond, v.Status = true, 403
	if !headers.IsToken(r.ACRM) {
		v.Reason = ReasonMethodInvalid
		return
	}
	if !g.methods.Allows(r.ACRM) {
		v.Reason, v.Detail = ReasonMethodNotAllowed, r.ACRM
		return
	}
	switch res, name := g.headers.Check(r.ACRH); res {
	case headers.Invalid:
		v.Reason = ReasonHeadersInvalid
		return
	case headers.NotAllowed:
		v.Reason, v.Detail = ReasonHeaderNotAllowed, name
		return
	}
	// Private Network Access: browsers send exactly "true"; any other
	// value is no request for private-network access (a plain preflight).
	pn := r.ACRPN == "true"
	if pn && !c.privateNet {
		v.Reason = ReasonPrivateNetwork
		return
	}
	v.Status, v.Allowed, v.Reason = 204, true, ReasonPreflightAllowed
	v.add(HeaderACAO, r.Origin, Overwrite)
	if c.credentials {
		v.add(HeaderACAC, "true", Overwrite)
	}
	if g.acam != "" {
		v.add(HeaderACAM, g.acam, Overwrite)
	}
	if strings.TrimLeft(r.ACRH, " \t,") != "" {
		v.add(HeaderACAH, p.allowHeaders(g, r.ACRH), Overwrite)
	}
	if c.hasMA {
		v.add(HeaderACMA, c.acma, Overwrite)
	}
	vary := varyPreflight
	if pn {
		v.add(HeaderACAPN, "true", Overwrite)
		vary = varyPreflightPN
	}
	// A local reply replaces rather than merges, so Vary is set here.
	v.add(HeaderVary, vary, Overwrite)
}

// allowHeaders is the Access-Control-Allow-Headers value of a successful
// preflight: the class's list, or, for a "*" class, the requested names
// (a credentialed response may not use "*", Fetch §3.2.6). Checked names
// are tokens, so the echo has only tchars, commas and whitespace.
func (p *Policy) allowHeaders(g *Grant, acrh string) string {
	if !g.headers.Any {
		return g.acah
	}
	if strings.IndexByte(acrh, '\t') >= 0 {
		return strings.ReplaceAll(acrh, "\t", " ")
	}
	return acrh
}
