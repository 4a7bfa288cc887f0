package diff

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cors-authz/cors-authz/internal/headers"
	"github.com/cors-authz/cors-authz/internal/methods"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// selfOrigins compares the policy-wide self_origins. A request whose
// Origin is a self origin is same-origin: forwarded untouched, so no class
// refuses it (no 403 from deny_action reject or from a refused preflight)
// and the upstream's own CORS headers, if any, reach the browser.
func (c *comparison) selfOrigins() {
	op, np := dedupe(parseOrigins(c.old.SelfOrigins)), dedupe(parseOrigins(c.new.SelfOrigins))
	oldIx, newIx := newOriginIndex(op), newOriginIndex(np)
	for _, e := range np {
		if oldIx.has(e) {
			continue
		}
		c.add(Change{Field: FieldSelfOrigins, Op: Added, Value: e.raw, Effect: Widens,
			Note: "requests from it count as same-origin: forwarded untouched, past every allowlist, preflight refusal and deny_action"})
	}
	var classIx []*originIndex // built on the first removal
	for _, e := range op {
		if newIx.has(e) {
			continue
		}
		ch := Change{Field: FieldSelfOrigins, Op: Removed, Value: e.raw, Effect: Narrows,
			Note: "requests from it are now checked against each class's allowlist"}
		if classIx == nil {
			for _, cl := range c.new.Classes {
				classIx = append(classIx, newOriginIndex(parseOrigins(cl.AllowOrigins)))
			}
		}
		for i, ix := range classIx {
			if by, ok := ix.coveredBy(e); ok {
				ch.Effect = Widens
				ch.Note = fmt.Sprintf("no longer same-origin: now gets the CORS grants of class %q (allowed by %s)", c.new.Classes[i].Name, by)
				break
			}
		}
		c.add(ch)
	}
}

// classes walks the classes in the new file's order, each removed class
// where it stood in the old file, and compares each.
func (c *comparison) classes() {
	// Removed classes follow the nearest earlier old class that remains
	// ("" for the start of the file).
	after := map[string][]int{}
	anchor := ""
	for i, cl := range c.old.Classes {
		if c.newClass(cl.Name) != nil {
			anchor = cl.Name
			continue
		}
		after[anchor] = append(after[anchor], i)
	}
	moved := c.movedClasses()
	emitRemoved := func(anchor string) {
		for _, i := range after[anchor] {
			c.removedClass(i)
		}
	}
	emitRemoved("")
	for j := range c.new.Classes {
		n := &c.new.Classes[j]
		o := c.oldClass(n.Name)
		if o == nil {
			c.addedClass(j)
			continue
		}
		if moved[n.Name] {
			c.add(Change{Class: n.Name, Field: FieldOrder, Op: Moved,
				Old: "#" + strconv.Itoa(c.oldIdx[n.Name]+1), New: "#" + strconv.Itoa(j+1),
				Effect: Neutral, Note: c.orderNote(n.Name)})
		}
		c.class(o, n)
		emitRemoved(n.Name)
	}
}

// movedClasses returns the classes, present in both files, that changed
// position relative to the others: those outside a longest sequence of
// classes that kept their relative order.
func (c *comparison) movedClasses() map[string]bool {
	var names []string // common classes, in old order
	var pos []int      // their new positions
	for _, cl := range c.old.Classes {
		if j, ok := c.newIdx[cl.Name]; ok {
			names = append(names, cl.Name)
			pos = append(pos, j)
		}
	}
	// Longest increasing subsequence of pos, O(n²): policies have tens
	// of classes.
	n := len(pos)
	length, prev := make([]int, n), make([]int, n)
	best := -1
	for i := range n {
		length[i], prev[i] = 1, -1
		for k := range i {
			if pos[k] < pos[i] && length[k]+1 > length[i] {
				length[i], prev[i] = length[k]+1, k
			}
		}
		if best < 0 || length[i] > length[best] {
			best = i
		}
	}
	keep := make(map[int]bool, n)
	for i := best; i >= 0; i = prev[i] {
		keep[i] = true
	}
	moved := map[string]bool{}
	for i, name := range names {
		if !keep[i] {
			moved[name] = true
		}
	}
	return moved
}

// orderNote says whether a moved class now competes differently for
// requests: the classes it passed whose matches overlap its own.
func (c *comparison) orderNote(name string) string {
	io, jn := c.oldIdx[name], c.newIdx[name]
	o, n := c.oldClass(name), c.newClass(name)
	var overlaps []string
	for _, other := range c.new.Classes {
		if other.Name == name {
			continue
		}
		i, ok := c.oldIdx[other.Name]
		if !ok {
			continue
		}
		j := c.newIdx[other.Name]
		if (i < io) == (j < jn) {
			continue // same relative order
		}
		if matchOverlap(o.Match, c.old.Classes[i].Match) || matchOverlap(n.Match, other.Match) {
			overlaps = append(overlaps, strconv.Quote(other.Name))
		}
	}
	if len(overlaps) == 0 {
		return "its match overlaps none of the classes it moved past: no request changes class"
	}
	return "first match wins: it now competes differently with " + strings.Join(overlaps, ", ") + " (see routing)"
}

func (c *comparison) addedClass(j int) {
	n := &c.new.Classes[j]
	ch := Change{Class: n.Name, Field: FieldClass, Op: Added, New: "#" + strconv.Itoa(j+1), Effect: Neutral}
	if o := c.renamedFrom(n); o != nil {
		// Requests the old class served by match get the same answers;
		// only routes that name a class with cors_class see the rename.
		ch.Note = fmt.Sprintf("same settings as the removed class %q (renamed?): routes must now set cors_class=%s", o.Name, n.Name)
	} else if len(n.AllowOrigins) > 0 {
		ch.Effect = Widens
		ch.Note = "grants " + grantString(n) + " for " + matchString(n.Match) + " and to routes with cors_class=" + n.Name
	} else {
		ch.Note = "internal (no origins) for " + matchString(n.Match) + "; requests it takes from other classes are listed under routing"
	}
	c.add(ch)
}

func (c *comparison) removedClass(i int) {
	o := &c.old.Classes[i]
	ch := Change{Class: o.Name, Field: FieldClass, Op: Removed, Old: "#" + strconv.Itoa(i+1), Effect: Neutral}
	note := "routes with cors_class=" + o.Name + " now get the default deny; requests it matched fall to later classes (see routing)"
	if len(o.AllowOrigins) > 0 {
		ch.Effect = Narrows
	}
	if n := c.renamedTo(o); n != nil {
		note = fmt.Sprintf("same settings as the added class %q (renamed?); ", n.Name) + note
	}
	ch.Note = note
	c.add(ch)
}

// renamedTo returns the first added class with the settings of the
// removed class o; renamedFrom the first removed class with those of the
// added class n.
func (c *comparison) renamedTo(o *policy.ClassSpec) *policy.ClassSpec {
	for i := range c.new.Classes {
		if n := &c.new.Classes[i]; c.oldClass(n.Name) == nil && sameClassSettings(o, n) {
			return n
		}
	}
	return nil
}

func (c *comparison) renamedFrom(n *policy.ClassSpec) *policy.ClassSpec {
	for i := range c.old.Classes {
		if o := &c.old.Classes[i]; c.newClass(o.Name) == nil && sameClassSettings(o, n) {
			return o
		}
	}
	return nil
}

// class compares one class present in both files.
func (c *comparison) class(o, n *policy.ClassSpec) {
	name := n.Name
	grants := len(n.AllowOrigins) > 0

	if !matchEqual(o.Match, n.Match) {
		ch := Change{Class: name, Field: FieldMatch, Op: Changed, Old: matchString(o.Match), New: matchString(n.Match)}
		narrower, wider := matchCovers(o.Match, n.Match), matchCovers(n.Match, o.Match)
		switch {
		case !grants:
			ch.Effect, ch.Note = Neutral, "internal class: requests it takes or gives up are listed under routing"
		case narrower && wider:
			ch.Effect, ch.Note = Neutral, "matches the same requests"
		case narrower:
			ch.Effect, ch.Note = Narrows, "its grants apply to fewer requests (those it gives up: see routing)"
		default:
			ch.Effect, ch.Note = Widens, "its grants may now apply to requests another class or the default deny served"
		}
		c.add(ch)
	}
	for _, ch := range originChanges(name, FieldOrigins, o.AllowOrigins, n.AllowOrigins) {
		c.add(ch)
	}
	c.methods(name, o.AllowMethods, n.AllowMethods)
	c.headers(name, o.AllowHeaders, n.AllowHeaders)
	c.expose(name, o, n)
	c.flag(name, FieldCredentials, o.AllowCredentials, n.AllowCredentials,
		"responses to allowed origins may now be read with cookies and HTTP auth")
	if a, b := maxAgeString(o.MaxAge), maxAgeString(n.MaxAge); a != b {
		c.add(Change{Class: name, Field: FieldMaxAge, Op: Changed, Old: a, New: b, Effect: Neutral,
			Note: "how long browsers cache a preflight answer"})
	}
	c.flag(name, FieldPrivateNetwork, o.AllowPrivateNetwork, n.AllowPrivateNetwork,
		"public pages of allowed origins may now reach this private-network service")
	if o.DenyAction != n.DenyAction {
		ch := Change{Class: name, Field: FieldDenyAction, Op: Changed, Old: string(o.DenyAction), New: string(n.DenyAction), Effect: Neutral,
			Note: "refused requests are forwarded either way; only the response headers differ"}
		switch {
		case o.DenyAction == policy.DenyReject:
			ch.Effect, ch.Note = Widens, "refused cross-origin requests now reach the upstream: their side effects happen, though the response stays unreadable"
		case n.DenyAction == policy.DenyReject:
			ch.Effect, ch.Note = Narrows, "refused cross-origin requests are now answered 403 at the edge"
		}
		c.add(ch)
	}
	c.flag(name, FieldInsecure, o.DangerouslyAllowInsecureOrigins, n.DangerouslyAllowInsecureOrigins,
		"http origins may now be allowed with credentials")
}

// flag reports a boolean grant turned on (widens) or off (narrows).
func (c *comparison) flag(class, field string, old, new bool, widensNote string) {
	if old == new {
		return
	}
	ch := Change{Class: class, Field: field, Op: Changed, Old: strconv.FormatBool(old), New: strconv.FormatBool(new), Effect: Narrows}
	if new {
		ch.Effect, ch.Note = Widens, widensNote
	}
	c.add(ch)
}

// methods compares allow_methods (case-sensitive, as browsers send them).
// CORS-safelisted methods are always allowed, listed or not.
func (c *comparison) methods(class string, old, new []string) {
	added, removed := setDiff(old, new, nil)
	for _, m := range added {
		ch := Change{Class: class, Field: FieldMethods, Op: Added, Value: m, Effect: Widens}
		if methods.Safelisted(m) {
			ch.Effect, ch.Note = Neutral, "CORS-safelisted: always allowed; only Access-Control-Allow-Methods changes"
		}
		c.add(ch)
	}
	for _, m := range removed {
		ch := Change{Class: class, Field: FieldMethods, Op: Removed, Value: m, Effect: Narrows}
		if methods.Safelisted(m) {
			ch.Effect, ch.Note = Neutral, "CORS-safelisted: still allowed; only Access-Control-Allow-Methods changes"
		}
		c.add(ch)
	}
}

// headers compares allow_headers (case-insensitive), with the rules of
// the enforcement path (headers.Set): "*" allows every name except
// Authorization, which must be listed.
func (c *comparison) headers(class string, old, new []string) {
	added, removed := setDiff(old, new, strings.ToLower)
	oldSet, newSet := headers.NewSet(old), headers.NewSet(new)
	for _, h := range added {
		ch := Change{Class: class, Field: FieldHeaders, Op: Added, Value: h, Effect: Widens}
		switch {
		case h == "*":
			ch.Note = "any request header except Authorization"
		case oldSet.Allows(h):
			ch.Effect, ch.Note = Neutral, `already allowed by "*"`
		case !newSet.Allows(h):
			ch.Effect, ch.Note = Neutral, neverAllowed
		}
		c.add(ch)
	}
	for _, h := range removed {
		ch := Change{Class: class, Field: FieldHeaders, Op: Removed, Value: h, Effect: Narrows}
		switch {
		case h == "*":
		case newSet.Allows(h):
			ch.Effect, ch.Note = Neutral, `still allowed by "*"`
		case !oldSet.Allows(h):
			ch.Effect, ch.Note = Neutral, "was "+neverAllowed
		}
		c.add(ch)
	}
}

// neverAllowed notes a listed request-header name that no preflight can
// ask for successfully.
var neverAllowed = "never allowed: a name longer than " + strconv.Itoa(headers.MaxNameLen) + ` bytes passes only "*"`

// expose compares expose_headers. Without credentials "*" exposes every
// response header; with credentials it is refused by validation.
func (c *comparison) expose(class string, o, n *policy.ClassSpec) {
	added, removed := setDiff(o.ExposeHeaders, n.ExposeHeaders, strings.ToLower)
	for _, h := range added {
		ch := Change{Class: class, Field: FieldExpose, Op: Added, Value: h, Effect: Widens}
		switch {
		case h == "*":
			ch.Note = "every response header is readable by scripts"
		case exposed(o, h):
			ch.Effect, ch.Note = Neutral, `already exposed by "*"`
		}
		c.add(ch)
	}
	for _, h := range removed {
		ch := Change{Class: class, Field: FieldExpose, Op: Removed, Value: h, Effect: Narrows}
		if h != "*" && exposed(n, h) {
			ch.Effect, ch.Note = Neutral, `still exposed by "*"`
		}
		c.add(ch)
	}
}

// exposed: scripts of an allowed origin may read response header h.
func exposed(c *policy.ClassSpec, h string) bool {
	h = strings.ToLower(h)
	for _, e := range c.ExposeHeaders {
		if strings.ToLower(e) == h || e == "*" && !c.AllowCredentials {
			return true
		}
	}
	return false
}

func maxAgeString(p *int) string {
	if p == nil {
		return "none"
	}
	return strconv.Itoa(*p) + "s"
}

// setDiff returns the entries of new missing from old and of old missing
// from new, in list order, without duplicates, after norm (nil: as is).
func setDiff(old, new []string, norm func(string) string) (added, removed []string) {
	if norm == nil {
		norm = func(s string) string { return s }
	}
	in := func(list []string, s string) bool {
		return slices.ContainsFunc(list, func(e string) bool { return norm(e) == s })
	}
	seen := map[string]bool{}
	for _, s := range new {
		s = norm(s)
		if !seen[s] && !in(old, s) {
			added = append(added, s)
		}
		seen[s] = true
	}
	clear(seen)
	for _, s := range old {
		s = norm(s)
		if !seen[s] && !in(new, s) {
			removed = append(removed, s)
		}
		seen[s] = true
	}
	return added, removed
}

func sameSet(a, b []string, norm func(string) string) bool {
	added, removed := setDiff(a, b, norm)
	return len(added) == 0 && len(removed) == 0
}

// sameClassSettings: two classes equal but for their names and lines.
func sameClassSettings(a, b *policy.ClassSpec) bool {
	return matchEqual(a.Match, b.Match) &&
		sameSet(a.AllowOrigins, b.AllowOrigins, nil) &&
		sameSet(a.AllowMethods, b.AllowMethods, nil) &&
		sameSet(a.AllowHeaders, b.AllowHeaders, strings.ToLower) &&
		sameSet(a.ExposeHeaders, b.ExposeHeaders, strings.ToLower) &&
		a.AllowCredentials == b.AllowCredentials &&
		maxAgeString(a.MaxAge) == maxAgeString(b.MaxAge) &&
		a.AllowPrivateNetwork == b.AllowPrivateNetwork &&
		a.DenyAction == b.DenyAction &&
		a.DangerouslyAllowInsecureOrigins == b.DangerouslyAllowInsecureOrigins
}

// grantString summarises what a class grants, for an added class.
func grantString(c *policy.ClassSpec) string {
	parts := []string{"origins " + strings.Join(c.AllowOrigins, ", ")}
	if len(c.AllowMethods) > 0 {
		parts = append(parts, "methods "+strings.Join(c.AllowMethods, ", "))
	}
	if len(c.AllowHeaders) > 0 {
		parts = append(parts, "headers "+strings.Join(c.AllowHeaders, ", "))
	}
	if c.AllowCredentials {
		parts = append(parts, "credentials")
	}
	if c.AllowPrivateNetwork {
		parts = append(parts, "private network")
	}
	return strings.Join(parts, "; ")
}
