package check

import (
	"context"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
)

// serviceDesc registers the Service as envoy.service.auth.v3.Authorization:
// the generated authv3.Authorization_ServiceDesc with its own Check handler,
// which replies with a shared response's *envoyauth.PreEncoded (see
// envoyauth.NewCodec) where
// the generated one would reply with the response itself.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: authv3.Authorization_ServiceDesc.ServiceName,
	HandlerType: (*authv3.AuthorizationServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Check",
		Handler:    checkHandler,
	}},
	Streams:  []grpc.StreamDesc{},
	Metadata: authv3.Authorization_ServiceDesc.Metadata, // reflection finds the .proto by it
}

// Register registers the service as envoy.service.auth.v3.Authorization
// (and nothing else) on g. Install envoyauth.NewCodec on g
// (grpc.ForceServerCodecV2) so shared responses are written from their
// stored encoding; without it every reply is marshalled per call, with the
// same bytes.
func (s *Service) Register(g grpc.ServiceRegistrar) {
	g.RegisterService(&serviceDesc, s)
}

// checkHandler is the unary handler of Check. Without interceptors it
// decodes the request into an envoyauth.Decoded (which envoyauth.NewCodec
// reads selectively: only what a CORS decision uses) and replies with the
// shared *PreEncoded when there is one; interceptors always get the
// *authv3.CheckRequest, fully decoded, and reply with the
// *authv3.CheckResponse, as with the generated handler. Nothing else the
// service does needs more than the request view (debug records and the
// shadow policy read the view too), so the whole message is decoded only
// when an interceptor is installed.
func checkHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	s := srv.(*Service)
	if interceptor == nil {
		in := new(envoyauth.Decoded)
		if err := dec(in); err != nil {
			return nil, err
		}
		resp, pre, err := s.answer(ctx, nil, in)
		switch {
		case err != nil:
			return nil, err
		case pre != nil:
			return pre, nil
		}
		return resp, nil
	}
	in := new(authv3.CheckRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: authv3.Authorization_Check_FullMethodName}
	return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
		return s.Check(ctx, req.(*authv3.CheckRequest))
	})
}
