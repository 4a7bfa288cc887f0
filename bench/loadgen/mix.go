package loadgen

import (
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cors-authz/cors-authz/bench/fixture"
)

// DefaultMix is the request mix of the service benchmarks, as a sequence of
// 16 requests: half allowed actual requests (from an exact origin and from
// one the wildcard allows), a quarter actual requests from a disallowed
// origin (forwarded without CORS headers), and a quarter preflights, three
// in four of them allowed (answered 204) and one refused (answered 403).
func DefaultMix() []Item { return mix(fixture.CheckRequest) }

// RealisticMix is DefaultMix with requests shaped as Envoy really sends
// them (fixture.RealisticCheckRequest: 1.5–3.5 KiB, every request
// different), in both header encodings: 64 requests, the http.headers map
// and header_map alternating.
func RealisticMix() []Item {
	var items []Item
	for pass := range 4 {
		items = append(items, mix(func(c fixture.Case, id int) *authv3.CheckRequest {
			id += 16 * pass
			return fixture.RealisticCheckRequest(c, id, id%2 == 1)
		})...)
	}
	return items
}

// mix builds the DefaultMix sequence with build.
func mix(build func(c fixture.Case, id int) *authv3.CheckRequest) []Item {
	actualWildcard := fixture.Cases[0]
	actualWildcard.Origin = fixture.WildcardMatch
	preflightWildcard := fixture.Cases[2]
	preflightWildcard.Origin = fixture.WildcardMatch
	seq := []struct {
		c    fixture.Case
		want Outcome
		n    int
	}{
		{fixture.Cases[0], Forward, 5},   // allowed actual, exact origin
		{actualWildcard, Forward, 3},     // allowed actual, wildcard origin
		{fixture.Cases[1], Forward, 4},   // disallowed actual: forwarded, no CORS headers
		{fixture.Cases[2], Answer2xx, 2}, // allowed preflight
		{preflightWildcard, Answer2xx, 1},
		{fixture.Cases[3], Answer4xx, 1}, // rejected preflight
	}
	var items []Item
	id := 0
	for _, s := range seq {
		for range s.n {
			items = append(items, Item{Req: build(s.c, id), Want: s.want})
			id++
		}
	}
	// Interleave, so that every window of the sequence has the same mix.
	out := make([]Item, 0, len(items))
	for stride := range 4 {
		for i := stride; i < len(items); i += 4 {
			out = append(out, items[i])
		}
	}
	return out
}
