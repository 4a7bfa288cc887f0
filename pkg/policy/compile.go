package policy

import (
	"strconv"
	"strings"

	"github.com/cors-authz/cors-authz/internal/headers"
	"github.com/cors-authz/cors-authz/internal/methods"
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
		credentials: s.AllowCredentials,
		privateNet:  s.AllowPrivateNetwork,
		denyAction:  s.DenyAction,
		headers:     headers.NewSet(s.AllowHeaders),
	}
	if c.denyAction == "" {
		c.denyAction = DenyOmit
	}
	c.origins = origin.NewSet(s.patterns)
	c.methods = methods.NewSet(s.AllowMethods)
	c.acam = strings.Join(c.methods.List(), ", ")
	var hs []string
	for _, h := range s.AllowHeaders {
		if h != "*" {
			hs = append(hs, strings.ToLower(h))
		}
	}
	c.acah = strings.Join(hs, ", ")
	c.aceh = strings.Join(s.ExposeHeaders, ", ")
	if s.MaxAge != nil {
		c.acma, c.hasMA = strconv.Itoa(*s.MaxAge), true
	}
	c.vary = c.origins.Len() > 0 || c.denyAction == DenySelfOrigin
	return c
}
