package policy

import "slices"

// Routing one request under two policies: the shadow policy is decided on
// every request the enforced one routes, and a service that remembers
// answers by route (a verdict cache) needs the shadow's route cheaply.

// RoutesLike reports whether p and q route every request alike: the same
// classes by name and match rules, in the same order, and the same
// self_origins. Classify picks the class a request names, else the first
// whose match holds, else the fallback, so with identical names and
// matchers both policies pick the class at the same position; and a
// request's kind depends on its Origin, method, scheme and host and the
// self_origins only, so it is the same under both. What the classes grant
// may differ.
func (p *Policy) RoutesLike(q *Policy) bool {
	return p.sameKinds(q) && p.sameClassMatch(q)
}

// sameKinds: a request is of the same Kind under p and q.
func (p *Policy) sameKinds(q *Policy) bool {
	return slices.Equal(p.spec.SelfOrigins, q.spec.SelfOrigins)
}

// sameClassMatch: p and q choose the class at the same position for every
// request.
func (p *Policy) sameClassMatch(q *Policy) bool {
	ca, cb := p.spec.Classes, q.spec.Classes
	if len(ca) != len(cb) || len(p.classes) != len(ca) || len(q.classes) != len(cb) {
		return false
	}
	for i := range ca {
		ma, mb := ca[i].Match, cb[i].Match
		if ca[i].Name != cb[i].Name || !slices.Equal(ma.Hosts, mb.Hosts) ||
			!slices.Equal(ma.PathPrefixes, mb.PathPrefixes) || !slices.Equal(ma.Paths, mb.Paths) {
			return false
		}
	}
	return true
}

// RouteMap carries routes of one policy (from) over to another (to): for
// a request and the route from chose for it, the route to would choose.
// It is built once per pair of policies; Route then costs, from cheapest:
// an index when the policies route alike (RoutesLike), a name lookup when
// the request names its class (cors_class), to's match rules otherwise,
// and to's same-origin test on top when the self_origins differ. The
// request's Origin is never parsed again. A route that is not from's
// (another policy's) is routed by to's rules. A RouteMap is immutable and
// safe for concurrent use.
type RouteMap struct {
	from, to  *Policy
	sameKinds bool
	// When the policies route alike, fromClasses and toClasses hold
	// each policy's class at each position (index 0: the fallback, i+1:
	// class i); else both are nil.
	fromClasses, toClasses []*Class
}

// NewRouteMap returns the RouteMap from one policy to another.
func NewRouteMap(from, to *Policy) *RouteMap {
	m := &RouteMap{from: from, to: to, sameKinds: from.sameKinds(to)}
	if m.sameKinds && from.sameClassMatch(to) {
		m.fromClasses = append([]*Class{from.fallback}, from.classes...)
		m.toClasses = append([]*Class{to.fallback}, to.classes...)
	}
	return m
}

// Alike reports whether the two policies route every request alike
// (RoutesLike).
func (m *RouteMap) Alike() bool { return m.toClasses != nil }

// Route turns rt, the route the from policy chose for r
// (from.Classify(r)), into the route the to policy chooses for r: after
// it, *rt equals to.Classify(r), and can be passed to to.DecideRoute.
func (m *RouteMap) Route(r *Request, rt *Route) {
	if c := rt.Class; c != nil {
		if i := c.Index + 1; i < len(m.fromClasses) && m.fromClasses[i] == c {
			rt.Class = m.toClasses[i]
			return
		}
	}
	m.reroute(r, rt)
}

// reroute is Route by to's own rules. The hint and the parsed Origin are
// the request's, whatever the policy: only the class, and with other
// self_origins the kind, are to's own.
func (m *RouteMap) reroute(r *Request, rt *Route) {
	rt.Class, rt.Selection, rt.pathAmbiguous = m.to.classFor(r)
	if !m.sameKinds {
		rt.Kind = m.to.kind(r, rt)
	}
}
