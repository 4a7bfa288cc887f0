//go:build linux

package reliability

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/internal/atomicfile"
	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Origins of the fixture.
const (
	partner  = "https://partner.example.org"     // allowed by policyA only
	tenant   = "https://shop.tenant.example.com" // allowed by both (wildcard)
	attacker = "https://evil.example"            // allowed by neither
)

// policyA is the policy the tests start from. `version: 1` comes last on
// purpose: every strict prefix of the file lacks it and is refused, so a
// torn read of an in-place rewrite can never load a policy that is neither
// A nor B (see docs/operations.md on in-place rewrites).
const policyA = `# cors-authz reliability fixture
self_origins:
  - https://app.example.com
classes:
  - name: public-api
    match:
      path_prefixes: [/api/v1/]
    allow_origins:
      - https://partner.example.org
      - https://*.tenant.example.com
    allow_methods: [GET, POST, PUT, DELETE]
    allow_headers: [Content-Type, Authorization, X-Request-Id]
    expose_headers: [X-Request-Id]
    allow_credentials: true
    max_age: 10m
  - name: uploads
    match:
      path_prefixes: [/uploads/]
    allow_origins: [https://*.tenant.example.com]
    allow_methods: [PUT]
    allow_headers: ["*"]
  - name: internal
    match:
      path_prefixes: [/]
version: 1
`

// policyB is policyA without the partner origin: reloading between the two
// flips that origin's verdict and nothing else.
var policyB = strings.Replace(policyA, "      - https://partner.example.org\n", "", 1)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// newService returns an in-process Check service holding yaml: the oracle
// whose answers the real process must give byte for byte.
func newService(t testing.TB, yaml string) *check.Service {
	t.Helper()
	pol, _, err := policy.Parse("policy.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("fixture policy: %v", err)
	}
	s := check.New(check.Options{CacheSize: check.DefaultCacheSize})
	s.SetPolicy(pol)
	return s
}

// marshal is the deterministic encoding responses are compared in. A
// CheckResponse is compared without the policy generation of its decision
// metadata, which counts loads per process (the oracle's is 1); the rest
// of the metadata, the policy's sha256 included, must match, so an answer
// names the policy that gave it.
func marshal(t testing.TB, m proto.Message) []byte {
	if resp, ok := m.(*authv3.CheckResponse); ok {
		if d := resp.GetDynamicMetadata().GetFields()[envoyauth.MetadataKey].GetStructValue(); d != nil {
			resp = proto.Clone(resp).(*authv3.CheckResponse)
			delete(resp.DynamicMetadata.Fields[envoyauth.MetadataKey].GetStructValue().Fields, envoyauth.MetadataPolicyGeneration)
			m = resp
		}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Errorf("marshal: %v", err)
	}
	return b
}

// item is one request of a load and the answers it may get.
type item struct {
	name string
	req  *authv3.CheckRequest
	// want holds the acceptable answers, deterministically encoded: one
	// per oracle that answers differently (two while a reload flips it).
	want [][]byte
}

// matches returns the index in want of the answer b is, or -1.
func (it *item) matches(b []byte) int {
	for i, w := range it.want {
		if bytes.Equal(b, w) {
			return i
		}
	}
	return -1
}

// mixedRequests is the load's request sequence: allowed, disallowed and
// preflight requests in both header encodings, routed by path and by class
// hint.
func mixedRequests() []struct {
	name string
	req  *authv3.CheckRequest
} {
	type r = struct {
		name string
		req  *authv3.CheckRequest
	}
	R := checktest.Request
	return []r{
		{"allowed actual, exact origin", R("GET", "/api/v1/items?page=2", partner)},
		{"allowed actual, wildcard origin", R("POST", "/api/v1/items", tenant)},
		{"unlisted origin", R("GET", "/api/v1/items", attacker)},
		{"allowed preflight", R("OPTIONS", "/api/v1/items/7", partner, checktest.Preflight("PUT", "content-type, x-request-id"))},
		{"preflight, any header", R("OPTIONS", "/uploads/f.png", tenant, checktest.Preflight("PUT", "x-upload-token"))},
		{"refused preflight", R("OPTIONS", "/api/v1/items", attacker, checktest.Preflight("DELETE", ""))},
		{"internal route", R("GET", "/admin/users", partner)},
		{"internal preflight", R("OPTIONS", "/admin/users", tenant, checktest.Preflight("POST", ""))},
		{"no origin", R("GET", "/api/v1/items", "")},
		{"same origin", R("GET", "/api/v1/items", "https://"+checktest.DefaultHost)},
		{"raw headers, exact origin", R("GET", "/api/v1/items", partner, checktest.Raw())},
		{"class hint, exact origin", R("GET", "/partner-feed", partner, checktest.Class("public-api"))},
	}
}

// items returns mixedRequests with the answers of each oracle, which pass
// AssertResponse; an answer two oracles share is listed once.
func items(t testing.TB, oracles ...*check.Service) []item {
	t.Helper()
	return answers(t, mixedRequests(), oracles...)
}

// answers pairs each request with the answers of each oracle, which pass
// AssertResponse; an answer two oracles share is listed once.
func answers(t testing.TB, reqs []struct {
	name string
	req  *authv3.CheckRequest
}, oracles ...*check.Service) []item {
	t.Helper()
	var out []item
	for _, r := range reqs {
		it := item{name: r.name, req: r.req}
		for _, o := range oracles {
			resp, err := o.Check(context.Background(), r.req)
			if err != nil {
				t.Fatalf("%s: oracle: %v", r.name, err)
			}
			checktest.AssertResponse(t, resp)
			if b := marshal(t, resp); it.matches(b) < 0 {
				it.want = append(it.want, b)
			}
		}
		out = append(out, it)
	}
	return out
}

// requireFlips stops the test unless at least 4 of its are answered
// differently by the two oracles (named between): a churn test over fewer
// would prove little.
func requireFlips(t testing.TB, its []item, between string) {
	t.Helper()
	flipping := 0
	for _, it := range its {
		if len(it.want) == 2 {
			flipping++
		}
	}
	if flipping < 4 {
		t.Fatalf("only %d requests answer differently under %s; the test would prove little", flipping, between)
	}
}

// writeFile writes data to path in place (truncate, then write).
func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// renameInto writes data to a temporary file next to path and renames it
// over path, as editors, `mv` and config management tools do.
func renameInto(t testing.TB, path, data string) {
	t.Helper()
	if err := atomicfile.Write(path, []byte(data)); err != nil {
		t.Fatal(err)
	}
}
