package policy

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/net/publicsuffix"

	"github.com/cors-authz/cors-authz/internal/origin"
)

// DelegateSpec is a class's delegate key: the guardrails within which
// fragment files owned by teams may extend the class. The base policy
// keeps everything else (matching, order, credentials, deny action, self
// origins); a fragment may only add origins and, up to the ceilings here,
// methods and headers for the origins it grants.
type DelegateSpec struct {
	// OriginDomains: a granted origin's host must be one of these domains
	// or a subdomain of one. Required.
	OriginDomains []string `json:"origin_domains"`
	// OriginSchemes a granted origin may use; default [https].
	OriginSchemes []string `json:"origin_schemes"`
	// AllowWildcards lets fragments grant "https://*.team.example.com"
	// patterns (still under OriginDomains, never on a public suffix).
	AllowWildcards bool `json:"allow_wildcards,omitempty"`
	// Ceilings: what a fragment may add to the class's own lists. "*" in
	// AllowHeaders or ExposeHeaders lets fragments add any valid name.
	AllowMethods  []string `json:"allow_methods,omitempty"`
	AllowHeaders  []string `json:"allow_headers,omitempty"`
	ExposeHeaders []string `json:"expose_headers,omitempty"`
	// MaxOrigins bounds the origins one fragment may grant in this class.
	MaxOrigins int `json:"max_origins"`

	Line  int            `json:"-"` // line of the delegate key's value
	lines map[string]int // line of each guardrail key, for messages
}

// Defaults of DelegateSpec.
const (
	DefaultMaxOrigins = 100
	maxMaxOrigins     = 100_000
)

var delegateKeys = []string{
	"origin_domains", "origin_schemes", "allow_wildcards", "allow_methods", "allow_headers", "expose_headers", "max_origins",
}

// delegate decodes a class's delegate mapping.
func (d *decoder) delegate(n *yaml.Node, path string) *DelegateSpec {
	ds := &DelegateSpec{Line: n.Line, OriginSchemes: []string{"https"}, MaxOrigins: DefaultMaxOrigins, lines: map[string]int{}}
	var domainsSeen bool
	lists := accessLists{methods: &ds.AllowMethods, headers: &ds.AllowHeaders, expose: &ds.ExposeHeaders}
	d.fields(n, path, delegateKeys, func(key string, k, v *yaml.Node) {
		p := joinPath(path, key)
		ds.lines[key] = k.Line
		if d.accessList(&lists, key, v, p) {
			return
		}
		var nodes []*yaml.Node
		switch key {
		case "origin_domains":
			domainsSeen = true
			ds.OriginDomains, nodes = d.stringList(v, p)
			for i, dom := range ds.OriginDomains {
				norm, msg := normaliseDomain(dom)
				if msg != "" {
					d.errorf(nodes[i], elemPath(p, i), dom, "%s", msg)
					continue
				}
				ds.OriginDomains[i] = norm
			}
			if len(ds.OriginDomains) == 0 {
				d.errorf(v, p, "", "list at least one domain teams may grant origins under")
			}
		case "origin_schemes":
			ds.OriginSchemes, nodes = d.stringList(v, p)
			for i, s := range ds.OriginSchemes {
				if s != "https" && s != "http" {
					d.errorf(nodes[i], elemPath(p, i), s, "delegated origins use https or http")
				}
			}
		case "allow_wildcards":
			ds.AllowWildcards = d.boolean(v, p)
		case "max_origins":
			m, err := strconv.Atoi(v.Value)
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || err != nil || m < 1 || m > maxMaxOrigins {
				d.errorf(v, p, v.Value, "expected a whole number from 1 to %d", maxMaxOrigins)
				return
			}
			ds.MaxOrigins = m
		}
	})
	if n.Kind == yaml.MappingNode && !domainsSeen {
		d.errorf(n, path+".origin_domains", "", "missing: list the domains teams may grant origins under")
	}
	return ds
}

// normaliseDomain checks an origin_domains entry: a lower-case ASCII host
// name that is not a public suffix (teams could then grant anyone).
func normaliseDomain(s string) (string, string) {
	low := strings.ToLower(s)
	if strings.ContainsAny(low, "*:/[]") {
		return "", `a domain is a host name such as "partners.example.com" (no scheme, port or wildcard)`
	}
	if low == "" || low[0] == '.' || low[len(low)-1] == '.' || strings.Contains(low, "..") {
		return "", "invalid domain"
	}
	for i := 0; i < len(low); i++ {
		c := low[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "", "invalid domain (write internationalised names in punycode, xn--...)"
		}
	}
	if ps, _ := publicsuffix.PublicSuffix(low); ps == low {
		return "", "a public suffix: teams could grant any site registered under it"
	}
	return low, ""
}

// guardrail names a delegate key in messages: where it is in the base
// policy, so that the team reading the error knows what to ask for.
func (ds *DelegateSpec) guardrail(base, class, key string) string {
	if line, ok := ds.lines[key]; ok {
		return fmt.Sprintf("guardrail %s of class %q (%s:%d)", "delegate."+key, class, base, line)
	}
	return fmt.Sprintf("guardrail %s of class %q (%s:%d, default)", "delegate."+key, class, base, ds.Line)
}

// underDomains reports whether a pattern's host (for a wildcard, its
// suffix) is one of the domains or a subdomain of one.
func (ds *DelegateSpec) underDomains(p *origin.Pattern) bool {
	for _, dom := range ds.OriginDomains {
		if p.Host == dom || strings.HasSuffix(p.Host, "."+dom) {
			return true
		}
	}
	return false
}

// ceilingAllows reports whether name is within a header ceiling,
// compared case-insensitively; "*" in the ceiling allows any name except
// Authorization, which must be listed (as in allow_headers, Fetch §3.2.6).
func ceilingAllows(ceiling []string, name string, authzSpecial bool) bool {
	for _, c := range ceiling {
		if strings.EqualFold(c, name) {
			return true
		}
		if c == "*" && !(authzSpecial && strings.EqualFold(name, "authorization")) {
			return true
		}
	}
	return false
}
