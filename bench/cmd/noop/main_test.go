package main

import (
	"context"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cors-authz/cors-authz/bench/internal/cli/clitest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestServeAndStop starts the command on a loopback port, sends one Check,
// and stops it by cancelling its context, as SIGTERM does.
func TestServeAndStop(t *testing.T) {
	r := clitest.Start(t, run, "-grpc-addr", "127.0.0.1:0")
	cc, err := grpc.NewClient(r.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := authv3.NewAuthorizationClient(cc).Check(context.Background(), &authv3.CheckRequest{})
	cc.Close()
	if err != nil || resp.GetStatus().GetCode() != 0 || resp.GetOkResponse() == nil {
		t.Errorf("Check = %v, %v; want an OK response", resp, err)
	}
	if c := r.Stop(); c != 0 {
		t.Errorf("exit %d, want 0; stderr %q", c, r.Stderr.String())
	}
}
