package check

import (
	"context"
	"strings"
	"sync"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

var (
	fuzzOnce     sync.Once
	fuzzCached   *Service // shared across inputs, so the cache sees them all
	fuzzUncached *Service
)

// FuzzCheck feeds arbitrary CheckRequest bytes to the handler. Whatever
// arrives, Check answers (never panics, never returns an error), every
// answer passes assertResponse (no byte outside visible ASCII and space in
// any header, ACAO never "*", Envoy's contract), ACAO is only ever the
// request's own Origin or a self origin, the cached service answers
// exactly like one without a cache, and the selectively decoded request
// (the gRPC handler's path) gets the same answer.
func FuzzCheck(f *testing.F) {
	for _, tc := range decisionCases {
		for _, raw := range []bool{false, true} {
			rs := tc.req
			rs.Raw = raw
			data, err := proto.Marshal(rs.build())
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte{})
	f.Add([]byte("\x0a\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzOnce.Do(func() {
			fuzzCached = New(Options{CacheSize: 64})
			fuzzCached.SetPolicy(mustPolicy(t, testPolicyYAML))
			fuzzUncached = New(Options{})
			fuzzUncached.SetPolicy(mustPolicy(t, testPolicyYAML))
		})
		var req authv3.CheckRequest
		if err := proto.Unmarshal(data, &req); err != nil {
			return
		}
		ctx := context.Background()
		got, pre := fuzzCached.check(ctx, &req)
		want, _ := fuzzUncached.check(ctx, &req)
		if got == nil || want == nil {
			t.Fatal("nil response")
		}
		if pre != nil {
			checktest.AssertPreEncoded(t, pre, got)
		}
		assertResponse(t, got)
		if !proto.Equal(got, want) {
			t.Fatalf("cached answer differs from a fresh decision:\n got %v\nwant %v", got, want)
		}
		// The gRPC handler's path (selective decoding) answers alike.
		var d envoyauth.Decoded
		if err := d.Unmarshal(data); err != nil {
			t.Fatalf("selective decoding refused what proto.Unmarshal accepted: %v", err)
		}
		if dec, _ := fuzzCached.checkDecoded(ctx, &d); !proto.Equal(dec, want) {
			t.Fatalf("selectively decoded answer differs:\n got %v\nwant %v", dec, want)
		}
		var view policy.Request
		envoyauth.ReadRequest(&req, &view)
		for _, h := range append(got.GetOkResponse().GetResponseHeadersToAdd(), got.GetDeniedResponse().GetHeaders()...) {
			if h.GetHeader().GetKey() != "access-control-allow-origin" {
				continue
			}
			v := h.GetHeader().GetValue()
			if v != view.Origin && !strings.HasSuffix(v, "app.example.com") {
				t.Fatalf("ACAO %q is neither the request's Origin %q nor a self origin", v, view.Origin)
			}
		}
	})
}
