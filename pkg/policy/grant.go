package policy

import (
	"slices"
	"strconv"
	"strings"

	"github.com/cors-authz/cors-authz/internal/headers"
	"github.com/cors-authz/cors-authz/internal/methods"
)

// Grant is what a class grants the origins of one allowlist entry: the
// class's own methods and headers plus the additions of every fragment
// file that granted the origin, and never another fragment's. The class's
// allowlist maps each entry to its Grant, so one lookup finds both whether
// an origin is allowed and what it may do; the header values are prepared
// once, when the policy is compiled.
type Grant struct {
	// AllowMethods, AllowHeaders and ExposeHeaders are the effective
	// lists: the class's own, then the fragments' additions.
	AllowMethods  []string
	AllowHeaders  []string
	ExposeHeaders []string

	files []string // who granted the origin: the base policy and/or fragments
	srcs  []int    // the same as indexes: 0 the base class, i the class's extension i-1

	methods methods.Set // AllowMethods (case-sensitive)
	headers headerSet   // AllowHeaders (lower case)
	acam    string      // Access-Control-Allow-Methods
	acah    string      // Access-Control-Allow-Headers (when not reflecting)
	aceh    string      // Access-Control-Expose-Headers
}

// Files names the files that granted the origin, base policy first, then
// fragments in name order: the provenance explain and /policy show.
func (g *Grant) Files() []string { return g.files }

// newGrant prepares the grant of the class s extended by exts.
func newGrant(s *ClassSpec, exts []*Extension) *Grant {
	g := &Grant{}
	seen := map[string]bool{}
	add := func(list []string, dst *[]string, fold bool) {
		for _, v := range list {
			k := v
			if fold {
				k = strings.ToLower(v)
			}
			if !seen[k] {
				seen[k] = true
				*dst = append(*dst, v)
			}
		}
	}
	add(s.AllowMethods, &g.AllowMethods, false)
	for _, e := range exts {
		add(e.AllowMethods, &g.AllowMethods, false)
	}
	clear(seen)
	add(s.AllowHeaders, &g.AllowHeaders, true)
	for _, e := range exts {
		add(e.AllowHeaders, &g.AllowHeaders, true)
	}
	clear(seen)
	add(s.ExposeHeaders, &g.ExposeHeaders, true)
	for _, e := range exts {
		add(e.ExposeHeaders, &g.ExposeHeaders, true)
	}
	g.methods = methods.NewSet(g.AllowMethods)
	g.acam = strings.Join(g.methods.List(), ", ")
	g.headers = headers.NewSet(g.AllowHeaders)
	var hs []string
	for _, h := range g.AllowHeaders {
		if h != "*" {
			hs = append(hs, strings.ToLower(h))
		}
	}
	g.acah = strings.Join(hs, ", ")
	g.aceh = strings.Join(g.ExposeHeaders, ", ")
	return g
}

// grantBuilder makes the grants of one extended class, one per distinct
// set of granting sources, so that origins sharing sources share a Grant.
type grantBuilder struct {
	spec  *ClassSpec
	base  string // the base policy's name
	exts  []ClassExtension
	cache map[string]*Grant
	key   []byte
}

// get returns the grant of the sorted, distinct sources srcs.
func (b *grantBuilder) get(srcs []int) *Grant {
	b.key = b.key[:0]
	for _, s := range srcs {
		b.key = strconv.AppendInt(b.key, int64(s), 10)
		b.key = append(b.key, ',')
	}
	if g, ok := b.cache[string(b.key)]; ok {
		return g
	}
	var exts []*Extension
	files := make([]string, 0, len(srcs))
	for _, s := range srcs {
		if s == 0 {
			files = append(files, b.base)
			continue
		}
		exts = append(exts, b.exts[s-1].Extension)
		files = append(files, b.exts[s-1].File)
	}
	g := newGrant(b.spec, exts)
	g.files, g.srcs = files, slices.Clone(srcs)
	b.cache[string(b.key)] = g
	return g
}

// union returns the grant of a's sources together with b's.
func (b *grantBuilder) union(x, y *Grant) *Grant {
	srcs := append(slices.Clone(x.srcs), y.srcs...)
	slices.Sort(srcs)
	return b.get(slices.Compact(srcs))
}

// subset reports whether every source of x is one of y's.
func (x *Grant) subset(y *Grant) bool {
	for _, s := range x.srcs {
		if _, ok := slices.BinarySearch(y.srcs, s); !ok {
			return false
		}
	}
	return true
}
