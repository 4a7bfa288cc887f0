package origin

import (
	"errors"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Pattern is one allowlist entry: an exact origin, or (Wildcard) every
// origin whose host has Host as a proper dot-separated suffix.
type Pattern struct {
	Scheme   string
	Host     string // for a wildcard, the suffix after "*."
	Port     string // "" for the scheme's default port
	Wildcard bool
}

// String is the canonical spelling of the pattern.
func (p Pattern) String() string {
	var b strings.Builder
	b.Grow(len(p.Scheme) + len("://*.") + len(p.Host) + 1 + len(p.Port))
	b.WriteString(p.Scheme)
	b.WriteString("://")
	if p.Wildcard {
		b.WriteString("*.")
	}
	b.WriteString(p.Host)
	if p.Port != "" {
		b.WriteByte(':')
		b.WriteString(p.Port)
	}
	return b.String()
}

// IsSecure reports whether the pattern's origins are potentially
// trustworthy (W3C Secure Contexts §3.1): not plain http, unless the host
// is localhost or a loopback address.
func (p Pattern) IsSecure() bool {
	if p.Scheme != "http" && p.Scheme != "ws" {
		return true
	}
	if p.Wildcard {
		return p.Host == "localhost"
	}
	if p.Host == "localhost" || strings.HasSuffix(p.Host, ".localhost") {
		return true
	}
	if a, err := netip.ParseAddr(strings.Trim(p.Host, "[]")); err == nil {
		return a.IsLoopback()
	}
	return false
}

// OnPublicSuffix reports whether a wildcard pattern's suffix is itself a
// public suffix (e.g. "com", "co.uk", "github.io"), where anyone can
// register a subdomain.
func (p Pattern) OnPublicSuffix() bool {
	if !p.Wildcard {
		return false
	}
	ps, _ := publicsuffix.PublicSuffix(p.Host)
	return ps == p.Host
}

// Errors returned by ParsePattern. Each names what is wrong in words an
// operator can act on.
var (
	ErrEmpty       = errors.New("empty origin")
	ErrAll         = errors.New(`"*" is not allowed: list the origins (the contract is to echo one exact origin, never "*")`)
	ErrNull        = errors.New(`"null" is not allowed: sandboxed iframes, file: pages and redirects all send it, so it cannot identify anyone`)
	ErrNoScheme    = errors.New(`not an origin: expected scheme://host[:port]`)
	ErrScheme      = errors.New("invalid scheme")
	ErrFile        = errors.New(`file: origins serialize as "null" and cannot be allowed`)
	ErrWhitespace  = errors.New("whitespace or control character in origin")
	ErrPath        = errors.New("an origin has no path, query or fragment (not even a trailing slash)")
	ErrUserinfo    = errors.New("an origin has no userinfo (user@)")
	ErrHost        = errors.New("invalid host")
	ErrPort        = errors.New("invalid port: expected 1-65535 with no leading zero")
	ErrWildcard    = errors.New(`invalid wildcard: the only form is scheme://*.domain[:port] (one or more labels in front of domain)`)
	ErrWildScheme  = errors.New("wildcards are allowed only for http and https origins")
	ErrWildIP      = errors.New("wildcards cannot apply to an IP address")
	ErrIPv6Form    = errors.New("IPv6 address must be in canonical (RFC 5952) form, in brackets, without a zone")
	ErrIPv4Form    = errors.New("IPv4 address must be in canonical dotted-decimal form")
	errNonASCIIURL = errors.New("host cannot be converted to punycode")
)

// ParsePattern parses and normalises one allowlist entry. notes lists each
// normalisation applied (for warnings); the canonical spelling is
// p.String().
func ParsePattern(s string) (p Pattern, notes []string, err error) {
	switch s {
	case "":
		return p, nil, ErrEmpty
	case "*":
		return p, nil, ErrAll
	case "null":
		return p, nil, ErrNull
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return p, nil, ErrWhitespace
		}
	}
	i := strings.Index(s, "://")
	if i < 0 {
		return p, nil, ErrNoScheme
	}
	scheme, rest := s[:i], s[i+3:]
	if low := strings.ToLower(scheme); low != scheme {
		notes = append(notes, "scheme lower-cased")
		scheme = low
	}
	if !validScheme(scheme) {
		return p, nil, ErrScheme
	}
	if scheme == "file" {
		return p, nil, ErrFile
	}
	p.Scheme = scheme
	if strings.ContainsAny(rest, "/?#") {
		return p, nil, ErrPath
	}
	if strings.Contains(rest, "@") {
		return p, nil, ErrUserinfo
	}
	if strings.HasPrefix(rest, "*.") {
		p.Wildcard = true
		rest = rest[2:]
		if p.Scheme != "http" && p.Scheme != "https" {
			return p, nil, ErrWildScheme
		}
	}
	if strings.Contains(rest, "*") {
		return p, nil, ErrWildcard
	}
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") {
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return p, nil, ErrHost
		}
		host, port = rest[:j+1], rest[j+1:]
		if port != "" {
			if port[0] != ':' {
				return p, nil, ErrHost
			}
			port = port[1:]
			if port == "" {
				return p, nil, ErrPort
			}
		}
	} else if j := strings.LastIndexByte(rest, ':'); j >= 0 {
		host, port = rest[:j], rest[j+1:]
		if port == "" {
			return p, nil, ErrPort
		}
	}
	if port != "" && !validPort(port) {
		return p, nil, ErrPort
	}
	if port != "" && port == DefaultPort(scheme) {
		notes = append(notes, "default port :"+port+" dropped (browsers never send it)")
		port = ""
	}
	p.Port = port
	host, hnotes, err := normaliseHost(host)
	if err != nil {
		return p, nil, err
	}
	notes = append(notes, hnotes...)
	if p.Wildcard && (strings.HasPrefix(host, "[") || isIPv4(host)) {
		return p, nil, ErrWildIP
	}
	p.Host = host
	return p, notes, nil
}

func normaliseHost(host string) (string, []string, error) {
	var notes []string
	if host == "" {
		return "", nil, ErrHost
	}
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return "", nil, ErrHost
		}
		inner := host[1 : len(host)-1]
		a, err := netip.ParseAddr(inner)
		if err != nil || !a.Is6() || a.Zone() != "" || a.Is4In6() {
			return "", nil, ErrIPv6Form
		}
		if a.String() != inner {
			return "", nil, ErrIPv6Form
		}
		return host, nil, nil
	}
	if low := strings.ToLower(host); low != host {
		notes = append(notes, "host lower-cased")
		host = low
	}
	if !isASCII(host) {
		a, err := idna.Lookup.ToASCII(host)
		if err != nil {
			return "", nil, errNonASCIIURL
		}
		notes = append(notes, "host converted to punycode ("+a+")")
		host = a
	}
	if looksNumeric(host) {
		if !isIPv4(host) {
			return "", nil, ErrIPv4Form
		}
		return host, notes, nil
	}
	if !validHostName(host) {
		return "", nil, ErrHost
	}
	return host, notes, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// looksNumeric: the URL Standard treats a host whose last label is numeric
// as an IPv4 address (and canonicalises 127.1 to 127.0.0.1).
func looksNumeric(host string) bool {
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") {
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

func isIPv4(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.Is4() && a.String() == host
}
