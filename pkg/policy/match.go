package policy

import "strings"

// matcher is a compiled MatchSpec.
type matcher struct {
	hosts    []hostRule
	prefixes []string
	paths    map[string]struct{}
}

type hostRule struct {
	name     string // lower case; for a wildcard, the suffix including the leading '.'
	port     string // "" = any port
	wildcard bool
}

func compileMatch(m MatchSpec) matcher {
	var mt matcher
	for _, h := range m.Hosts {
		var r hostRule
		host := h
		if strings.HasPrefix(h, "[") {
			j := strings.IndexByte(h, ']')
			host, r.port = h[:j+1], strings.TrimPrefix(h[j+1:], ":")
		} else if j := strings.LastIndexByte(h, ':'); j >= 0 {
			host, r.port = h[:j], h[j+1:]
		}
		if rest, ok := strings.CutPrefix(host, "*"); ok {
			r.wildcard, r.name = true, rest // ".example.com"
		} else {
			r.name = host
		}
		mt.hosts = append(mt.hosts, r)
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
// optional) and path (query ignored) satisfy every rule given. A matcher
// with no rules at all matches nothing: validation refuses such a class,
// and omission must never widen (SEC-13, default deny).
func (m *matcher) matches(authority, path string) bool {
	if len(m.hosts) == 0 && len(m.prefixes) == 0 && m.paths == nil {
		return false
	}
	if len(m.hosts) > 0 && !m.matchHost(authority) {
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

func (m *matcher) matchHost(authority string) bool {
	host, port := splitHostPort(authority)
	for i := range m.hosts {
		r := &m.hosts[i]
		if r.port != "" && r.port != port {
			continue
		}
		if r.wildcard {
			if len(host) > len(r.name) && hasSuffixFold(host, r.name) {
				return true
			}
		} else if strings.EqualFold(host, r.name) {
			return true
		}
	}
	return false
}

func hasSuffixFold(s, suffix string) bool {
	return strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// splitHostPort splits an :authority into host and port without
// allocating; IPv6 literals keep their brackets.
func splitHostPort(a string) (host, port string) {
	if strings.HasPrefix(a, "[") {
		j := strings.IndexByte(a, ']')
		if j < 0 {
			return a, ""
		}
		return a[:j+1], strings.TrimPrefix(a[j+1:], ":")
	}
	if j := strings.LastIndexByte(a, ':'); j >= 0 {
		return a[:j], a[j+1:]
	}
	return a, ""
}
