// Package loadgen drives an ext_authz v3 gRPC service with pre-built,
// Envoy-shaped CheckRequests from a fixed number of closed-loop workers
// over a fixed number of connections, for a fixed time, and reports
// throughput, latency quantiles and its own CPU use. cmd/loadgen wraps it.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Config says what to run.
type Config struct {
	Addr        string        // host:port of the ext_authz service (loopback)
	Conns       int           // gRPC connections (each an HTTP/2 connection)
	Concurrency int           // closed-loop workers, spread over Conns
	Duration    time.Duration // measured time
	Warmup      time.Duration // unmeasured time before it
	Timeout     time.Duration // per-Check deadline (Envoy's default is 200ms)
	// MaxRequests bounds the measured requests (0: 100 million), so a
	// run ends even if the clock misbehaves.
	MaxRequests int64
	Mix         []Item // request sequence each worker cycles through
}

// Item is one request of the mix and the outcome an enforcing service
// gives it.
type Item struct {
	Req  *authv3.CheckRequest
	Want Outcome
}

// Outcome classifies a CheckResponse.
type Outcome string

const (
	Forward    Outcome = "forward"    // status OK: Envoy forwards upstream
	Answer2xx  Outcome = "answer_2xx" // denied_response with 2xx: a preflight answer
	Answer4xx  Outcome = "answer_4xx" // denied_response with 4xx (or unset: 403)
	OtherReply Outcome = "other"      // anything else
	RPCError   Outcome = "rpc_error"  // the call failed
	Mismatch   Outcome = "mismatch"   // counted when the outcome is not Item.Want
)

// Classify returns the outcome Envoy would act on for resp.
func Classify(resp *authv3.CheckResponse) Outcome {
	if resp.GetStatus().GetCode() == 0 {
		return Forward
	}
	d := resp.GetDeniedResponse()
	if d == nil {
		return Answer4xx // Envoy's default for a denial is 403
	}
	switch code := int(d.GetStatus().GetCode()); {
	case code == 0 || (code >= 400 && code < 500):
		return Answer4xx
	case code >= 200 && code < 300:
		return Answer2xx
	}
	return OtherReply
}

// Result is what one run measured.
type Result struct {
	Addr        string             `json:"addr"`
	Conns       int                `json:"conns"`
	Concurrency int                `json:"concurrency"`
	Elapsed     time.Duration      `json:"elapsed_ns"`
	Requests    uint64             `json:"requests"`
	RPS         float64            `json:"rps"`
	P50         time.Duration      `json:"p50_ns"`
	P90         time.Duration      `json:"p90_ns"`
	P99         time.Duration      `json:"p99_ns"`
	P999        time.Duration      `json:"p999_ns"`
	Max         time.Duration      `json:"max_ns"`
	Outcomes    map[Outcome]uint64 `json:"outcomes"`
	// AllCalls counts every call completed, in the warm-up and after the
	// measured window too (plus the connections' first calls): with the
	// server's CPU time over the generator's whole run, it gives the
	// server's CPU cost per call.
	AllCalls uint64 `json:"all_calls"`
	// CPUShare is the generator's own CPU time (user+system) divided by
	// the measured wall time: 1.0 means one core fully busy. Near the
	// number of cores it was given, the generator is the bottleneck.
	CPUShare float64 `json:"client_cpu_share"`
}

// Run executes cfg. It returns an error if no connection can be made or
// every request failed; individual failures are counted as RPCError.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Concurrency < 1 || cfg.Conns < 1 || len(cfg.Mix) == 0 || cfg.Duration <= 0 {
		return nil, errors.New("loadgen: need concurrency >= 1, conns >= 1, a mix and a duration")
	}
	cfg.Conns = min(cfg.Conns, cfg.Concurrency)
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = 100_000_000
	}
	clients := make([]authv3.AuthorizationClient, cfg.Conns)
	var firstCalls uint64
	for i := range clients {
		cc, err := grpc.NewClient(cfg.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, fmt.Errorf("loadgen: dial %s: %w", cfg.Addr, err)
		}
		defer cc.Close()
		clients[i] = authv3.NewAuthorizationClient(cc)
		firstCalls++
		// Connect now, so that dialing is not part of the warm-up.
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = clients[i].Check(cctx, cfg.Mix[0].Req, grpc.WaitForReady(true))
		cancel()
		if err != nil {
			return nil, fmt.Errorf("loadgen: first Check on connection %d: %w", i, err)
		}
	}

	// phase: 0 warm-up, 1 measuring, 2 stopping.
	var phase atomic.Int32
	var budget atomic.Int64
	budget.Store(cfg.MaxRequests)
	type tally struct {
		h        Histogram
		outcomes map[Outcome]uint64
		calls    uint64 // every completed call, warm-up included
	}
	tallies := make([]*tally, cfg.Concurrency)
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		t := &tally{outcomes: make(map[Outcome]uint64, 8)}
		tallies[w] = t
		client := clients[w%cfg.Conns]
		wg.Go(func() {
			i := w * 7 // workers start at different points of the mix
			for {
				p := phase.Load()
				if p == 2 || ctx.Err() != nil {
					return
				}
				if p == 1 && budget.Add(-1) < 0 {
					return
				}
				item := cfg.Mix[i%len(cfg.Mix)]
				i++
				cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
				start := time.Now()
				resp, err := client.Check(cctx, item.Req)
				lat := time.Since(start)
				cancel()
				t.calls++
				if phase.Load() != 1 {
					continue
				}
				t.h.Record(lat)
				if err != nil {
					t.outcomes[RPCError]++
					continue
				}
				o := Classify(resp)
				t.outcomes[o]++
				if item.Want != "" && o != item.Want {
					t.outcomes[Mismatch]++
				}
			}
		})
	}

	sleep(ctx, cfg.Warmup)
	ru0 := rusage()
	t0 := time.Now()
	phase.Store(1)
	sleep(ctx, cfg.Duration)
	phase.Store(2)
	elapsed := time.Since(t0)
	ru1 := rusage()
	wg.Wait()

	res := &Result{Addr: cfg.Addr, Conns: cfg.Conns, Concurrency: cfg.Concurrency, Elapsed: elapsed, Outcomes: map[Outcome]uint64{}, AllCalls: firstCalls}
	var h Histogram
	for _, t := range tallies {
		h.Merge(&t.h)
		for k, v := range t.outcomes {
			res.Outcomes[k] += v
		}
		res.AllCalls += t.calls
	}
	res.Requests = h.Count()
	res.RPS = float64(res.Requests) / elapsed.Seconds()
	res.P50, res.P90, res.P99, res.P999 = h.Quantile(0.50), h.Quantile(0.90), h.Quantile(0.99), h.Quantile(0.999)
	res.Max = h.Max()
	res.CPUShare = (ru1 - ru0).Seconds() / elapsed.Seconds()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if res.Requests == 0 || res.Outcomes[RPCError] == res.Requests {
		return res, errors.New("loadgen: no request succeeded")
	}
	return res, nil
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// rusage is the process's CPU time so far (user + system).
func rusage() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
