package loadgen

import "github.com/cors-authz/cors-authz/bench/fixture"

// DefaultMix is the request mix of the service benchmarks, as a sequence of
// 16 requests: half allowed actual requests (from an exact origin and from
// one the wildcard allows), a quarter actual requests from a disallowed
// origin (forwarded without CORS headers), and a quarter preflights, three
// in four of them allowed (answered 204) and one refused (answered 403).
func DefaultMix() []Item {
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
			items = append(items, Item{Req: fixture.CheckRequest(s.c, id), Want: s.want})
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
