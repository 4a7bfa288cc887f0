package policy

import (
	"strings"

	"github.com/cors-authz/cors-authz/internal/hosts"
)

// matcher is a compiled MatchSpec.
type matcher struct {
	hosts    []hosts.Pattern
	prefixes []string
	paths    map[string]struct{}
}

func compileMatch(m MatchSpec) matcher {
	var mt matcher
	if len(m.Hosts) > 0 {
		mt.hosts = hosts.ParseAll(m.Hosts)
	}
	mt.prefixes = m.PathPrefixes
	if len(m.Paths) > 0 {
		mt.paths = make(map[string]struct{}, len(m.Paths))
		for _, p := range m.Paths {
			mt.paths[p] = struct{}{}
		}
	}
	return mt
}

// matches reports whether the request's host (":authority", port
// optional, defaultPort when it has none: the scheme's) and path (query
// ignored) satisfy every rule given. A matcher with no rules at all
// matches nothing: validation refuses such a class, and omission must
// never widen (SEC-13, default deny).
func (m *matcher) matches(authority, defaultPort, path string) bool {
	if len(m.hosts) == 0 && len(m.prefixes) == 0 && m.paths == nil {
		return false
	}
	if len(m.hosts) > 0 && !hosts.MatchAnyPort(m.hosts, authority, defaultPort) {
		return false
	}
	if len(m.prefixes) == 0 && m.paths == nil {
		return true
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if _, ok := m.paths[path]; ok {
		return true
	}
	for _, p := range m.prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}
