package policy

import (
	"strings"

	"github.com/cors-authz/cors-authz/internal/hosts"
	"github.com/cors-authz/cors-authz/internal/origin"
	"github.com/cors-authz/cors-authz/internal/paths"
)

// Route is the first half of a decision: which class applies to a request
// and what kind of request it is. It is cheap (no allowlist lookup), and
// with the request it determines the verdict; see AppendCacheKey.
type Route struct {
	Class     *Class
	Selection Selection
	Kind      Kind
	Hint      string // the cors_class the request named, if any

	origin      origin.Origin // the parsed Origin, when originValid
	originValid bool
	// pathAmbiguous: the path's meaning depends on the server's decoding
	// (see internal/paths) and a path rule took part in choosing Class,
	// so Class grants nothing.
	pathAmbiguous bool
}

// Classify chooses r's class and kind. The class is the one named by
// r.ClassHint, else the first whose match holds, else the fallback. Path
// rules are matched against the path's normal form (internal/paths), so
// "/api/v1/%2e%2e/admin" is classified as the "/api/admin" it names.
func (p *Policy) Classify(r *Request) Route {
	rt := Route{Hint: r.ClassHint}
	rt.Class, rt.Selection, rt.pathAmbiguous = p.classFor(r)
	if r.HasOrigin {
		rt.origin, rt.originValid = origin.Parse(r.Origin)
	}
	rt.Kind = p.kind(r, &rt)
	return rt
}

// classFor is the class half of Classify. It also reports whether r's
// path is ambiguous (internal/paths) while a path rule took part in
// choosing the class: the class's own, or an earlier class's that did not
// match.
func (p *Policy) classFor(r *Request) (*Class, Selection, bool) {
	if r.ClassHint != "" {
		if c := p.byName[r.ClassHint]; c != nil {
			return c, ByHint, false
		}
		return p.fallback, ByDefault, false
	}
	path, ambiguous := paths.Normalise(r.Path)
	defaultPort := origin.DefaultPort(r.Scheme)
	pathRules := false // a class tried so far has path rules
	for _, c := range p.classes {
		pathRules = pathRules || c.pathRules
		if c.match.matches(r.Host, defaultPort, path) {
			return c, ByMatch, ambiguous && pathRules
		}
	}
	return p.fallback, ByDefault, false
}

func (p *Policy) kind(r *Request, rt *Route) Kind {
	if !r.HasOrigin {
		return NotCORS
	}
	if rt.originValid && p.sameOrigin(r, rt.origin) {
		return SameOrigin
	}
	// Fetch §4.8: a CORS-preflight request is an OPTIONS request with an
	// Access-Control-Request-Method header; OPTIONS without it is an
	// ordinary (actual) request.
	if r.Method == "OPTIONS" && r.ACRM != "" {
		return Preflight
	}
	return Actual
}

// sameOrigin: the Origin is a self origin, or equals the request's own
// scheme://host (RFC 6454 §5, comparing the serializations).
func (p *Policy) sameOrigin(r *Request, o origin.Origin) bool {
	if p.selfOrigins.ContainsExact(r.Origin) {
		return true
	}
	if r.Scheme == "" || !strings.EqualFold(o.Scheme, r.Scheme) {
		return false
	}
	host, port := hosts.SplitHostPort(r.Host)
	if port == origin.DefaultPort(o.Scheme) {
		port = ""
	}
	return port == o.Port && strings.EqualFold(host, o.Host)
}
