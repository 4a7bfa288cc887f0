// Package noop is an ext_authz v3 Authorization service that does no work:
// every Check gets the same pre-built OK response. Served with the same
// gRPC settings as cors-authz, it is the ceiling of the service benchmarks:
// what any ext_authz service costs on this machine (gRPC framing, HTTP/2,
// protobuf decoding of the CheckRequest, scheduling).
package noop

import (
	"context"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
)

// Server answers every Check with OK and no header mutations.
type Server struct {
	authv3.UnimplementedAuthorizationServer
}

var okResponse = &authv3.CheckResponse{
	Status:       &status.Status{Code: int32(codes.OK)},
	HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
}

// okEncoded is okResponse encoded once, as cors-authz keeps its shared
// responses (envoyauth.PreEncode): with envoyauth.NewCodec installed
// (ServerOptions), the reply is written from these bytes.
var okEncoded = envoyauth.PreEncode(okResponse)

// Check returns the fixed OK response. It must not be modified by callers.
func (Server) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return okResponse, nil
}

// Register registers the no-op as envoy.service.auth.v3.Authorization on g
// the way cors-authz registers itself (check.Service.Register): its own
// handler decodes the CheckRequest and replies with the pre-encoded OK, so
// with ServerOptions' codec both servers pay the same gRPC costs and
// neither marshals a shared reply per call.
func (Server) Register(g grpc.ServiceRegistrar) {
	g.RegisterService(&serviceDesc, Server{})
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: authv3.Authorization_ServiceDesc.ServiceName,
	HandlerType: (*authv3.AuthorizationServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Check",
		Handler:    checkHandler,
	}},
	Streams:  []grpc.StreamDesc{},
	Metadata: authv3.Authorization_ServiceDesc.Metadata,
}

func checkHandler(_ any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(authv3.CheckRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return okEncoded, nil
	}
	info := &grpc.UnaryServerInfo{Server: Server{}, FullMethod: authv3.Authorization_Check_FullMethodName}
	return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
		return Server{}.Check(ctx, req.(*authv3.CheckRequest))
	})
}
