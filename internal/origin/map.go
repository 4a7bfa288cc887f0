package origin

import (
	"maps"
	"strings"
)

// Map is an allowlist whose entries carry a value: Lookup returns the value
// of the entry an origin matches, with the same cost as Set.Contains (one
// probe for the exact origin plus one per dot in the host). Exact entries
// win over wildcards, and among wildcards the longest suffix wins.
type Map[V any] struct {
	exact map[string]V
	wild  map[wildKey]V
}

// NewMap returns a map sized for n entries of which wild are wildcards.
func NewMap[V any](n, wild int) Map[V] {
	var m Map[V]
	if n-wild > 0 {
		m.exact = make(map[string]V, n-wild)
	}
	if wild > 0 {
		m.wild = make(map[wildKey]V, wild)
	}
	return m
}

// Put sets the value of a validated pattern, replacing any previous one.
func (m *Map[V]) Put(p Pattern, v V) {
	if p.Wildcard {
		if m.wild == nil {
			m.wild = make(map[wildKey]V)
		}
		m.wild[wildKey{p.Scheme, p.Host, p.Port}] = v
		return
	}
	if m.exact == nil {
		m.exact = make(map[string]V)
	}
	m.exact[p.String()] = v
}

// PutExact sets the value of an exact origin already in canonical form
// (Pattern.String of an exact pattern), saving the re-serialization.
func (m *Map[V]) PutExact(canon string, v V) {
	if m.exact == nil {
		m.exact = make(map[string]V)
	}
	m.exact[canon] = v
}

// Get returns the value stored for exactly this pattern.
func (m *Map[V]) Get(p Pattern) (V, bool) {
	if p.Wildcard {
		v, ok := m.wild[wildKey{p.Scheme, p.Host, p.Port}]
		return v, ok
	}
	v, ok := m.exact[p.String()]
	return v, ok
}

// GetExact is Get for an exact origin in canonical form.
func (m *Map[V]) GetExact(canon string) (V, bool) {
	v, ok := m.exact[canon]
	return v, ok
}

// Len is the number of entries.
func (m *Map[V]) Len() int { return len(m.exact) + len(m.wild) }

// HasWildcards reports whether any entry is a wildcard.
func (m *Map[V]) HasWildcards() bool { return len(m.wild) > 0 }

// Lookup returns the value of the entry that allows the request origin raw,
// parsed as o. The matching rules are Set.Contains's.
func (m *Map[V]) Lookup(raw string, o Origin) (V, bool) {
	if v, ok := m.exact[raw]; ok {
		return v, true
	}
	var zero V
	if len(m.wild) == 0 || strings.HasPrefix(o.Host, "[") {
		return zero, false
	}
	return m.wildcardFor(o.Scheme, o.Host, o.Port)
}

// Covering returns the value of the most specific wildcard entry that
// covers p other than p itself: for an exact pattern, a wildcard matching
// its origin; for a wildcard, one whose suffix is a proper suffix of p's.
func (m *Map[V]) Covering(p Pattern) (V, Pattern, bool) {
	var zero V
	if len(m.wild) == 0 || strings.HasPrefix(p.Host, "[") {
		return zero, Pattern{}, false
	}
	host := p.Host
	if p.Wildcard {
		// "*.a.b" is covered by "*.b" but not by itself: start past the
		// first label.
		i := strings.IndexByte(host, '.')
		if i <= 0 {
			return zero, Pattern{}, false
		}
		host = "x." + host
	}
	for {
		i := strings.IndexByte(host, '.')
		if i <= 0 {
			return zero, Pattern{}, false
		}
		host = host[i+1:]
		if v, ok := m.wild[wildKey{p.Scheme, host, p.Port}]; ok {
			if p.Wildcard && host == p.Host {
				continue
			}
			return v, Pattern{Scheme: p.Scheme, Host: host, Port: p.Port, Wildcard: true}, true
		}
	}
}

func (m *Map[V]) wildcardFor(scheme, host, port string) (V, bool) {
	for {
		i := strings.IndexByte(host, '.')
		if i <= 0 {
			var zero V
			return zero, false
		}
		host = host[i+1:]
		if v, ok := m.wild[wildKey{scheme, host, port}]; ok {
			return v, true
		}
	}
}

// Clone returns a copy of m that can be changed without changing m.
func (m *Map[V]) Clone() Map[V] {
	return Map[V]{exact: maps.Clone(m.exact), wild: maps.Clone(m.wild)}
}

// DeleteExact removes an exact origin in canonical form.
func (m *Map[V]) DeleteExact(canon string) { delete(m.exact, canon) }
