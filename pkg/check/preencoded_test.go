package check

import (
	"context"
	"slices"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/internal/race"
	"github.com/cors-authz/cors-authz/pkg/envoyauth"
)

// preEncodedCases are the answers the service shares between requests
// (cached allowed answers, per-class static answers, the no-headers
// answer); each must come with its encoding, the same on every call.
var preEncodedCases = []struct {
	name string
	req  reqSpec
}{
	{"allowed_actual_cached", get("/api/v1/items", "Origin", partner)},
	{"allowed_preflight_cached", options("/api/v1/items", "Origin", partner,
		"Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "content-type")},
	{"denied_actual_static", get("/api/v1/items", "Origin", "https://evil.example")},
	{"refused_preflight_static", options("/api/v1/items", "Origin", "https://evil.example",
		"Access-Control-Request-Method", "PUT")},
	{"reject_403_static", get("/strict/x", "Origin", "https://evil.example")},
	{"self_origin_static", get("/self/x", "Origin", "https://evil.example")},
	{"not_cors_static", get("/api/v1/items")},
	{"same_origin_static", get("/api/v1/items", "Origin", "https://api.example.com")},
	{"malformed_no_headers", reqSpec{}},
}

func TestSharedAnswersArePreEncoded(t *testing.T) {
	s, _ := newTestService(t, DefaultCacheSize)
	ctx := context.Background()
	for _, tc := range preEncodedCases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req.build()
			if tc.req.Method == "" {
				req = &authv3.CheckRequest{}
			}
			resp1, pre1 := s.check(ctx, req)
			resp2, pre2 := s.check(ctx, req)
			if pre1 == nil || pre2 == nil {
				t.Fatalf("shared answer without encoding: %v", resp1)
			}
			if pre1 != pre2 || resp1 != resp2 {
				t.Fatal("the second call did not get the shared answer")
			}
			assertResponse(t, resp1)
			checktest.AssertPreEncoded(t, pre1, resp1)
		})
	}
}

// TestFreshAnswersAreNotPreEncoded: an answer built for one request (the
// cache is off) is not encoded ahead: the codec marshals it as usual.
func TestFreshAnswersAreNotPreEncoded(t *testing.T) {
	s, _ := newTestService(t, 0)
	resp, pre := s.check(context.Background(), get("/api/v1/items", "Origin", partner).build())
	if pre != nil || resp == nil {
		t.Fatalf("cache off: got pre %v resp %v, want a fresh response only", pre, resp)
	}
}

// TestBootAnswerIsPreEncoded: before SetPolicy, the no-policy answer.
func TestBootAnswerIsPreEncoded(t *testing.T) {
	s := New(Options{})
	resp, pre := s.check(context.Background(), get("/api/v1/items", "Origin", partner).build())
	if pre == nil {
		t.Fatal("no-policy answer without encoding")
	}
	checktest.AssertPreEncoded(t, pre, resp)
}

// TestPreEncodedAllocs: a cache hit through the gRPC path (answer plus the
// codec) allocates only the codec's one-element slice header.
func TestPreEncodedAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts differ under the race detector")
	}
	s, _ := newTestService(t, DefaultCacheSize)
	c := envoyauth.NewCodec()
	ctx := context.Background()
	req := get("/api/v1/items", "Origin", partner).build()
	_, _, _ = s.answer(ctx, req, nil)
	_, _, _ = s.answer(ctx, req, nil)
	if n := testing.AllocsPerRun(200, func() { _, _, _ = s.answer(ctx, req, nil) }); n != 0 {
		t.Errorf("answer on a cache hit: %v allocs, want 0", n)
	}
	// The gRPC handler's path: selective decoding of the wire bytes, then
	// the answer; a cache hit allocates nothing, decoding included.
	wire, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var d envoyauth.Decoded
	if n := testing.AllocsPerRun(200, func() {
		if err := d.Unmarshal(wire); err != nil {
			t.Fatal(err)
		}
		_, _, _ = s.answer(ctx, nil, &d)
	}); n != 0 {
		t.Errorf("decode and answer on a cache hit: %v allocs, want 0", n)
	}
	_, pre, _ := s.answer(ctx, req, nil)
	if pre == nil {
		t.Fatal("cache hit without encoding")
	}
	if n := testing.AllocsPerRun(200, func() { _, _ = c.Marshal(pre) }); n > 1 {
		t.Errorf("codec Marshal of a shared answer: %v allocs, want at most 1", n)
	}
}

// serveWithCodec is serve (helpers_test.go) as `cors-authz serve` sets the
// server up: the forced codec, health and reflection next to the service,
// and optionally a unary interceptor.
func serveWithCodec(t testing.TB, s *Service, opts ...grpc.ServerOption) *grpc.ClientConn {
	t.Helper()
	g := grpc.NewServer(append(opts, grpc.ForceServerCodecV2(envoyauth.NewCodec()))...)
	s.Register(g)
	healthpb.RegisterHealthServer(g, health.NewServer())
	reflection.Register(g)
	return serveBufconn(t, g)
}

// TestGRPCWithCodec: over gRPC with the forced codec, every answer equals
// the in-process Check's (twice, so cached and static answers are served
// from their stored bytes), with and without an interceptor; an
// interceptor sees *authv3.CheckResponse replies.
func TestGRPCWithCodec(t *testing.T) {
	var seen []string
	icpt := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		resp, err := h(ctx, req)
		if _, ok := resp.(*authv3.CheckResponse); !ok && info.FullMethod == authv3.Authorization_Check_FullMethodName {
			seen = append(seen, "interceptor got a reply that is not a *CheckResponse")
		}
		return resp, err
	}
	for _, withInterceptor := range []bool{false, true} {
		var opts []grpc.ServerOption
		if withInterceptor {
			opts = append(opts, grpc.UnaryInterceptor(icpt))
		}
		s, _ := newTestService(t, DefaultCacheSize)
		ref, _ := newTestService(t, DefaultCacheSize)
		client := authv3.NewAuthorizationClient(serveWithCodec(t, s, opts...))
		ctx := context.Background()
		for _, tc := range preEncodedCases {
			req := tc.req.build()
			if tc.req.Method == "" {
				req = &authv3.CheckRequest{}
			}
			want, err := ref.Check(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				got, err := client.Check(ctx, req)
				if err != nil {
					t.Fatalf("%s (interceptor %v) call %d: %v", tc.name, withInterceptor, i, err)
				}
				if !proto.Equal(got, want) {
					t.Fatalf("%s (interceptor %v) call %d: gRPC answer %v, in-process %v", tc.name, withInterceptor, i, got, want)
				}
			}
		}
	}
	if len(seen) > 0 {
		t.Error(seen[0])
	}
}

// TestCodecOtherServices: health and reflection, registered on the same
// server, still work with the forced codec.
func TestCodecOtherServices(t *testing.T) {
	s, _ := newTestService(t, DefaultCacheSize)
	conn := serveWithCodec(t, s)
	ctx := context.Background()

	hr, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", hr, err)
	}

	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stream.CloseSend() }()
	reqs := []*reflectionpb.ServerReflectionRequest{
		{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}},
		{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: authv3.Authorization_ServiceDesc.ServiceName}},
	}
	for _, r := range reqs {
		if err := stream.Send(r); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		switch r.MessageRequest.(type) {
		case *reflectionpb.ServerReflectionRequest_ListServices:
			var names []string
			for _, svc := range resp.GetListServicesResponse().GetService() {
				names = append(names, svc.GetName())
			}
			if !slices.Contains(names, authv3.Authorization_ServiceDesc.ServiceName) || !slices.Contains(names, healthpb.Health_ServiceDesc.ServiceName) {
				t.Errorf("reflection lists %v", names)
			}
		default:
			if len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
				t.Errorf("reflection: no file for the Authorization service: %v", resp)
			}
		}
	}
}

// BenchmarkMarshalShared: what gRPC's encoding of one shared answer costs
// per call with the standard codec (std) and with envoyauth.NewCodec (pre_encoded),
// for an allowed actual request's answer (cached) and an allowed
// preflight's (cached, the largest).
func BenchmarkMarshalShared(b *testing.B) {
	s, _ := newTestService(b, DefaultCacheSize)
	std, pre := encoding.GetCodecV2(grpcproto.Name), envoyauth.NewCodec()
	for _, bc := range benchCases[:2] {
		_, enc := s.check(context.Background(), bc.req.build())
		if enc == nil {
			b.Fatalf("%s: not a shared answer", bc.name)
		}
		for _, c := range []struct {
			name  string
			codec interface {
				Marshal(any) (mem.BufferSlice, error)
			}
			msg any
		}{{"std", std, enc.Response()}, {"pre_encoded", pre, enc}} {
			b.Run(bc.name+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					out, err := c.codec.Marshal(c.msg)
					if err != nil {
						b.Fatal(err)
					}
					out.Free()
				}
			})
		}
	}
}
