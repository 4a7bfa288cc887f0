package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer lets the test read what run prints while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeAndStop starts the command on a loopback port, sends one Check,
// and stops it by cancelling its context, as SIGTERM does.
func TestServeAndStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"-grpc-addr", "127.0.0.1:0"}, &out, &errb) }()
	var addr string
	for range 200 { // up to 2 s
		if a, ok := strings.CutPrefix(strings.TrimSpace(out.String()), "listening "); ok {
			addr = a
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if addr == "" {
		cancel()
		t.Fatalf("no listening line; stderr %q", errb.String())
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := authv3.NewAuthorizationClient(cc).Check(ctx, &authv3.CheckRequest{})
	cc.Close()
	if err != nil || resp.GetStatus().GetCode() != 0 || resp.GetOkResponse() == nil {
		t.Errorf("Check = %v, %v; want an OK response", resp, err)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("exit %d, want 0; stderr %q", c, errb.String())
	}
}
