// Package scale measures how cors-authz's policy grows with its allowlist:
// compile time, heap held by the compiled policy, and decision cost, at
// 10, 1,000 and 100,000 exact origins, each with 1,000 wildcard patterns.
//
//	go test -run '^$' -bench . -benchmem ./scale
package scale

import (
	"runtime"

	"github.com/cors-authz/cors-authz/bench/fixture"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Sizes are the exact-origin counts measured; Wildcards the pattern count
// added to each.
var (
	Sizes     = []int{10, 1_000, 100_000}
	Wildcards = 1_000
)

// PolicyYAML is the fixture configuration with n exact origins and
// Wildcards patterns.
func PolicyYAML(n int) []byte {
	exact, wild := fixture.ScaledOrigins(n, Wildcards)
	return fixture.ScaledPolicyYAML(exact, wild)
}

// HeldHeap parses data and returns the compiled policy with the heap it
// holds: live heap after a collection, minus live heap before parsing.
// Garbage made while compiling is not counted, the policy's strings and
// lookup tables are.
func HeldHeap(data []byte) (*policy.Policy, uint64, error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p, _, err := policy.Parse("scale.yaml", data)
	if err != nil {
		return nil, 0, err
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(p)
	runtime.KeepAlive(data) // the caller's bytes are not the policy's
	if after.HeapAlloc < before.HeapAlloc {
		return p, 0, nil
	}
	return p, after.HeapAlloc - before.HeapAlloc, nil
}
