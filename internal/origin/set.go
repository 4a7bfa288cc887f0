package origin

import "strings"

// Set is a compiled allowlist: exact origins in a hash set, wildcard
// patterns ("https://*.example.com") in a hash set keyed by (scheme,
// suffix, port). A lookup costs one probe for the exact origin plus one
// probe per dot in the host, whatever the number of entries.
type Set struct {
	exact map[string]struct{}
	wild  map[wildKey]struct{}
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
		s.wild = make(map[wildKey]struct{}, wild)
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
			s.wild = make(map[wildKey]struct{})
		}
		s.wild[wildKey{p.Scheme, p.Host, p.Port}] = struct{}{}
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
// suffix itself, and only with the same scheme and port.
func (s *Set) Contains(raw string, o Origin) bool {
	if _, ok := s.exact[raw]; ok {
		return true
	}
	if len(s.wild) == 0 || strings.HasPrefix(o.Host, "[") {
		return false
	}
	host := o.Host
	for {
		i := strings.IndexByte(host, '.')
		if i <= 0 {
			return false
		}
		host = host[i+1:]
		if _, ok := s.wild[wildKey{o.Scheme, host, o.Port}]; ok {
			return true
		}
	}
}

// ContainsExact reports whether raw is one of the exact entries.
func (s *Set) ContainsExact(raw string) bool {
	_, ok := s.exact[raw]
	return ok
}
