package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cors-authz/cors-authz/bench/fixture"
	"github.com/cors-authz/cors-authz/bench/internal/cli/clitest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestProfileServe: each target answers a realistic Check on loopback as
// it should (cors-authz: the allowed preflight's 204; no-op: OK), and the
// profile file is written when the command stops.
func TestProfileServe(t *testing.T) {
	tests := []struct {
		target string
		want   int32 // gRPC status code of the answer
	}{{"cors-authz", 7}, {"noop", 0}}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			prof := filepath.Join(t.TempDir(), "cpu.prof")
			r := clitest.Start(t, run, "-target", tt.target, "-grpc-addr", "127.0.0.1:0", "-cpuprofile", prof, "-delay", "1ms")
			conn, err := grpc.NewClient(r.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := authv3.NewAuthorizationClient(conn).Check(context.Background(), fixture.RealisticCheckRequest(fixture.Cases[2], 1, true))
			conn.Close()
			time.Sleep(20 * time.Millisecond) // past -delay: the profile runs
			if c := r.Stop(); c != 0 {
				t.Fatalf("exit %d: %s", c, r.Stderr.String())
			}
			if err != nil || resp.GetStatus().GetCode() != tt.want {
				t.Fatalf("Check: %v %v, want code %d", resp, err, tt.want)
			}
			if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
				t.Fatalf("profile: %v %v", fi, err)
			}
		})
	}
	if c := run(context.Background(), []string{"-target", "nope"}, io.Discard, io.Discard); c != 2 {
		t.Errorf("unknown target: exit %d, want 2", c)
	}
}
