package diff

import (
	"strings"

	"github.com/cors-authz/cors-authz/internal/headers"
	"github.com/cors-authz/cors-authz/internal/methods"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// routing reports the requests that may change class: the first class
// whose match holds serves a request, so adding, removing or moving a
// class, or changing its match, can hand requests served by class O in
// the old policy to class N in the new one. For each such pair it compares
// what N grants with what O granted.
//
// A pair (O, N) is skipped when no request can move from O to N:
//   - their matches do not overlap;
//   - a class before N in the new file (O itself, say) matches every
//     request O's old match did, so none of them reaches N;
//   - a class before O in the old file (N itself, say) matches every
//     request N's new match does, so O never served any of them.
//
// Otherwise some request may move; the pair is reported if the grants
// differ. This errs towards reporting: the classes between the two may
// together catch the requests.
func (c *comparison) routing() {
	for io := range c.old.Classes {
		o := &c.old.Classes[io]
		for jn := range c.new.Classes {
			n := &c.new.Classes[jn]
			if n.Name == o.Name || !matchOverlap(o.Match, n.Match) ||
				coveredBefore(c.new.Classes[:jn], o.Match) || coveredBefore(c.old.Classes[:io], n.Match) {
				continue
			}
			more, less := compareGrants(o, n)
			if len(more) == 0 && len(less) == 0 {
				continue
			}
			c.add(rerouted(o.Name, n.Name, more, less))
		}
		// Requests O served that no new class matches get the default
		// deny, which forwards them: that widens only a reject class.
		if o.DenyAction == policy.DenyReject && !coveredBefore(c.new.Classes, o.Match) {
			fallback := &policy.ClassSpec{Name: policy.FallbackClass, DenyAction: policy.DenyOmit}
			more, less := compareGrants(o, fallback)
			c.add(rerouted(o.Name, policy.FallbackClass, more, less))
		}
	}
}

// coveredBefore reports whether one of classes matches every request m
// matches.
func coveredBefore(classes []policy.ClassSpec, m policy.MatchSpec) bool {
	for i := range classes {
		if matchCovers(classes[i].Match, m) {
			return true
		}
	}
	return false
}

func rerouted(from, to string, more, less []string) Change {
	ch := Change{Class: to, Field: FieldRouting, Op: Rerouted, Old: from, New: to, Effect: Narrows}
	var notes []string
	if len(more) > 0 {
		ch.Effect = Widens
		notes = append(notes, "more: "+strings.Join(more, "; "))
	}
	if len(less) > 0 {
		notes = append(notes, "less: "+strings.Join(less, "; "))
	}
	ch.Note = "requests " + from + " served may now be served by " + to + ", which allows " + strings.Join(notes, "; and ")
	return ch
}

// compareGrants lists what class n grants that class o did not (more),
// and the reverse (less).
func compareGrants(o, n *policy.ClassSpec) (more, less []string) {
	op, np := parseOrigins(o.AllowOrigins), parseOrigins(n.AllowOrigins)
	if s := uncovered(np, op); len(s) > 0 {
		more = append(more, "origins "+strings.Join(s, ", "))
	}
	if s := uncovered(op, np); len(s) > 0 {
		less = append(less, "origins "+strings.Join(s, ", "))
	}
	more = appendList(more, "methods", methodsBeyond(n.AllowMethods, o.AllowMethods))
	less = appendList(less, "methods", methodsBeyond(o.AllowMethods, n.AllowMethods))
	more = appendList(more, "request headers", headersBeyond(n.AllowHeaders, o.AllowHeaders))
	less = appendList(less, "request headers", headersBeyond(o.AllowHeaders, n.AllowHeaders))
	more = appendList(more, "exposed headers", exposeBeyond(n, o))
	less = appendList(less, "exposed headers", exposeBeyond(o, n))
	more, less = appendFlag(more, less, "credentials", o.AllowCredentials, n.AllowCredentials)
	more, less = appendFlag(more, less, "private network access", o.AllowPrivateNetwork, n.AllowPrivateNetwork)
	switch {
	case o.DenyAction == policy.DenyReject && n.DenyAction != policy.DenyReject:
		more = append(more, "forwarding of refused requests (deny_action "+string(n.DenyAction)+"; was reject)")
	case o.DenyAction != policy.DenyReject && n.DenyAction == policy.DenyReject:
		less = append(less, "forwarding of refused requests (deny_action reject answers them 403)")
	}
	return more, less
}

func appendList(dst []string, what string, list []string) []string {
	if len(list) == 0 {
		return dst
	}
	return append(dst, what+" "+strings.Join(list, ", "))
}

func appendFlag(more, less []string, what string, old, new bool) ([]string, []string) {
	switch {
	case new && !old:
		more = append(more, what)
	case old && !new:
		less = append(less, what)
	}
	return more, less
}

// methodsBeyond: methods a allows that b does not (safelisted ones are
// always allowed).
func methodsBeyond(a, b []string) []string {
	bs := methods.NewSet(b)
	var out []string
	for _, m := range a {
		if !bs.Allows(m) && !containsString(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// headersBeyond: request headers a allows that b does not.
func headersBeyond(a, b []string) []string {
	as, bs := headers.NewSet(a), headers.NewSet(b)
	var out []string
	for _, h := range a {
		h = strings.ToLower(h)
		switch {
		case h == "*":
			if !bs.Any {
				out = append(out, `"*"`)
			}
		case as.Allows(h) && !bs.Allows(h) && !containsString(out, h):
			out = append(out, h)
		}
	}
	return out
}

// exposeBeyond: response headers a exposes that b does not.
func exposeBeyond(a, b *policy.ClassSpec) []string {
	var out []string
	for _, h := range a.ExposeHeaders {
		h = strings.ToLower(h)
		switch {
		case h == "*":
			if !a.AllowCredentials && !(containsString(b.ExposeHeaders, "*") && !b.AllowCredentials) {
				out = append(out, `"*"`)
			}
		case !exposed(b, h) && !containsString(out, h):
			out = append(out, h)
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
