// Command benchreport runs cors-authz's performance benchmarks and writes
// docs/benchmarks.md and docs/benchmarks.svg. It is what `make bench` and
// `make bench-quick` run, from the bench/ directory:
//
//	go run ./cmd/benchreport [-quick]
//
// It runs, in order: the decision micro-benchmarks (cors-authz's policy
// decision and in-process Check next to rs/cors and jub0bs/cors), the scale
// and cache benchmarks, then the service under load (cors-authz serve and
// the no-op ceiling, alternated run by run at each concurrency, servers and
// load generator pinned to different CPUs), then policy reloads of the
// 100,000-origin file through the running service. Every figure is
// reported next to a baseline measured in the same run, as a ratio.
//
// Notes below the marker line in docs/benchmarks.md are kept across runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cors-authz/cors-authz/bench/fixture"
)

// settings are the knobs that differ between -quick and the full run.
type settings struct {
	count       int           // go test -count
	benchtime   string        // go test -benchtime
	scaleFilter string        // which sizes BenchmarkScale runs
	floodN      string        // BenchmarkFlood's fixed iteration count
	rounds      int           // load runs per target and concurrency
	duration    time.Duration // per load run
	warmup      time.Duration
	reloads     int
}

var (
	full  = settings{count: 5, benchtime: "300ms", scaleFilter: "", floodN: "400000x", rounds: 8, duration: 2 * time.Second, warmup: 300 * time.Millisecond, reloads: 3}
	quick = settings{count: 3, benchtime: "50ms", scaleFilter: "/exact=(10|100000)$/", floodN: "200000x", rounds: 1, duration: time.Second, warmup: 300 * time.Millisecond, reloads: 1}
)

// concurrencies are the load levels of the service benchmarks.
var concurrencies = []int{1, 16, 64}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	isQuick := fs.Bool("quick", false, "short run (under 2 minutes): fewer repetitions and sizes, 1 s load runs")
	out := fs.String("out", "../docs/benchmarks.md", "report file to write (empty: none)")
	chart := fs.String("chart", "../docs/benchmarks.svg", "chart file to write, .svg or .png (empty: none)")
	serveBin := fs.String("serve-bin", "", "use this cors-authz binary instead of building ../cmd/cors-authz")
	conns := fs.Int("conns", 2, "gRPC connections of the load generator (Envoy keeps a few per worker)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if _, err := os.Stat("fixture"); err != nil {
		fmt.Fprintln(stderr, "benchreport: run it from the bench/ directory (make bench does)")
		return 2
	}
	set := full
	if *isQuick {
		set = quick
	}
	rep, err := measure(ctx, set, *isQuick, *conns, *serveBin, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "benchreport:", err)
		return 1
	}
	fmt.Fprint(stdout, rep.summaryTable())
	if *chart != "" {
		if err := writeChart(*chart, rep); err != nil {
			fmt.Fprintln(stderr, "benchreport: chart:", err)
			return 1
		}
		rep.chartFile = filepath.Base(*chart)
		fmt.Fprintln(stdout, "\nchart:", *chart)
	}
	if *out != "" {
		if err := writeReport(*out, rep); err != nil {
			fmt.Fprintln(stderr, "benchreport:", err)
			return 1
		}
		fmt.Fprintln(stdout, "report:", *out)
	}
	return 0
}

// measure runs everything and returns the figures.
func measure(ctx context.Context, set settings, isQuick bool, conns int, serveBin string, log io.Writer) (*report, error) {
	began := time.Now()
	rep := &report{quick: isQuick, set: set, conns: conns, env: readEnv(), micro: Samples{}}
	rep.pin = detectPinning()
	fmt.Fprintf(log, "benchreport: %s mode; %s\n", map[bool]string{true: "quick", false: "full"}[isQuick], rep.pin)

	// 1. Binaries first: a build failure should not wait for the benchmarks.
	tmp, err := os.MkdirTemp("", "cors-authz-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bins := map[string]string{}
	for name, b := range map[string]struct{ dir, pkg string }{
		"cors-authz": {"..", "./cmd/cors-authz"},
		"noop":       {".", "./cmd/noop"},
		"loadgen":    {".", "./cmd/loadgen"},
	} {
		bins[name] = filepath.Join(tmp, name)
		if name == "cors-authz" && serveBin != "" {
			bins[name] = serveBin
			continue
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bins[name], b.pkg)
		cmd.Dir, cmd.Stdout, cmd.Stderr = b.dir, log, log
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go build %s: %w", b.pkg, err)
		}
	}

	// 2. Micro-benchmarks. Rather than -count=N, which repeats each
	// benchmark back to back, the whole set runs N times over, so a burst
	// of background load lands on every implementation alike; the figures
	// are medians over the N passes.
	runs := []struct {
		pattern string
		extra   []string
		pkg     string
		passes  int
	}{
		{"^BenchmarkDecision$", []string{"-count=1", "-benchtime=" + set.benchtime}, "./baseline", set.count},
		{"^BenchmarkScale$" + set.scaleFilter, []string{"-count=1", "-benchtime=" + set.benchtime}, "./scale", set.count},
		{"^BenchmarkCheck$", []string{"-count=1", "-benchtime=" + set.benchtime}, "./cache", set.count},
		{"^BenchmarkFlood$", []string{"-count=1", "-benchtime=" + set.floodN}, "./cache", 1},
	}
	for pass := 1; pass <= set.count; pass++ {
		for _, r := range runs {
			if pass > r.passes {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			fmt.Fprintf(log, "pass %d of %d\n", pass, r.passes)
			s, cmdline, err := goTestBench(".", r.pattern, r.extra, []string{r.pkg}, log)
			if err != nil {
				return nil, err
			}
			rep.micro.Merge(s)
			if pass == 1 {
				rep.commands = append(rep.commands, fmt.Sprintf("(cd bench && %s)   # %d pass(es)", cmdline, r.passes))
			}
		}
	}

	// 3. Servers: cors-authz serve with the fixture policy, and the no-op.
	policyPath := filepath.Join(tmp, "policy", "bench.yaml")
	if err := os.MkdirAll(filepath.Dir(policyPath), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(policyPath, fixture.PolicyYAML(), 0o644); err != nil {
		return nil, err
	}
	authzAddr, err1 := freeAddr()
	adminAddr, err2 := freeAddr()
	noopAddr, err3 := freeAddr()
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	serveArgs := []string{"serve", "--config", policyPath, "--grpc-addr", authzAddr, "--admin-addr", adminAddr, "--log-level", "warn"}
	authz, err := startProc("cors-authz", rep.pin.command(ctx, rep.pin.server, bins["cors-authz"], serveArgs...), log)
	if err != nil {
		return nil, err
	}
	defer authz.stop()
	noopSrv, err := startProc("noop", rep.pin.command(ctx, rep.pin.server, bins["noop"], "-grpc-addr", noopAddr), log)
	if err != nil {
		return nil, err
	}
	defer noopSrv.stop()
	for _, w := range []struct {
		p    *proc
		addr string
	}{{authz, authzAddr}, {noopSrv, noopAddr}} {
		if err := waitTCP(w.p, w.addr, 20*time.Second); err != nil {
			return nil, err
		}
	}
	shown := strings.NewReplacer(tmp, "$TMP", authzAddr, "127.0.0.1:PORT1", adminAddr, "127.0.0.1:PORT2", noopAddr, "127.0.0.1:PORT3")
	rep.commands = append(rep.commands,
		shown.Replace("cors-authz "+strings.Join(serveArgs, " ")+rep.pin.note(rep.pin.server)),
		shown.Replace("noop -grpc-addr "+noopAddr+rep.pin.note(rep.pin.server)),
		fmt.Sprintf("loadgen -addr ADDR -json -concurrency C -conns %d -duration %v -warmup %v -verify=(true for cors-authz, false for noop)%s", conns, set.duration, set.warmup, rep.pin.note(rep.pin.client)))

	// 4. Load: at each concurrency, alternate cors-authz and noop runs.
	targets := []struct {
		name   string
		p      *proc
		addr   string
		verify bool
	}{{"cors-authz", authz, authzAddr, true}, {"noop", noopSrv, noopAddr, false}}
	for _, c := range concurrencies {
		for round := 1; round <= set.rounds; round++ {
			for _, t := range targets {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				res, cpu, srvCPU, err := runLoad(ctx, rep.pin, bins["loadgen"], t.p, t.addr, c, conns, set.duration, set.warmup, t.verify, log)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", t.name, err)
				}
				perCall := float64(cpu) / float64(max(res.AllCalls, 1))
				fmt.Fprintf(log, "load %-10s c=%-3d round %d: %8.0f req/s  p50 %-10v p99 %-10v p99.9 %-10v server CPU %3.0f%% (%5.1f µs/call)  client CPU %3.0f%%\n",
					t.name, c, round, res.RPS, res.P50, res.P99, res.P999, 100*srvCPU, perCall/1e3, 100*res.CPUShare)
				rep.loads = append(rep.loads, loadRun{Target: t.name, Concurrency: c, Round: round, Res: res, ServerCPU: srvCPU, ServerCPUPerCall: perCall})
			}
		}
	}

	// 5. Reloads of the 100,000-origin policy through the running service.
	rep.rssBefore = authz.rss()
	for k := 1; k <= set.reloads; k++ {
		d, err := measureReload(ctx, authzAddr, policyPath, k)
		if err != nil {
			return nil, fmt.Errorf("reload %d: %w", k, err)
		}
		fmt.Fprintf(log, "reload %d of the 100,000-origin policy: %v\n", k, d)
		rep.reloads = append(rep.reloads, d)
	}
	rep.rssAfter = authz.rss()
	rep.elapsed = time.Since(began)
	return rep, nil
}
