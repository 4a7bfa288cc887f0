package diff

import (
	"slices"
	"strings"

	"github.com/cors-authz/cors-authz/internal/hosts"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// A MatchSpec selects requests by host and by path. Each dimension is a
// set: no entries means every host (every path); otherwise the union of
// the entries. A request matches when both dimensions hold. The functions
// here answer two questions about such sets, erring on the side of "yes"
// for overlaps and "no" for coverage, so that the diff never misses a
// change of class: can one request match both specs, and does one spec
// match every request the other does.

// pathSet is the path dimension of a MatchSpec.
type pathSet struct {
	prefixes []string
	exact    []string
}

func (s pathSet) all() bool {
	return len(s.prefixes) == 0 && len(s.exact) == 0 || slices.Contains(s.prefixes, "/")
}

func (s pathSet) matches(path string) bool {
	if slices.Contains(s.exact, path) {
		return true
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

func pathsOverlap(a, b pathSet) bool {
	if a.all() || b.all() {
		return true
	}
	for _, p := range a.exact {
		if b.matches(p) {
			return true
		}
	}
	for _, p := range b.exact {
		if a.matches(p) {
			return true
		}
	}
	for _, p := range a.prefixes {
		for _, q := range b.prefixes {
			if strings.HasPrefix(p, q) || strings.HasPrefix(q, p) {
				return true
			}
		}
	}
	return false
}

// pathsCover: a matches every path b matches.
func pathsCover(a, b pathSet) bool {
	if a.all() {
		return true
	}
	if b.all() {
		return false
	}
	for _, p := range b.exact {
		if !a.matches(p) {
			return false
		}
	}
	for _, q := range b.prefixes {
		ok := false
		for _, p := range a.prefixes {
			if strings.HasPrefix(q, p) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

type matchSet struct {
	hosts []hosts.Pattern // empty: any host
	paths pathSet
}

func newMatchSet(m policy.MatchSpec) matchSet {
	return matchSet{hosts: hosts.ParseAll(m.Hosts), paths: pathSet{prefixes: m.PathPrefixes, exact: m.Paths}}
}

// matchOverlap reports whether some request may match both specs.
func matchOverlap(a, b policy.MatchSpec) bool {
	x, y := newMatchSet(a), newMatchSet(b)
	if !pathsOverlap(x.paths, y.paths) {
		return false
	}
	if len(x.hosts) == 0 || len(y.hosts) == 0 {
		return true
	}
	for _, h := range x.hosts {
		for _, k := range y.hosts {
			if h.Overlaps(k) {
				return true
			}
		}
	}
	return false
}

// matchCovers reports whether a matches every request b matches.
func matchCovers(a, b policy.MatchSpec) bool {
	x, y := newMatchSet(a), newMatchSet(b)
	if !pathsCover(x.paths, y.paths) {
		return false
	}
	if len(x.hosts) == 0 {
		return true
	}
	if len(y.hosts) == 0 {
		return false
	}
	for _, k := range y.hosts {
		ok := false
		for _, h := range x.hosts {
			if h.Covers(k) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// matchEqual compares two specs as sets.
func matchEqual(a, b policy.MatchSpec) bool {
	return sameSet(a.Hosts, b.Hosts, strings.ToLower) && sameSet(a.PathPrefixes, b.PathPrefixes, nil) && sameSet(a.Paths, b.Paths, nil)
}

// matchString renders a spec for a change line.
func matchString(m policy.MatchSpec) string {
	var parts []string
	if len(m.Hosts) > 0 {
		parts = append(parts, "hosts ["+strings.Join(m.Hosts, " ")+"]")
	}
	if len(m.PathPrefixes) > 0 {
		parts = append(parts, "path_prefixes ["+strings.Join(m.PathPrefixes, " ")+"]")
	}
	if len(m.Paths) > 0 {
		parts = append(parts, "paths ["+strings.Join(m.Paths, " ")+"]")
	}
	if len(parts) == 0 {
		return "every request"
	}
	return strings.Join(parts, " ")
}
