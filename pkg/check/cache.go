package check

import (
	"bytes"
	"hash/maphash"
	"sync/atomic"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// DefaultCacheSize is the verdict cache size (entries per policy snapshot)
// that `cors-authz serve` uses unless told otherwise. Each entry holds one
// allowed (class, origin, request shape) answer with its built response.
const DefaultCacheSize = 10000

// keyBufSize is the stack buffer a cache key is built in. Keys are the class
// index plus what policy.Route.AppendCacheKey appends (the origin, and for a
// preflight the method, the normalised header list and the private-network
// flag); the policy refuses to key anything oversized, and keys longer than
// this buffer merely cost one allocation.
const keyBufSize = 1024

// What the verdict cache holds, and why.
//
// Only allowed cross-origin verdicts (actual and preflight) are cached.
// Their response echoes the request's Origin, so without a cache every such
// request pays the decision plus building a CheckResponse (3 allocations,
// about 1 KiB); with it, a hit is a hash of the key and one map lookup,
// with no allocation. BenchmarkCheck measures hit, miss and cache-off; the
// figures are in docs/benchmarks.md.
//
// Denied verdicts are not cached: their responses carry nothing from the
// request and are shared per class anyway (static.go), and the decision
// that reaches them is a failed set lookup, so they already cost about as
// little as a hit, with no allocation (BenchmarkCheck/denied, cache lookup
// included). Keeping them out also means a flood of unlisted or
// malformed origins never competes with the hot allowed entries for space.
//
// The cache is a 2Q (lru.New2Q): entries seen once live in a small "recent"
// queue (25% of the size); an entry is promoted to the "frequent" queue on
// its second use. A flood of never-repeating origins (e.g. random
// subdomains under an allowed wildcard) only churns the recent queue, so
// the hot set survives it (TestCacheHotSetSurvivesFlood,
// BenchmarkCacheHitRate). Memory stays bounded by the entry count, and each
// key by the policy's own bound.
//
// The map key is a maphash of the full key bytes, so a lookup needs no
// string conversion and allocates nothing; the entry keeps the full key to
// rule out a hash collision ever serving another origin's answer.
//
// Each policy snapshot owns a fresh cache, so a reload can never serve a
// verdict of the previous policy.
type verdictCache struct {
	seed maphash.Seed
	q    *lru.TwoQueueCache[uint64, *cacheEntry]
}

// cacheEntry is one cached answer. It is immutable once added, except
// for the shadow policy's remembered outcome (shadow.go).
type cacheEntry struct {
	key     []byte               // class index + policy cache key
	enc     envoyauth.PreEncoded // the response and its wire encoding
	outcome outcome
	reason  policy.Reason
	shadow  atomic.Pointer[shadowMemo] // nil without a shadow policy
}

func newVerdictCache(size int) *verdictCache {
	if size <= 0 {
		return nil
	}
	q, err := lru.New2Q[uint64, *cacheEntry](size)
	if err != nil {
		// Unreachable: size > 0 and the default ratios are valid.
		panic(err)
	}
	return &verdictCache{seed: maphash.MakeSeed(), q: q}
}

// appendKey appends the cache key of (route, r) to dst: the route's class
// index, then the policy's key. ok is false when the verdict must not be
// cached (the policy refused to key the request, or its kind is not
// cacheable).
func appendKey(dst []byte, rt policy.Route, r *policy.Request) (key []byte, ok bool) {
	if rt.Kind != policy.Actual && rt.Kind != policy.Preflight {
		return dst, false
	}
	idx := uint32(rt.Class.Index + 1) // the fallback class is -1
	dst = append(dst, byte(idx>>24), byte(idx>>16), byte(idx>>8), byte(idx))
	return rt.AppendCacheKey(dst, r)
}

// get returns the entry for key, if cached.
func (c *verdictCache) get(key []byte) (*cacheEntry, bool) {
	e, ok := c.q.Get(maphash.Bytes(c.seed, key))
	if !ok || !bytes.Equal(e.key, key) {
		return nil, false
	}
	return e, true
}

// add caches resp, carrying md, under key; the key bytes are copied.
func (c *verdictCache) add(key []byte, resp *authv3.CheckResponse, md *envoyauth.DecisionMetadata, out outcome, reason policy.Reason) {
	c.addMemo(key, resp, md, out, reason, nil)
}

// addMemo is add with the shadow policy's outcome memo (nil for none). It
// encodes resp, a new response, with its decision metadata md once
// (PreEncoded) and returns the entry's encoded response.
func (c *verdictCache) addMemo(key []byte, resp *authv3.CheckResponse, md *envoyauth.DecisionMetadata, out outcome, reason policy.Reason, memo *shadowMemo) *envoyauth.PreEncoded {
	e := &cacheEntry{key: bytes.Clone(key), outcome: out, reason: reason}
	e.enc.InitWithMetadata(resp, md)
	if memo != nil {
		e.shadow.Store(memo)
	}
	c.q.Add(maphash.Bytes(c.seed, key), e)
	return &e.enc
}

// len is the number of cached entries.
func (c *verdictCache) len() int {
	if c == nil {
		return 0
	}
	return c.q.Len()
}
