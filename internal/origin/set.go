package origin

import "strings"

// Set is a compiled allowlist: exact origins in a hash set, wildcard
// patterns ("https://*.example.com") in a hash set keyed by (scheme,
// suffix, port). A lookup costs one probe for the exact origin plus one
// probe per dot in the host, whatever the number of entries.
type Set struct {
	exact map[string]struct{}
	wild  map[wildKey]string // → the entry's canonical spelling
}

type wildKey struct{ scheme, suffix, port string }

// NewSet builds a set from validated patterns.
func NewSet(ps []Pattern) Set {
	var s Set
	wild := 0
	for _, p := range ps {
		if p.Wildcard {
			wild++
		}
	}
	if n := len(ps) - wild; n > 0 {
		s.exact = make(map[string]struct{}, n)
	}
	if wild > 0 {
		s.wild = make(map[wildKey]string, wild)
	}
	for _, p := range ps {
		s.Add(p)
	}
	return s
}

// Add inserts a validated pattern.
func (s *Set) Add(p Pattern) {
	if p.Wildcard {
		if s.wild == nil {
			s.wild = make(map[wildKey]string)
		}
		s.wild[wildKey{p.Scheme, p.Host, p.Port}] = p.String()
		return
	}
	if s.exact == nil {
		s.exact = make(map[string]struct{})
	}
	s.exact[p.String()] = struct{}{}
}

// Len is the number of entries.
func (s *Set) Len() int { return len(s.exact) + len(s.wild) }

// Contains reports whether the request origin raw, parsed as o, is allowed.
// A wildcard matches one or more labels in front of its suffix, never the
// suffix itself, and only with the same scheme and port. It never
// allocates.
func (s *Set) Contains(raw string, o Origin) bool {
	if _, ok := s.exact[raw]; ok {
		return true
	}
	_, ok := s.wildcardFor(o.Scheme, o.Host, o.Port)
	return ok
}

// wildcardFor returns the canonical spelling of the wildcard entry that
// allows an origin with this scheme, host and port, if any: one probe per
// dot in host. IP literals are never under a wildcard.
func (s *Set) wildcardFor(scheme, host, port string) (string, bool) {
	if len(s.wild) == 0 || strings.HasPrefix(host, "[") {
		return "", false
	}
	for {
		i := strings.IndexByte(host, '.')
		if i <= 0 {
			return "", false
		}
		host = host[i+1:]
		if w, ok := s.wild[wildKey{scheme, host, port}]; ok {
			return w, true
		}
	}
}

// Covering returns the canonical spelling of an entry of s that allows
// every origin the pattern p allows, canon being p.String(): canon itself
// when p is an entry, else a wildcard with p's scheme and port whose
// suffix is a proper dot-separated suffix of p's host (for a wildcard p,
// of its suffix). It agrees with Contains: every origin p allows is
// allowed by s when Covering finds an entry. It never allocates.
func (s *Set) Covering(canon string, p Pattern) (string, bool) {
	if p.Wildcard {
		if _, ok := s.wild[wildKey{p.Scheme, p.Host, p.Port}]; ok {
			return canon, true
		}
	} else if _, ok := s.exact[canon]; ok {
		return canon, true
	}
	return s.wildcardFor(p.Scheme, p.Host, p.Port)
}

// ContainsExact reports whether raw is one of the exact entries.
func (s *Set) ContainsExact(raw string) bool {
	_, ok := s.exact[raw]
	return ok
}
