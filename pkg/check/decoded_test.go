package check

import (
	"context"
	"fmt"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/pkg/envoyauth"
)

// decodedFrom decodes req's wire form selectively, as the gRPC handler
// does with envoyauth.NewCodec.
func decodedFrom(t testing.TB, req *authv3.CheckRequest) *envoyauth.Decoded {
	t.Helper()
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	d := new(envoyauth.Decoded)
	if err := d.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDecodedAnswersLikeCheck: every decision case, in both encodings, and
// realistic requests get the same answer through the selectively decoded
// path as through Check, twice (so cached and static answers are reused).
func TestDecodedAnswersLikeCheck(t *testing.T) {
	s, _ := newTestService(t, DefaultCacheSize)
	ref, _ := newTestService(t, DefaultCacheSize)
	ctx := context.Background()
	var reqs []*authv3.CheckRequest
	for _, tc := range decisionCases {
		for _, raw := range []bool{false, true} {
			rs := tc.req
			rs.Raw = raw
			reqs = append(reqs, rs.build())
		}
	}
	for i := range 6 {
		var opts []checktest.Option
		if i%2 == 1 {
			opts = append(opts, checktest.Raw())
		}
		reqs = append(reqs,
			checktest.RealisticRequest("GET", "/api/v1/items", partner, i, opts...),
			checktest.RealisticRequest("OPTIONS", "/api/v1/items", partner, i, append(opts, checktest.Preflight("PUT", "content-type"))...),
			checktest.RealisticRequest("GET", "/api/v1/items", "https://evil.example", i, opts...))
	}
	for i, req := range reqs {
		for round := range 2 {
			want, err := ref.Check(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			got, pre, err := s.answer(ctx, nil, decodedFrom(t, req))
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, want) {
				t.Fatalf("request %d round %d: decoded path %v\nCheck %v", i, round, got, want)
			}
			if pre != nil {
				checktest.AssertPreEncoded(t, pre, got)
			}
		}
	}
}

// TestDecodedCacheDetached: a cached answer does not depend on the storage
// of the Decoded it was decided from (the handler's Decoded lives in the
// response only through copies).
func TestDecodedCacheDetached(t *testing.T) {
	s, _ := newTestService(t, DefaultCacheSize)
	ctx := context.Background()
	tenants := []string{"https://a.tenant.example.com", "https://b.tenant.example.com"}
	var d envoyauth.Decoded
	for _, o := range tenants {
		b, err := proto.Marshal(get("/api/v1/items", "Origin", o).build())
		if err != nil {
			t.Fatal(err)
		}
		// One Decoded reused for both: its inline storage is overwritten.
		if err := d.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.answer(ctx, nil, &d); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range tenants {
		resp, err := s.Check(ctx, get("/api/v1/items", "Origin", o).build())
		if err != nil {
			t.Fatal(err)
		}
		if acao, _ := checktest.HeaderValue(resp, "access-control-allow-origin"); acao != o {
			t.Errorf("cached answer for %s carries ACAO %q", o, acao)
		}
	}
	if n := s.cur.Load().cache.len(); n != len(tenants) {
		t.Errorf("%d cache entries, want %d", n, len(tenants))
	}
}

// BenchmarkCheckRealistic: the gRPC handler's work per realistic request in
// process: selective decoding of the wire bytes plus the answer (decoded),
// against the standard path, proto.Unmarshal plus Check (standard); cache
// hits.
func BenchmarkCheckRealistic(b *testing.B) {
	s, _ := newTestService(b, DefaultCacheSize)
	ctx := context.Background()
	for _, enc := range []string{"map", "header_map"} {
		var opts []checktest.Option
		if enc == "header_map" {
			opts = append(opts, checktest.Raw())
		}
		var wire [][]byte
		for i := range 16 {
			req := checktest.RealisticRequest("GET", "/api/v1/items", partner, i, opts...)
			if i%2 == 1 {
				req = checktest.RealisticRequest("OPTIONS", "/api/v1/items", partner, i, append(opts, checktest.Preflight("PUT", "content-type"))...)
			}
			w, err := proto.Marshal(req)
			if err != nil {
				b.Fatal(err)
			}
			wire = append(wire, w)
		}
		b.Run(fmt.Sprintf("%s/decoded", enc), func(b *testing.B) {
			b.ReportAllocs()
			var d envoyauth.Decoded
			i := 0
			for b.Loop() {
				if err := d.Unmarshal(wire[i%len(wire)]); err != nil {
					b.Fatal(err)
				}
				_, _, _ = s.answer(ctx, nil, &d)
				i++
			}
		})
		b.Run(fmt.Sprintf("%s/standard", enc), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				req := new(authv3.CheckRequest)
				if err := proto.Unmarshal(wire[i%len(wire)], req); err != nil {
					b.Fatal(err)
				}
				_, _, _ = s.answer(ctx, req, nil)
				i++
			}
		})
	}
}
