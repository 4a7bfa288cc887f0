package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/cors-authz/cors-authz/bench/loadgen"
	"github.com/cors-authz/cors-authz/bench/noop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLoopbackOnly(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:9001", true},
		{"127.9.9.9:1", true},
		{"[::1]:9001", true},
		{"localhost:9001", true},
		{"192.0.2.1:9001", false},
		{"10.0.0.1:9001", false},
		{"example.com:9001", false},
		{"9001", false},
	}
	for _, tt := range tests {
		if err := loopbackOnly(tt.addr); (err == nil) != tt.ok {
			t.Errorf("loopbackOnly(%q) = %v, want ok=%t", tt.addr, err, tt.ok)
		}
	}
}

// TestRunAgainstNoop runs the command against the no-op server: it reports
// JSON, and exits 1 because the no-op does not answer like cors-authz
// unless -verify=false.
func TestRunAgainstNoop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(noop.ServerOptions()...)
	authv3.RegisterAuthorizationServer(g, noop.Server{})
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Serve(ln) }()
	defer func() { g.Stop(); <-done }()

	args := []string{"-addr", ln.Addr().String(), "-concurrency", "2", "-conns", "1", "-duration", "150ms", "-warmup", "20ms", "-json"}
	for _, tt := range []struct {
		verify string
		code   int
	}{{"-verify=false", 0}, {"-verify=true", 1}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), append(args, tt.verify), &out, &errb); code != tt.code {
			t.Errorf("%s: exit %d, want %d; stderr %s", tt.verify, code, tt.code, errb.String())
		}
		var res loadgen.Result
		if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Requests == 0 {
			t.Errorf("%s: output %q: %v", tt.verify, out.String(), err)
		}
	}
}

func TestRunRefusesRemoteTargets(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"-addr", "192.0.2.1:9001"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "loopback") {
		t.Errorf("exit %d, stderr %q; want 2 and a loopback message", code, errb.String())
	}
}
