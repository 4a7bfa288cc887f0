package noop

import (
	"context"
	"net"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRegister: served as the benchmarks serve it (ServerOptions' codec,
// Register's pre-encoded reply), and registered the generated way, every
// Check gets the fixed OK.
func TestRegister(t *testing.T) {
	tests := []struct {
		name     string
		register func(*grpc.Server)
	}{
		{"pre_encoded", func(g *grpc.Server) { Server{}.Register(g) }},
		{"generated", func(g *grpc.Server) { authv3.RegisterAuthorizationServer(g, Server{}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lis := bufconn.Listen(1 << 16)
			g := grpc.NewServer(ServerOptions()...)
			tc.register(g)
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = g.Serve(lis)
			}()
			defer func() { g.Stop(); <-done }()
			cc, err := grpc.NewClient("passthrough:///bufconn",
				grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
				grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			for range 2 {
				resp, err := authv3.NewAuthorizationClient(cc).Check(context.Background(), &authv3.CheckRequest{})
				if err != nil {
					t.Fatal(err)
				}
				if !proto.Equal(resp, okResponse) {
					t.Fatalf("got %v, want %v", resp, okResponse)
				}
			}
		})
	}
}
