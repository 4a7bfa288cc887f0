package baseline

import (
	"fmt"

	"github.com/cors-authz/cors-authz/bench/fixture"
	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Policy is cors-authz's compiled policy for the fixture configuration.
func Policy() (*policy.Policy, error) {
	p, _, err := policy.Parse("bench.yaml", fixture.PolicyYAML())
	return p, err
}

// PolicyRequest is c as cors-authz's policy engine sees it, with the class
// named the way Envoy's per-route context extension names it.
func PolicyRequest(c fixture.Case) policy.Request {
	return policy.Request{
		Method:    c.Method,
		Scheme:    fixture.Scheme,
		Host:      fixture.Host,
		Path:      fixture.Path,
		Origin:    c.Origin,
		HasOrigin: true,
		ACRM:      c.ACRM,
		ACRH:      c.ACRH,
		ClassHint: fixture.ClassName,
	}
}

// CheckService is cors-authz's in-process Check handler (no gRPC) with the
// fixture policy and a verdict cache of cacheSize entries (0: none). It
// registers no metrics collector.
func CheckService(cacheSize int) (*check.Service, error) {
	p, err := Policy()
	if err != nil {
		return nil, err
	}
	s := check.New(check.Options{CacheSize: cacheSize})
	s.SetPolicy(p)
	return s, nil
}

// MissOrigins returns n distinct origins that get c's verdict but share no
// cache entry: subdomains the fixture's wildcard allows for an allowed
// case, subdomains of the disallowed origin's site otherwise.
func MissOrigins(c fixture.Case, n int) []string {
	out := make([]string, n)
	for i := range out {
		if c.Allowed {
			out[i] = fmt.Sprintf("https://m%d.example.com", i)
		} else {
			out[i] = fmt.Sprintf("https://m%d.evil.example.net", i)
		}
	}
	return out
}
