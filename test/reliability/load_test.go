//go:build linux

package reliability

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cors-authz/cors-authz/internal/checktest"
)

// loadConfig is a closed-loop load: each worker sends the items in turn,
// one at a time, until stopped or maxPerWorker calls. With once, every
// item is sent exactly once instead, spread over the workers.
type loadConfig struct {
	conns        []*grpc.ClientConn // workers are spread over them
	workers      int
	items        []item
	maxPerWorker int           // bound on each worker's calls
	once         bool          // send each item once (maxPerWorker is then ignored)
	callTimeout  time.Duration // per-call hang guard (default 10 s)
	// pauseOnError is how long a worker sleeps after a failed call, so a
	// dead server is not hammered in a tight loop (default 0).
	pauseOnError time.Duration
	// clock, when set, is ticked on every finished call; it orders calls
	// against other events (see loadStats.firstErrTick).
	clock *atomic.Int64
	// mark, when set and positive, is a clock tick: calls answered after
	// it are counted in loadStats.okAfterMark.
	mark *atomic.Int64
}

// loadStats is what a load saw.
type loadStats struct {
	calls       atomic.Int64 // finished calls
	answered    atomic.Int64 // calls that got a CheckResponse
	rpcErrors   atomic.Int64 // calls that failed
	mismatches  atomic.Int64 // answers that are none of the item's wants
	okAfterMark atomic.Int64
	// firstErrTick is the clock tick of the first failed call (0: none).
	firstErrTick atomic.Int64
	// matched[i][j] counts answers to items[i] equal to items[i].want[j].
	matched [][]atomic.Int64

	mu       sync.Mutex
	codes    map[codes.Code]int
	examples []string // the first few failures, for the test log
}

func (s *loadStats) note(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.examples) < 5 {
		s.examples = append(s.examples, fmt.Sprintf(format, args...))
	}
}

// errorCodes formats the failed calls by gRPC code.
func (s *loadStats) errorCodes() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var parts []string
	for c, n := range s.codes {
		parts = append(parts, fmt.Sprintf("%v=%d", c, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func (s *loadStats) String() string {
	s.mu.Lock()
	ex := strings.Join(s.examples, "\n  ")
	s.mu.Unlock()
	out := fmt.Sprintf("%d calls, %d answered, %d RPC errors [%s], %d mismatches",
		s.calls.Load(), s.answered.Load(), s.rpcErrors.Load(), s.errorCodes(), s.mismatches.Load())
	if ex != "" {
		out += "\n  " + ex
	}
	return out
}

// requireBoth reports each of its with two answers (first and second)
// for which the load did not see both.
func (s *loadStats) requireBoth(t testing.TB, its []item, first, second string) {
	t.Helper()
	for i, it := range its {
		if len(it.want) != 2 {
			continue
		}
		if a, b := s.matched[i][0].Load(), s.matched[i][1].Load(); a == 0 || b == 0 {
			t.Errorf("%s: %d answers as %s, %d as %s; want both", it.name, a, first, b, second)
		}
	}
}

// load is a running load.
type load struct {
	stats  *loadStats
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startLoad starts cfg's workers. Every answer goes through
// checktest.AssertResponse and is compared byte for byte (deterministic
// encoding) with the item's acceptable answers.
func startLoad(t testing.TB, cfg loadConfig) *load {
	t.Helper()
	if cfg.callTimeout == 0 {
		cfg.callTimeout = 10 * time.Second
	}
	if cfg.once {
		cfg.maxPerWorker = (len(cfg.items) + cfg.workers - 1) / cfg.workers
	}
	if cfg.maxPerWorker <= 0 {
		t.Fatal("startLoad: maxPerWorker must bound the load")
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{stats: &loadStats{codes: map[codes.Code]int{}}, cancel: cancel}
	l.stats.matched = make([][]atomic.Int64, len(cfg.items))
	for i, it := range cfg.items {
		l.stats.matched[i] = make([]atomic.Int64, len(it.want))
	}
	for w := range cfg.workers {
		client := authv3.NewAuthorizationClient(cfg.conns[w%len(cfg.conns)])
		l.wg.Go(func() { l.worker(ctx, t, cfg, client, w) })
	}
	return l
}

func (l *load) worker(ctx context.Context, t testing.TB, cfg loadConfig, client authv3.AuthorizationClient, w int) {
	st := l.stats
	for n := 0; n < cfg.maxPerWorker && ctx.Err() == nil; n++ {
		i := (w + n) % len(cfg.items)
		if cfg.once {
			if i = w + n*cfg.workers; i >= len(cfg.items) {
				return
			}
		}
		it := &cfg.items[i]
		cctx, cancel := context.WithTimeout(ctx, cfg.callTimeout)
		resp, err := client.Check(cctx, it.req)
		cancel()
		var tick int64
		if cfg.clock != nil {
			tick = cfg.clock.Add(1)
		}
		if ctx.Err() != nil && err != nil {
			return // stopped mid-call: not a failure of the server
		}
		st.calls.Add(1)
		if err != nil {
			st.rpcErrors.Add(1)
			st.firstErrTick.CompareAndSwap(0, tick)
			c := status.Code(err)
			st.mu.Lock()
			st.codes[c]++
			st.mu.Unlock()
			st.note("%s: %v", it.name, err)
			if cfg.pauseOnError > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(cfg.pauseOnError):
				}
			}
			continue
		}
		st.answered.Add(1)
		if m := cfg.mark; m != nil && m.Load() > 0 && tick > m.Load() {
			st.okAfterMark.Add(1)
		}
		checktest.AssertResponse(t, resp)
		j := it.matches(marshal(t, resp))
		if j < 0 {
			st.mismatches.Add(1)
			st.note("%s: answer matches no expected answer: %v", it.name, resp)
			continue
		}
		st.matched[i][j].Add(1)
	}
}

// stop stops the workers, waits for them and returns the statistics.
func (l *load) stop() *loadStats {
	l.cancel()
	l.wg.Wait()
	return l.stats
}

// wait waits for the workers to finish their maxPerWorker calls and
// returns the statistics.
func (l *load) wait() *loadStats {
	l.wg.Wait()
	l.cancel()
	return l.stats
}

// waitCalls waits until the load has finished n calls.
func (l *load) waitCalls(t testing.TB, n int64) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("%d calls", n), func() bool { return l.stats.calls.Load() >= n })
}
