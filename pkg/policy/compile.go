package policy

import (
	"strconv"

	"github.com/cors-authz/cors-authz/internal/headers"
	"github.com/cors-authz/cors-authz/internal/origin"
)

// originSet is the compiled allowlist of a class.
type originSet = origin.Set

// headerSet is the compiled allow_headers of a class.
type headerSet = headers.Set

// compile turns a validated document into lookup structures, preparing
// every constant header value once.
func compile(doc Document) *Policy {
	p := &Policy{spec: doc, byName: make(map[string]*Class, len(doc.Classes))}
	p.selfByHost = make(map[string]string, len(doc.SelfOrigins))
	for _, s := range doc.SelfOrigins {
		pat, _, err := origin.ParsePattern(s)
		if err != nil {
			continue // validated already
		}
		p.selfOrigins.Add(pat)
		p.selfList = append(p.selfList, s)
		host := pat.Host
		if pat.Port != "" {
			host += ":" + pat.Port
		}
		if _, dup := p.selfByHost[host]; !dup {
			p.selfByHost[host] = s
		}
	}
	for i := range p.spec.Classes {
		c := compileClass(&p.spec.Classes[i], i)
		p.classes = append(p.classes, c)
		p.byName[c.Name] = c
	}
	p.fallback = compileClass(&ClassSpec{Name: FallbackClass, DenyAction: DenyOmit}, -1)
	return p
}

// FallbackClass names the synthetic class of requests no class matches.
const FallbackClass = "default-deny"

func compileClass(s *ClassSpec, index int) *Class {
	c := &Class{
		Name:        s.Name,
		Index:       index,
		Spec:        s,
		match:       compileMatch(s.Match),
		pathRules:   len(s.Match.PathPrefixes) > 0 || len(s.Match.Paths) > 0,
		credentials: s.AllowCredentials,
		privateNet:  s.AllowPrivateNetwork,
		denyAction:  s.DenyAction,
	}
	if c.denyAction == "" {
		c.denyAction = DenyOmit
	}
	c.base = newGrant(s, nil)
	c.base.srcs = []int{0}
	wild := 0
	for i := range s.patterns {
		if s.patterns[i].Wildcard {
			wild++
		}
	}
	c.grants = origin.NewMap[*Grant](len(s.patterns), wild)
	for i := range s.patterns {
		if k := exactKey(s.patterns, s.AllowOrigins, i); k != "" {
			c.grants.PutExact(k, c.base)
		} else {
			c.grants.Put(s.patterns[i], c.base)
		}
	}
	if s.MaxAge != nil {
		c.acma, c.hasMA = strconv.Itoa(*s.MaxAge), true
	}
	c.external = c.grants.Len() > 0 || s.Delegate != nil
	c.vary = c.external || c.denyAction == DenySelfOrigin
	return c
}
