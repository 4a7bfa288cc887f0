package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cors-authz/cors-authz/internal/origin"
)

// ClassExtension is one fragment's extension of a class, as merged.
type ClassExtension struct {
	File string // the fragment's name
	*Extension
}

// WithFragments returns the policy that serves p's base policy extended by
// frags: each delegated class gets the origins the fragments grant, and
// each granted origin gets the class's own methods and headers plus the
// additions of the fragments that granted it (never another fragment's).
// Classes no fragment extends are shared with p. Every fragment must have
// been parsed with p's base policy; with no fragments the base policy
// itself is returned, so a policy directory holding only the base policy
// behaves exactly like that file. Fragments are merged in name order.
func (p *Policy) WithFragments(frags []*Fragment) (*Policy, error) {
	return p.merge(frags, nil)
}

// merge is WithFragments. When prev (an earlier merge on the same base) is
// given, classes whose extensions are unchanged are shared with it, and a
// class where one fragment's extension changed is updated from prev's
// allowlist instead of rebuilt: reloading one fragment of hundreds then
// costs a copy of the allowlist, not its construction.
func (p *Policy) merge(frags []*Fragment, prev *Policy) (*Policy, error) {
	base := p
	if p.base != nil {
		base = p.base
	}
	if len(frags) == 0 {
		return base, nil
	}
	frags = slices.Clone(frags)
	slices.SortFunc(frags, func(a, b *Fragment) int { return strings.Compare(a.name, b.name) })
	byClass := map[string][]ClassExtension{}
	h := sha256.New()
	h.Write([]byte(base.digest))
	for i, f := range frags {
		if f.base != base.digest {
			return nil, fmt.Errorf("fragment %s was validated against another base policy", f.name)
		}
		if i > 0 && frags[i-1].name == f.name {
			return nil, fmt.Errorf("fragment %s given twice", f.name)
		}
		// Names without their directory: the same files give the same
		// digest wherever the directory is.
		fmt.Fprintf(h, "\n%s\x00%s", filepath.Base(f.name), f.digest)
		for j := range f.doc.Extend {
			e := &f.doc.Extend[j]
			byClass[e.Class] = append(byClass[e.Class], ClassExtension{File: f.name, Extension: e})
		}
	}
	np := *base
	np.base = base
	np.fragments = frags
	np.digest = hex.EncodeToString(h.Sum(nil))
	np.classes = make([]*Class, len(base.classes))
	np.byName = make(map[string]*Class, len(base.classes))
	if prev != nil && prev.Base() != base {
		prev = nil
	}
	for i, c := range base.classes {
		exts := byClass[c.Name]
		var old *Class
		if prev != nil {
			old = prev.classes[i]
		}
		switch j := oneChanged(old, exts); {
		case len(exts) == 0:
		case j == -1:
			c = old // the same extensions: the same class
		case j >= 0:
			if nc := old.replaceExtension(j, exts, base.source); nc != nil {
				c = nc
				break
			}
			c = c.extend(exts, base.source)
		default:
			c = c.extend(exts, base.source)
		}
		np.classes[i] = c
		np.byName[c.Name] = c
	}
	return &np, nil
}

// oneChanged compares old's extensions with exts: -1 when they are the
// same, j when only extension j differs and it is the same file's (with
// exact origins only, old and new version), else -2.
func oneChanged(old *Class, exts []ClassExtension) int {
	if old == nil || len(old.exts) != len(exts) {
		return -2
	}
	j := -1
	for i := range exts {
		if old.exts[i] == exts[i] {
			continue
		}
		if j >= 0 || old.exts[i].File != exts[i].File {
			return -2
		}
		j = i
	}
	if j >= 0 && (hasWildcard(old.exts[j].patterns) || hasWildcard(exts[j].patterns)) {
		return -2
	}
	return j
}

func hasWildcard(ps []origin.Pattern) bool {
	for i := range ps {
		if ps[i].Wildcard {
			return true
		}
	}
	return false
}

// replaceExtension returns a copy of c in which extension j is exts[j]
// (same file, new version): its old origins lose its grant, its new ones
// gain it. Neither version has wildcards (see oneChanged); when a wildcard
// of another source covers one of their origins, whose grant then depends
// on coverage, it returns nil and the class is rebuilt instead.
func (c *Class) replaceExtension(j int, exts []ClassExtension, baseName string) *Class {
	old := c.exts[j]
	if c.grants.HasWildcards() {
		for _, ps := range [][]origin.Pattern{old.patterns, exts[j].patterns} {
			for _, p := range ps {
				if _, _, covered := c.grants.Covering(p); covered {
					return nil
				}
			}
		}
	}
	nc := *c
	nc.exts = exts
	b := &grantBuilder{spec: c.Spec, base: baseName, exts: exts, cache: map[string]*Grant{}}
	m := c.grants.Clone()
	src := j + 1
	rest := make([]int, 0, 4)
	for i := range old.patterns {
		k := exactKey(old.patterns, old.AllowOrigins, i)
		g, ok := m.GetExact(k)
		if !ok || !slices.Contains(g.srcs, src) {
			continue
		}
		rest = rest[:0]
		for _, s := range g.srcs {
			if s != src {
				rest = append(rest, s)
			}
		}
		if len(rest) == 0 {
			m.DeleteExact(k)
		} else {
			m.PutExact(k, b.get(rest))
		}
	}
	single := b.get([]int{src})
	e := exts[j]
	for i := range e.patterns {
		k := exactKey(e.patterns, e.AllowOrigins, i)
		g, ok := m.GetExact(k)
		switch {
		case !ok:
			g = single
		case slices.Contains(g.srcs, src):
			continue
		default:
			g = b.union(g, single)
		}
		m.PutExact(k, g)
	}
	nc.grants = m
	return &nc
}

// Base is the base policy p was built from by WithFragments, or p itself.
func (p *Policy) Base() *Policy {
	if p.base != nil {
		return p.base
	}
	return p
}

// Fragments returns the fragments merged into p, in name order. Callers
// must not modify it.
func (p *Policy) Fragments() []*Fragment { return p.fragments }

// Extensions returns the fragments' extensions of the class, in fragment
// name order. Callers must not modify it.
func (c *Class) Extensions() []ClassExtension { return c.exts }

// Delegated reports whether the base policy lets fragments extend c.
func (c *Class) Delegated() bool { return c.Spec != nil && c.Spec.Delegate != nil }

// Grant returns what the class grants the request origin raw (nil when
// raw is not allowed): the provenance of an allowed origin.
func (c *Class) Grant(raw string) *Grant {
	o, ok := origin.Parse(raw)
	if !ok {
		return nil
	}
	g, _ := c.grants.Lookup(raw, o)
	return g
}

// extend returns a copy of c whose allowlist also holds the extensions'
// origins, each entry mapped to the grant of the sources that granted it.
func (c *Class) extend(exts []ClassExtension, baseName string) *Class {
	nc := *c
	nc.exts = exts
	b := &grantBuilder{spec: c.Spec, base: baseName, exts: exts, cache: map[string]*Grant{}}
	total, wild := 0, 0
	count := func(ps []origin.Pattern) {
		total += len(ps)
		for i := range ps {
			if ps[i].Wildcard {
				wild++
			}
		}
	}
	count(c.Spec.patterns)
	for _, e := range exts {
		count(e.patterns)
	}
	m := origin.NewMap[*Grant](total, wild)
	single := make([]*Grant, len(exts)+1)
	single[0] = c.base
	for i := range exts {
		single[i+1] = b.get([]int{i + 1})
	}
	put := func(p origin.Pattern, canon string, src int) {
		var g *Grant
		var ok bool
		if p.Wildcard {
			g, ok = m.Get(p)
		} else {
			g, ok = m.GetExact(canon)
		}
		switch {
		case !ok:
			g = single[src]
		case slices.Contains(g.srcs, src):
			return
		default:
			g = b.union(g, single[src])
		}
		if p.Wildcard {
			m.Put(p, g)
		} else {
			m.PutExact(canon, g)
		}
	}
	for i := range c.Spec.patterns {
		put(c.Spec.patterns[i], exactKey(c.Spec.patterns, c.Spec.AllowOrigins, i), 0)
	}
	for j, e := range exts {
		for i := range e.patterns {
			put(e.patterns[i], exactKey(e.patterns, e.AllowOrigins, i), j+1)
		}
	}
	if wild > 0 {
		coverage(&m, b, c.Spec, exts)
	}
	nc.grants = m
	return &nc
}

// exactKey is the canonical spelling of an exact pattern: the normalised
// list entry when patterns and entries line up (they do in a validated
// document), else the pattern re-serialized.
func exactKey(ps []origin.Pattern, list []string, i int) string {
	switch {
	case ps[i].Wildcard:
		return ""
	case len(ps) == len(list):
		return list[i]
	}
	return ps[i].String()
}

// coverage gives every entry that a wildcard entry also covers the union
// of both grants, so that the lookup's single answer (exact first, then
// the longest wildcard suffix) carries every granting file's additions.
// Wildcards are visited shortest suffix first, so the covering entry's
// grant is final when it is read.
func coverage(m *origin.Map[*Grant], b *grantBuilder, base *ClassSpec, exts []ClassExtension) {
	type entry struct {
		p   origin.Pattern
		key string // exactKey, "" for a wildcard
	}
	all := make([]entry, 0, m.Len())
	add := func(ps []origin.Pattern, list []string) {
		for i := range ps {
			all = append(all, entry{ps[i], exactKey(ps, list, i)})
		}
	}
	add(base.patterns, base.AllowOrigins)
	for _, e := range exts {
		add(e.patterns, e.AllowOrigins)
	}
	slices.SortStableFunc(all, func(x, y entry) int {
		switch {
		case x.p.Wildcard && !y.p.Wildcard:
			return -1
		case !x.p.Wildcard && y.p.Wildcard:
			return 1
		case x.p.Wildcard:
			return len(x.p.Host) - len(y.p.Host)
		}
		return 0
	})
	for _, e := range all {
		var g *Grant
		var ok bool
		if e.p.Wildcard {
			g, ok = m.Get(e.p)
		} else {
			g, ok = m.GetExact(e.key)
		}
		if !ok {
			continue
		}
		cov, _, ok := m.Covering(e.p)
		if !ok || cov.subset(g) {
			continue
		}
		if e.p.Wildcard {
			m.Put(e.p, b.union(g, cov))
		} else {
			m.PutExact(e.key, b.union(g, cov))
		}
	}
}
