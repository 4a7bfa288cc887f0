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
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cors-authz/cors-authz/bench/fixture"
	"github.com/cors-authz/cors-authz/bench/internal/cli"
	"github.com/cors-authz/cors-authz/internal/servetest"
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

// fixtures are the request sets of the service benchmarks (loadgen
// -fixture): the compact Envoy-shaped requests, and requests as Envoy
// really sends them (1.5–3.5 KiB, both header encodings).
var fixtures = []string{"small", "realistic"}

func main() { cli.Main(run) }

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
	bins["cors-authz"] = serveBin
	if serveBin == "" {
		if bins["cors-authz"], err = servetest.Build(ctx, tmp, "-trimpath"); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"noop", "loadgen"} {
		bins[name] = filepath.Join(tmp, name)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bins[name], "./cmd/"+name)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/%s: %w", name, err)
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
		{"^BenchmarkDecode$", []string{"-count=1", "-benchtime=" + set.benchtime}, "./baseline", set.count},
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
	// cors-authz on loopback ports it picks, waited for until it logs them
	// (its JSON log also goes to log); the no-op on a free port, waited for
	// until it accepts connections.
	authz, err := servetest.Start(ctx, servetest.Options{
		Bin: bins["cors-authz"], Args: []string{"--config", policyPath},
		Prefix: rep.pin.prefix(rep.pin.server), Log: log,
	})
	if err != nil {
		return nil, err
	}
	defer stopServer("cors-authz", authz.Proc, log)
	defer authz.Close()
	authzAddr := authz.GRPCAddr
	serveArgs := authz.Args()[slices.Index(authz.Args(), bins["cors-authz"])+1:]
	fmt.Fprintf(log, "started cors-authz: %s\n", strings.Join(authz.Args(), " "))
	noopAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	noopCmd := rep.pin.command(ctx, rep.pin.server, bins["noop"], "-grpc-addr", noopAddr)
	fmt.Fprintf(log, "start noop: %s\n", strings.Join(noopCmd.Args, " "))
	noopSrv, err := servetest.StartProc(noopCmd, log)
	if err != nil {
		return nil, err
	}
	defer stopServer("noop", noopSrv, log)
	if err := noopSrv.WaitTCP(noopAddr, 20*time.Second); err != nil {
		return nil, err
	}
	shown := strings.NewReplacer(tmp, "$TMP", noopAddr, "127.0.0.1:PORT")
	rep.commands = append(rep.commands,
		shown.Replace("cors-authz "+strings.Join(serveArgs, " ")+rep.pin.note(rep.pin.server)),
		shown.Replace("noop -grpc-addr "+noopAddr+rep.pin.note(rep.pin.server)),
		fmt.Sprintf("loadgen -addr ADDR -json -concurrency C -conns %d -duration %v -warmup %v -verify=(true for cors-authz, false for noop) -fixture (small|realistic)%s", conns, set.duration, set.warmup, rep.pin.note(rep.pin.client)))

	// 4. Load: at each concurrency and for each fixture, alternate
	// cors-authz and noop runs.
	targets := []struct {
		name   string
		p      *servetest.Proc
		addr   string
		verify bool
	}{{"cors-authz", authz.Proc, authzAddr, true}, {"noop", noopSrv, noopAddr, false}}
	for _, c := range concurrencies {
		for round := 1; round <= set.rounds; round++ {
			for _, fx := range fixtures {
				for _, t := range targets {
					if err := ctx.Err(); err != nil {
						return nil, err
					}
					res, cpu, srvCPU, err := runLoad(ctx, rep.pin, bins["loadgen"], t.p, t.addr, fx, c, conns, set.duration, set.warmup, t.verify, log)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", t.name, err)
					}
					perCall := float64(cpu) / float64(max(res.AllCalls, 1))
					fmt.Fprintf(log, "load %-10s %-9s c=%-3d round %d: %8.0f req/s  p50 %-10v p99 %-10v p99.9 %-10v server CPU %3.0f%% (%5.1f µs/call)  client CPU %3.0f%%\n",
						t.name, fx, c, round, res.RPS, res.P50, res.P99, res.P999, 100*srvCPU, perCall/1e3, 100*res.CPUShare)
					rep.loads = append(rep.loads, loadRun{Target: t.name, Fixture: fx, Concurrency: c, Round: round, Res: res, ServerCPU: srvCPU, ServerCPUPerCall: perCall})
				}
			}
		}
	}

	// 5. Reloads of the 100,000-origin policy through the running service.
	rep.rssBefore = rss(authz.Proc)
	for k := 1; k <= set.reloads; k++ {
		d, err := measureReload(ctx, authzAddr, policyPath, k)
		if err != nil {
			return nil, fmt.Errorf("reload %d: %w", k, err)
		}
		fmt.Fprintf(log, "reload %d of the 100,000-origin policy: %v\n", k, d)
		rep.reloads = append(rep.reloads, d)
	}
	rep.rssAfter = rss(authz.Proc)
	rep.elapsed = time.Since(began)
	return rep, nil
}

// stopServer sends SIGTERM and waits up to 10 s, then kills; a failure is
// only logged, the figures being measured already.
func stopServer(name string, p *servetest.Proc, log io.Writer) {
	if _, err := p.Stop(10 * time.Second); err != nil {
		fmt.Fprintf(log, "stop %s: %v\n", name, err)
	}
}

// rss is the process's resident set size in bytes, 0 if unknown.
func rss(p *servetest.Proc) uint64 {
	n, err := p.RSS()
	if err != nil {
		return 0
	}
	return uint64(n)
}
