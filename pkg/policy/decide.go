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
	if reason, detail := p.originRefused(r, rt); reason != "" {
		v.Reason, v.Detail = reason, detail
		if rt.Kind == Preflight {
			v.Respond, v.Status = true, 403
			return
		}
		p.deny(r, v)
		return
	}
	if rt.Kind == Actual {
		v.Allowed, v.Reason = true, ReasonOriginAllowed
		v.add(HeaderACAO, r.Origin, Overwrite)
		if c.credentials {
			v.add(HeaderACAC, "true", Overwrite)
		}
		if c.aceh != "" {
			v.add(HeaderACEH, c.aceh, Overwrite)
		}
		v.add(HeaderVary, varyActual, Append)
		return
	}
	p.preflight(r, v)
}

// originRefused returns why r's origin gets no access, or "" if it does.
func (p *Policy) originRefused(r *Request, rt *Route) (Reason, string) {
	switch {
	case !rt.originValid:
		return ReasonOriginInvalid, ""
	case rt.Selection == ByDefault && rt.Hint != "":
		return ReasonUnknownClass, rt.Hint
	case rt.Selection == ByDefault:
		return ReasonNoClass, ""
	case rt.Class.origins.Len() == 0:
		return ReasonCrossOriginInternal, ""
	case !rt.Class.origins.Contains(r.Origin, rt.origin):
		return ReasonOriginNotAllowed, ""
	}
	return "", ""
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

// selfOriginFor returns the self origin whose host is the request's host,
// else the first self origin.
func (p *Policy) selfOriginFor(authority string) string {
	if len(p.selfList) == 0 {
		return ""
	}
	if so, ok := p.selfByHost[authority]; ok {
		return so
	}
	host, port := hosts.SplitHostPort(authority)
	if port == "443" || port == "80" {
		if so, ok := p.selfByHost[host]; ok {
			return so
		}
	}
	return p.selfList[0]
}

// preflight checks the method, headers and private-network request of a
// preflight whose origin is allowed (Fetch §4.8 steps 5-7).
func (p *Policy) preflight(r *Request, v *Verdict) {
	c := v.Class
	v.Respond, v.Status = true, 403
	if !headers.IsToken(r.ACRM) {
		v.Reason = ReasonMethodInvalid
		return
	}
	if !c.methods.Allows(r.ACRM) {
		v.Reason, v.Detail = ReasonMethodNotAllowed, r.ACRM
		return
	}
	switch res, name := c.headers.Check(r.ACRH); res {
	case headers.Invalid:
		v.Reason = ReasonHeadersInvalid
		return
	case headers.NotAllowed:
		v.Reason, v.Detail = ReasonHeaderNotAllowed, name
		return
	}
	pn := strings.EqualFold(r.ACRPN, "true")
	if pn && !c.privateNet {
		v.Reason = ReasonPrivateNetwork
		return
	}
	v.Status, v.Allowed, v.Reason = 204, true, ReasonPreflightAllowed
	v.add(HeaderACAO, r.Origin, Overwrite)
	if c.credentials {
		v.add(HeaderACAC, "true", Overwrite)
	}
	if c.acam != "" {
		v.add(HeaderACAM, c.acam, Overwrite)
	}
	if strings.TrimLeft(r.ACRH, " \t,") != "" {
		v.add(HeaderACAH, p.allowHeaders(c, r.ACRH), Overwrite)
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
func (p *Policy) allowHeaders(c *Class, acrh string) string {
	if !c.headers.Any {
		return c.acah
	}
	if strings.IndexByte(acrh, '\t') >= 0 {
		return strings.ReplaceAll(acrh, "\t", " ")
	}
	return acrh
}
