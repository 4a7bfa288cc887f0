// Command noop serves an ext_authz v3 Authorization service that answers
// every Check with a fixed OK, with the gRPC settings of cors-authz serve:
// the ceiling the service benchmarks compare cors-authz against.
//
//	noop -grpc-addr 127.0.0.1:9101
//
// It prints "listening ADDR" once it accepts connections and stops on
// SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/cors-authz/cors-authz/bench/internal/cli"
	"github.com/cors-authz/cors-authz/bench/noop"
)

func main() { cli.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("noop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("grpc-addr", "127.0.0.1:9101", "gRPC listen address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "noop:", err)
		return 1
	}
	g := grpc.NewServer(noop.ServerOptions()...)
	noop.Server{}.Register(g)                            // as serve registers cors-authz (pre-encoded reply)
	healthpb.RegisterHealthServer(g, health.NewServer()) // as serve does
	done := make(chan error, 1)
	go func() { done <- g.Serve(ln) }()
	fmt.Fprintln(stdout, "listening", ln.Addr())
	select {
	case <-ctx.Done():
		g.GracefulStop()
		return 0
	case err := <-done:
		fmt.Fprintln(stderr, "noop:", err)
		return 1
	}
}
