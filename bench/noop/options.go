package noop

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
)

// ServerOptions are the gRPC server options cors-authz serve uses for a
// plaintext listener (grpcServerOptions in cmd/cors-authz/serve_grpc.go),
// restated here because a command's unexported settings cannot be
// imported. TestServerOptionsMatchServe fails when the two drift apart.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ForceServerCodecV2(envoyauth.NewCodec()),
		grpc.MaxRecvMsgSize(4 << 20),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    time.Minute,
			Timeout: 20 * time.Second,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             5 * time.Second,
			PermitWithoutStream: true,
		}),
	}
}
