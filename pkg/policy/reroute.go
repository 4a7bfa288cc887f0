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
// request's Origin is never parsed again. A RouteMap is immutable and safe
// for concurrent use.
type RouteMap struct {
	from, to  *Policy
	sameKinds bool
	// classes, when the policies route alike, is to's class at each of
	// from's positions (index 0: the fallback, i+1: class i); else nil.
	classes []*Class
}

// NewRouteMap returns the RouteMap from one policy to another.
func NewRouteMap(from, to *Policy) *RouteMap {
	m := &RouteMap{from: from, to: to, sameKinds: from.sameKinds(to)}
	if m.sameKinds && from.sameClassMatch(to) {
		m.classes = append([]*Class{to.fallback}, to.classes...)
	}
	return m
}

// Alike reports whether the two policies route every request alike
// (RoutesLike).
func (m *RouteMap) Alike() bool { return m.classes != nil }

// Route turns rt, the route the from policy chose for r
// (from.Classify(r)), into the route the to policy chooses for r: after
// it, *rt equals to.Classify(r), and can be passed to to.DecideRoute.
func (m *RouteMap) Route(r *Request, rt *Route) {
	if c := m.carried(rt.Class); c != nil {
		rt.Class = c
		return
	}
	// The hint and the parsed Origin are the request's, whatever the
	// policy: only the class, and with other self_origins the kind,
	// are to's own.
	rt.Class, rt.Selection = m.to.classFor(r)
	if !m.sameKinds {
		rt.Kind = m.to.kind(r, rt)
	}
}

// carried returns to's class at c's position when the policies route
// alike and c is one of from's classes; else nil.
func (m *RouteMap) carried(c *Class) *Class {
	if m.classes == nil || c == nil {
		return nil
	}
	i := c.Index + 1 // the fallback is -1
	if i < 0 || i >= len(m.classes) || m.fromClass(i) != c {
		return nil
	}
	return m.classes[i]
}

// fromClass is from's class at position i of m.classes.
func (m *RouteMap) fromClass(i int) *Class {
	if i == 0 {
		return m.from.fallback
	}
	return m.from.classes[i-1]
}
