// Package headers validates header names (RFC 9110 §5.1 field-name =
// token) and checks a preflight's Access-Control-Request-Headers list
// against an allowed set (Fetch §4.8 "CORS-preflight fetch", step 7).
package headers

import "strings"

// MaxACRHLen bounds the Access-Control-Request-Headers value a preflight
// may carry. Browsers send the names of the request's non-safelisted
// headers; a few hundred bytes is typical. A longer list is refused
// before it is read.
const MaxACRHLen = 4096

// MaxNameLen bounds one requested header name looked up in a set: a
// longer name is allowed only by "*", even when listed.
const MaxNameLen = 128

// IsToken reports whether s is a non-empty RFC 9110 token.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// forbidden request-header names (Fetch §2.2.2 "forbidden request-header").
// Scripts cannot set them, so allowing them is always a mistake.
var forbidden = map[string]bool{
	"accept-charset": true, "accept-encoding": true,
	"access-control-request-headers": true, "access-control-request-method": true,
	"access-control-request-private-network": true,
	"connection":                             true, "content-length": true, "cookie": true, "cookie2": true,
	"date": true, "dnt": true, "expect": true, "host": true, "keep-alive": true,
	"origin": true, "referer": true, "set-cookie": true, "te": true, "trailer": true,
	"transfer-encoding": true, "upgrade": true, "via": true,
}

// IsForbiddenRequestHeader reports whether a (lower-case) name is a Fetch
// forbidden request-header name, including the Proxy- and Sec- prefixes.
func IsForbiddenRequestHeader(lower string) bool {
	return forbidden[lower] || strings.HasPrefix(lower, "proxy-") || strings.HasPrefix(lower, "sec-")
}

// IsCORSResponseHeader reports whether a (lower-case) name is one of the
// CORS protocol's response headers, which never belong in a request.
func IsCORSResponseHeader(lower string) bool {
	return strings.HasPrefix(lower, "access-control-allow-") ||
		lower == "access-control-expose-headers" || lower == "access-control-max-age"
}

// Set is a set of allowed request-header names, compared
// case-insensitively (header names are case-insensitive, RFC 9110 §5.1).
type Set struct {
	names map[string]struct{} // lower case
	// Any is the "*" entry: every name except Authorization, which must
	// be listed by name (Fetch §3.2.6, "Access-Control-Allow-Headers").
	Any bool
}

// NewSet builds a set from validated names ("*" sets Any).
func NewSet(names []string) Set {
	s := Set{names: make(map[string]struct{}, len(names))}
	for _, n := range names {
		if n == "*" {
			s.Any = true
			continue
		}
		s.names[strings.ToLower(n)] = struct{}{}
	}
	return s
}

// Result of checking an Access-Control-Request-Headers value.
type Result uint8

const (
	OK         Result = iota
	NotAllowed        // a well-formed name that the set does not allow
	Invalid           // not a comma-separated list of tokens, or too long
)

// Check checks every name in an Access-Control-Request-Headers value:
// a comma-separated list whose elements may carry optional whitespace
// (SP or HTAB) and may be empty. It runs in time linear in len(acrh),
// does not allocate, and returns the first offending element.
func (s *Set) Check(acrh string) (Result, string) {
	if len(acrh) > MaxACRHLen {
		return Invalid, ""
	}
	var buf [MaxNameLen]byte
	for rest := acrh; ; {
		elem, tail, more := strings.Cut(rest, ",")
		elem = trimOWS(elem)
		if elem != "" {
			if !IsToken(elem) {
				return Invalid, elem
			}
			if !s.allows(elem, &buf) {
				return NotAllowed, elem
			}
		}
		if !more {
			return OK, ""
		}
		rest = tail
	}
}

// Allows reports whether a preflight asking for the request-header name
// passes the set (Fetch §4.8 "CORS-preflight fetch": each name of
// Access-Control-Request-Headers must be listed, or covered by "*", which
// never covers Authorization, Fetch §3.2.6). A name longer than 128 bytes
// passes only a "*" set.
func (s *Set) Allows(name string) bool {
	var buf [MaxNameLen]byte
	return s.allows(name, &buf)
}

func (s *Set) allows(name string, buf *[MaxNameLen]byte) bool {
	if len(name) == len("authorization") && strings.EqualFold(name, "authorization") {
		_, ok := s.names["authorization"]
		return ok
	}
	if s.Any {
		return true
	}
	if len(name) > MaxNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	_, ok := s.names[string(buf[:len(name)])]
	return ok
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// IsPrintable reports whether s has only visible ASCII and spaces, so it
// can be echoed in a response header verbatim.
func IsPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' {
			return false
		}
	}
	return true
}
