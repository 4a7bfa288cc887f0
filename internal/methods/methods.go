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

// normalised are the methods whose any-case spelling browsers upper-case
// before sending (Fetch §2.2.1 "normalize": DELETE, GET, HEAD, OPTIONS,
// POST, PUT). Every other method, PATCH included, goes out exactly as the
// script wrote it: fetch(url, {method: "patch"}) preflights with
// Access-Control-Request-Method: patch.
var normalised = map[string]bool{"DELETE": true, "GET": true, "HEAD": true, "OPTIONS": true, "POST": true, "PUT": true}

// Misspelled reports whether m is a non-upper-case spelling of a method
// browsers normalise, which no browser ever sends (listing "get" is a
// typo), and returns the spelling they do send.
func Misspelled(m string) (string, bool) {
	up := strings.ToUpper(m)
	return up, normalised[up] && up != m
}

// SentAsWritten reports whether m is a method browsers do not normalise
// and that has lower-case letters: only a request spelled exactly m (a
// script's fetch(url, {method: m})) matches it, never the upper-case form.
func SentAsWritten(m string) bool {
	up := strings.ToUpper(m)
	return !normalised[up] && up != m
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
