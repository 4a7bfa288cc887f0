// Package hosts holds the match.hosts rules of a policy: how an entry is
// written and normalised, how a request's :authority is matched against
// the entries (RFC 9110 §7.2: the target host and optional port, which
// HTTP/2 and HTTP/3 carry in ":authority"), and how two entries relate as
// sets of host:port values.
//
// An entry is a host name ("api.example.com"), a wildcard ("*." and a
// host name: one or more labels in front of the name, never the name
// itself) or an IP literal (IPv6 in brackets, RFC 3986 §3.2.2), each
// optionally followed by ":port". Without a port it matches every port;
// with one, it matches an :authority with that port, or without a port
// when it is the request scheme's default (MatchAnyPort).
// Host names compare case-insensitively (RFC 9110 §4.2.3).
package hosts

import (
	"errors"
	"net/netip"
	"strings"
)

// Errors returned by Normalise.
var (
	ErrIPv6 = errors.New("invalid IPv6 literal")
	ErrPort = errors.New("invalid port")
	ErrHost = errors.New(`invalid host: use "example.com" or "*.example.com", optionally with :port`)
	ErrName = errors.New("invalid host name")
)

// Normalise checks a match.hosts entry as written by an operator and
// returns its canonical spelling (lower case, one trailing dot of the
// name dropped: requests match with or without it, see SplitHostPort).
func Normalise(h string) (string, error) {
	low := strings.ToLower(h)
	host, port := low, ""
	if strings.HasPrefix(low, "[") {
		j := strings.IndexByte(low, ']')
		if j < 0 {
			return "", ErrIPv6
		}
		host, port = low[:j+1], strings.TrimPrefix(low[j+1:], ":")
		if a, err := netip.ParseAddr(host[1:j]); err != nil || !a.Is6() {
			return "", ErrIPv6
		}
	} else if j := strings.LastIndexByte(low, ':'); j >= 0 {
		host, port = low[:j], low[j+1:]
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return "", ErrPort
		}
	}
	if fqdn, ok := strings.CutSuffix(host, "."); ok && !strings.HasPrefix(host, "[") {
		host = fqdn
		low = host
		if port != "" {
			low += ":" + port
		}
	}
	name := strings.TrimPrefix(host, "*.")
	if name == "" || strings.Contains(name, "*") {
		return "", ErrHost
	}
	if !strings.HasPrefix(host, "[") {
		// Empty labels name no host (RFC 1034 §3.1); after the one
		// trailing dot, none is left.
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
			return "", ErrName
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
				return "", ErrName
			}
		}
	}
	return low, nil
}

// Pattern is one parsed match.hosts entry.
type Pattern struct {
	// Name is the host, lower case; for a wildcard, the suffix a matching
	// host ends with, including its leading '.' (".example.com").
	Name     string
	Port     string // "" = any port
	Wildcard bool
}

// Parse splits an entry that Normalise accepted into a Pattern.
func Parse(entry string) Pattern {
	var p Pattern
	host := entry
	if strings.HasPrefix(entry, "[") {
		if j := strings.IndexByte(entry, ']'); j >= 0 {
			host, p.Port = entry[:j+1], strings.TrimPrefix(entry[j+1:], ":")
		}
	} else if j := strings.LastIndexByte(entry, ':'); j >= 0 {
		host, p.Port = entry[:j], entry[j+1:]
	}
	if rest, ok := strings.CutPrefix(host, "*"); ok {
		p.Wildcard, host = true, rest // ".example.com"
	}
	p.Name = strings.ToLower(host)
	return p
}

// ParseAll parses a list of entries.
func ParseAll(entries []string) []Pattern {
	ps := make([]Pattern, 0, len(entries))
	for _, e := range entries {
		ps = append(ps, Parse(e))
	}
	return ps
}

// Match reports whether a request's host and port (as SplitHostPort
// returns them) satisfy p. A wildcard needs at least one character in
// front of its suffix. It never allocates.
func (p *Pattern) Match(host, port string) bool {
	if p.Port != "" && p.Port != port {
		return false
	}
	if p.Wildcard {
		return len(host) > len(p.Name) && strings.EqualFold(host[len(host)-len(p.Name):], p.Name)
	}
	return strings.EqualFold(host, p.Name)
}

// MatchAny reports whether a request's :authority (port optional)
// satisfies one of ps. It never allocates.
func MatchAny(ps []Pattern, authority string) bool {
	return MatchAnyPort(ps, authority, "")
}

// MatchAnyPort is MatchAny for an :authority whose missing port is
// defaultPort, the request scheme's default port ("443" for https): a URI
// with the default port written and one without it name the same resource
// (RFC 9110 §4.2.2, §4.2.3), and browsers never write it, so
// "admin.example.com" over https meets the entry "admin.example.com:443".
// With defaultPort "", a missing port matches only entries without one.
func MatchAnyPort(ps []Pattern, authority, defaultPort string) bool {
	host, port := SplitHostPort(authority)
	if port == "" {
		port = defaultPort
	}
	for i := range ps {
		if ps[i].Match(host, port) {
			return true
		}
	}
	return false
}

// SplitHostPort splits an :authority (RFC 3986 §3.2: host [ ":" port ])
// into host and port without allocating; IPv6 literals keep their
// brackets. One trailing dot of a host name is dropped: "example.com." is
// the fully qualified spelling of the same DNS name (RFC 1034 §3.1), which
// the same server answers, so it must meet the same host rules.
func SplitHostPort(a string) (host, port string) {
	if strings.HasPrefix(a, "[") {
		j := strings.IndexByte(a, ']')
		if j < 0 {
			return a, ""
		}
		return a[:j+1], strings.TrimPrefix(a[j+1:], ":")
	}
	host = a
	if j := strings.LastIndexByte(a, ':'); j >= 0 {
		host, port = a[:j], a[j+1:]
	}
	return strings.TrimSuffix(host, "."), port
}

// Overlaps reports whether some host:port matches both p and q.
func (p Pattern) Overlaps(q Pattern) bool {
	if p.Port != "" && q.Port != "" && p.Port != q.Port {
		return false
	}
	switch {
	case !p.Wildcard && !q.Wildcard:
		return p.Name == q.Name
	case p.Wildcard && q.Wildcard:
		// "x" + the longer suffix matches both when one suffix ends
		// with the other; otherwise no host ends with both.
		return strings.HasSuffix(p.Name, q.Name) || strings.HasSuffix(q.Name, p.Name)
	case p.Wildcard:
		return p.Match(q.Name, p.Port)
	default:
		return q.Match(p.Name, q.Port)
	}
}

// Covers reports whether p matches every host:port that q matches.
func (p Pattern) Covers(q Pattern) bool {
	if p.Port != "" && p.Port != q.Port {
		return false
	}
	switch {
	case !p.Wildcard:
		return !q.Wildcard && p.Name == q.Name
	case q.Wildcard:
		return strings.HasSuffix(q.Name, p.Name)
	default:
		return p.Match(q.Name, q.Port)
	}
}
