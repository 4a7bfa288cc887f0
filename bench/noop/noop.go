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
	"google.golang.org/grpc/codes"
)

// Server answers every Check with OK and no header mutations.
type Server struct {
	authv3.UnimplementedAuthorizationServer
}

var okResponse = &authv3.CheckResponse{
	Status:       &status.Status{Code: int32(codes.OK)},
	HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
}

// Check returns the fixed OK response. It must not be modified by callers.
func (Server) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return okResponse, nil
}
