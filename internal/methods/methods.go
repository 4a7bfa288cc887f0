// Package methods validates the HTTP methods a policy allows
// (RFC 9110 §9.1: method = token, case-sensitive).
package methods

import "strings"

// Safelisted methods never need a preflight and are always allowed
// (Fetch §2.2.1 "CORS-safelisted method").
func Safelisted(m string) bool { return m == "GET" || m == "HEAD" || m == "POST" }

// Forbidden methods cannot be used by scripts at all (Fetch §2.2.1
// "forbidden method"), compared case-insensitively.
func Forbidden(m string) bool {
	switch strings.ToUpper(m) {
	case "CONNECT", "TRACE", "TRACK":
		return true
	}
	return false
}

// standard methods whose lower-case spelling browsers normalise to upper
// case (Fetch §2.2.1 "normalize"); listing "patch" would never match the
// "PATCH" a browser sends, and listing "get" is a likely typo.
var standard = map[string]bool{"DELETE": true, "GET": true, "HEAD": true, "OPTIONS": true, "POST": true, "PUT": true, "PATCH": true}

// Misspelled reports whether m is a non-upper-case spelling of a standard
// method, and returns the intended spelling.
func Misspelled(m string) (string, bool) {
	up := strings.ToUpper(m)
	return up, standard[up] && up != m
}

// Set is a class's allow_methods. Methods compare case-sensitively
// (RFC 9110 §9.1), as a browser sends them in
// Access-Control-Request-Method.
type Set struct {
	names map[string]struct{}
	list  []string
}

// NewSet builds a set from validated method names.
func NewSet(names []string) Set {
	s := Set{names: make(map[string]struct{}, len(names))}
	for _, m := range names {
		if _, dup := s.names[m]; !dup {
			s.names[m] = struct{}{}
			s.list = append(s.list, m)
		}
	}
	return s
}

// List returns the names in the order given, without duplicates: the
// Access-Control-Allow-Methods value, once joined.
func (s *Set) List() []string { return s.list }

// Allows reports whether a preflight asking for method m passes: m is
// listed or is a CORS-safelisted method (Fetch §4.8 "CORS-preflight
// fetch": a network error only when the method is in neither). It never
// allocates.
func (s *Set) Allows(m string) bool {
	if _, ok := s.names[m]; ok {
		return true
	}
	return Safelisted(m)
}
