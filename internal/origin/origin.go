// Package origin parses serialized origins (Fetch §3.2.5 "origin" header,
// HTML §7.5 "serialization of an origin") and holds allowlists of them.
//
// Two grammars live here. A request's Origin is parsed strictly and
// without allocating: a browser sends the ASCII serialization of an origin,
// so anything else (upper case, a path, a default port, whitespace, a
// comma-joined list, "null") is simply not an origin we can allow. An
// allowlist entry is parsed leniently and normalised (lower case, default
// port dropped, Unicode host to punycode), each change reported, because
// operators write them by hand.
package origin

import "strings"

// MaxLen bounds a request Origin: a 64-byte scheme, "://", a 253-byte host
// name, ":" and a 5-digit port. Longer values are refused before any work.
const MaxLen = 64 + 3 + 253 + 1 + 5

// Origin is a parsed request origin. Its fields are substrings of the value
// it was parsed from.
type Origin struct {
	Scheme string
	Host   string // lower case; IPv6 literals keep their brackets
	Port   string // "" when absent (default ports are never present)
}

// Parse parses a request's Origin header value, which must be a serialized
// tuple origin in canonical form: scheme "://" host [ ":" port ].
// It never allocates.
func Parse(s string) (Origin, bool) {
	if len(s) == 0 || len(s) > MaxLen {
		return Origin{}, false
	}
	i := strings.Index(s, "://")
	if i <= 0 || !validScheme(s[:i]) {
		return Origin{}, false
	}
	o := Origin{Scheme: s[:i]}
	rest := s[i+3:]
	if rest == "" {
		return Origin{}, false
	}
	var hostEnd int
	if rest[0] == '[' {
		j := strings.IndexByte(rest, ']')
		if j < 2 || !validIPv6Chars(rest[1:j]) {
			return Origin{}, false
		}
		hostEnd = j + 1
	} else {
		hostEnd = strings.IndexByte(rest, ':')
		if hostEnd < 0 {
			hostEnd = len(rest)
		}
		if !validHostName(rest[:hostEnd]) {
			return Origin{}, false
		}
	}
	o.Host = rest[:hostEnd]
	if hostEnd < len(rest) {
		if rest[hostEnd] != ':' {
			return Origin{}, false
		}
		o.Port = rest[hostEnd+1:]
		if !validPort(o.Port) || o.Port == DefaultPort(o.Scheme) {
			return Origin{}, false
		}
	}
	return o, true
}

// DefaultPort is the port a browser elides from an origin of scheme.
func DefaultPort(scheme string) string {
	switch scheme {
	case "https", "wss":
		return "443"
	case "http", "ws":
		return "80"
	}
	return ""
}

// validScheme: RFC 3986 §3.1 scheme, lower case only.
func validScheme(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// validHostName accepts a lower-case ASCII host: labels of letters, digits,
// '-' and '_' separated by single dots (URL Standard host parsing yields
// this for domains once punycoded and lower-cased).
func validHostName(s string) bool {
	if len(s) == 0 || len(s) > 253 || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	prevDot := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			prevDot = false
		case c == '.':
			if prevDot {
				return false
			}
			prevDot = true
		default:
			return false
		}
	}
	return true
}

func validIPv6Chars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == ':' || c == '.') {
			return false
		}
	}
	return true
}

// validPort: 1 to 65535, decimal, no leading zero.
func validPort(s string) bool {
	if len(s) == 0 || len(s) > 5 || s[0] == '0' {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}
