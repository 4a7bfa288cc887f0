// Command loadgen sends Envoy-shaped ext_authz CheckRequests to a gRPC
// service on loopback and reports throughput and latency.
//
//	loadgen -addr 127.0.0.1:9001 -conns 4 -concurrency 16 -duration 5s [-json]
//
// Each of -concurrency workers runs a closed loop (send, wait, record) on
// one of -conns connections over a fixed mix of requests (see
// loadgen.DefaultMix); the first -warmup is not measured. It exits 1 if the
// service answered any request differently from an enforcing cors-authz
// with the bench policy, unless -verify=false (used for the no-op ceiling).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/cors-authz/cors-authz/bench/internal/cli"
	"github.com/cors-authz/cors-authz/bench/loadgen"
)

func main() { cli.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadgen.Config
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:9001", "ext_authz gRPC address (loopback only)")
	fs.IntVar(&cfg.Conns, "conns", 4, "gRPC connections (at most -concurrency)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 16, "closed-loop workers")
	fs.DurationVar(&cfg.Duration, "duration", 5*time.Second, "measured time")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "unmeasured time before measuring")
	fs.DurationVar(&cfg.Timeout, "timeout", time.Second, "per-Check deadline")
	fs.Int64Var(&cfg.MaxRequests, "max-requests", 0, "stop after this many measured requests (0: 100 million)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	verify := fs.Bool("verify", true, "require every answer to match cors-authz's verdict for the bench policy")
	fix := fs.String("fixture", "small", "requests: small (the compact Envoy-shaped fixture) or realistic (as Envoy sends them: 1.5–3.5 KiB, both header encodings)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := loopbackOnly(cfg.Addr); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	switch *fix {
	case "small":
		cfg.Mix = loadgen.DefaultMix()
	case "realistic":
		cfg.Mix = loadgen.RealisticMix()
	default:
		fmt.Fprintf(stderr, "loadgen: -fixture %q: want small or realistic\n", *fix)
		return 2
	}
	if !*verify {
		for i := range cfg.Mix {
			cfg.Mix[i].Want = ""
		}
	}
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
	} else {
		fmt.Fprintf(stdout, "%s conns=%d concurrency=%d: %d requests in %v = %.0f req/s; p50 %v p90 %v p99 %v p99.9 %v max %v; client CPU %.0f%% of a core; outcomes %v\n",
			res.Addr, res.Conns, res.Concurrency, res.Requests, res.Elapsed.Round(time.Millisecond), res.RPS,
			res.P50, res.P90, res.P99, res.P999, res.Max, 100*res.CPUShare, res.Outcomes)
	}
	if n := res.Outcomes[loadgen.Mismatch] + res.Outcomes[loadgen.RPCError]; n > 0 {
		fmt.Fprintf(stderr, "loadgen: %d of %d answers were errors or not what cors-authz should answer\n", n, res.Requests)
		return 1
	}
	return 0
}

// loopbackOnly refuses any target but this machine's loopback addresses.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing %q: only loopback targets (127.0.0.0/8, ::1, localhost)", addr)
	}
	return nil
}
