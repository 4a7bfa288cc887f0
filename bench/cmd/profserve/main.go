// Command profserve serves one ext_authz server in process with a CPU
// profile running, for the profile splits in docs/benchmarks.md: either
// cors-authz's Check service (check.Service with the default cache, a
// Prometheus registry and the bench policy, registered with its own
// handler) or the no-op ceiling, both with the gRPC settings of
// cors-authz serve (noop.ServerOptions).
//
//	profserve -target cors-authz -grpc-addr 127.0.0.1:9111 -cpuprofile cors-authz.prof
//
// It prints "listening ADDR" once it accepts connections; the profile
// covers -delay after that until SIGINT or SIGTERM. Drive it with
// loadgen, e.g. -fixture realistic -concurrency 16, and divide the
// profile's times by the calls served in its window.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/cors-authz/cors-authz/bench/fixture"
	"github.com/cors-authz/cors-authz/bench/internal/cli"
	"github.com/cors-authz/cors-authz/bench/noop"
	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

func main() { cli.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("profserve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "cors-authz", "server: cors-authz or noop")
	addr := fs.String("grpc-addr", "127.0.0.1:9111", "gRPC listen address (loopback)")
	out := fs.String("cpuprofile", "cpu.prof", "CPU profile file")
	delay := fs.Duration("delay", time.Second, "time between listening and starting the profile (the load generator's warm-up)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	g := grpc.NewServer(noop.ServerOptions()...)
	switch *target {
	case "noop":
		noop.Server{}.Register(g)
	case "cors-authz":
		p, _, err := policy.Parse("bench.yaml", fixture.PolicyYAML())
		if err != nil {
			fmt.Fprintln(stderr, "profserve:", err)
			return 1
		}
		s := check.New(check.Options{CacheSize: check.DefaultCacheSize, Registerer: prometheus.NewRegistry()})
		s.SetPolicy(p)
		s.Register(g)
	default:
		fmt.Fprintf(stderr, "profserve: -target %q: want cors-authz or noop\n", *target)
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "profserve:", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- g.Serve(ln) }()
	defer g.Stop()
	fmt.Fprintln(stdout, "listening", ln.Addr())
	select {
	case <-ctx.Done():
		return 0
	case err := <-done:
		fmt.Fprintln(stderr, "profserve:", err)
		return 1
	case <-time.After(*delay):
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(stderr, "profserve:", err)
		return 1
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		fmt.Fprintln(stderr, "profserve:", err)
		return 1
	}
	select {
	case <-ctx.Done():
	case err = <-done:
	}
	pprof.StopCPUProfile()
	if cerr := f.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(stderr, "profserve:", err)
		return 1
	}
	return 0
}
