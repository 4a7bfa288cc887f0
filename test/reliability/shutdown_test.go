//go:build linux

package reliability

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestGracefulShutdownUnderLoad sends SIGTERM to the real process while a
// load runs. Health must turn NOT_SERVING (gRPC Watch and /readyz) before
// any call fails, calls keep being answered correctly during the drain,
// and the process exits 0 within --drain-delay + --shutdown-timeout.
//
// Events are ordered with a logical clock (one atomic counter ticked by
// every observer as it observes), not by wall time.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	const (
		drain   = 750 * time.Millisecond
		timeout = 5 * time.Second
	)
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, path, policyA)
	p := startProc(t, "--config", path, "--drain-delay", drain.String(), "--shutdown-timeout", timeout.String())
	its := items(t, newService(t, policyA))

	var clock, mark atomic.Int64
	var notServingTick, readyzFailTick atomic.Int64

	// The health stream Envoy's and Kubernetes' checkers would see.
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	stream, err := healthpb.NewHealthClient(p.dial()).Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first health status %v, %v; want SERVING", first.GetStatus(), err)
	}
	var observers sync.WaitGroup
	var watched []healthpb.HealthCheckResponse_ServingStatus
	observers.Go(func() {
		for range 100 { // bounded: the stream sends NOT_SERVING and ends
			m, err := stream.Recv()
			if err != nil {
				return
			}
			if m.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
				notServingTick.CompareAndSwap(0, clock.Add(1))
			}
			watched = append(watched, m.GetStatus())
		}
	})
	// /readyz, as a Kubernetes readiness probe polls it.
	observers.Go(func() {
		for range 5000 { // bounded: ~10 ms apart, stops when the process exits
			if p.Exited() {
				return
			}
			code, _, err := p.Get("/readyz")
			if err != nil || code != 200 {
				readyzFailTick.CompareAndSwap(0, clock.Add(1))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	l := startLoad(t, loadConfig{
		conns:        []*grpc.ClientConn{p.dial(), p.dial()},
		workers:      8,
		items:        its,
		maxPerWorker: 2_000_000,
		pauseOnError: 5 * time.Millisecond,
		clock:        &clock,
		mark:         &mark,
	})
	l.waitCalls(t, 200)

	mark.Store(clock.Add(1))
	sent := time.Now()
	p.signal(syscall.SIGTERM)
	code, ok := p.Wait(drain + timeout + 20*time.Second) // hang guard
	elapsed := time.Since(sent)
	st := l.stop()
	stopWatch()
	observers.Wait()
	if !ok {
		t.Fatalf("still running %v after SIGTERM; logs:\n%s", elapsed, p.Log)
	}

	t.Logf("SIGTERM: exit %d after %v (drain %v, shutdown timeout %v); %v; %d answered after SIGTERM; health stream %v",
		code, elapsed.Round(time.Millisecond), drain, timeout, st, st.okAfterMark.Load(), watched)
	if code != 0 {
		t.Errorf("exit code %d, want 0; logs:\n%s", code, p.Log)
	}
	if elapsed > drain+timeout {
		t.Errorf("exited %v after SIGTERM, more than --drain-delay + --shutdown-timeout (%v)", elapsed, drain+timeout)
	}
	if st.mismatches.Load() != 0 {
		t.Errorf("a finished call got a wrong answer: %v", st)
	}
	if st.okAfterMark.Load() == 0 {
		t.Errorf("no call was answered after SIGTERM: the drain served nothing")
	}
	ns, rf, fe := notServingTick.Load(), readyzFailTick.Load(), st.firstErrTick.Load()
	if ns == 0 {
		t.Errorf("the health stream never reported NOT_SERVING (saw %v)", watched)
	}
	if rf == 0 {
		t.Errorf("/readyz never failed during shutdown")
	}
	if fe != 0 && (ns == 0 || fe < ns || rf == 0 || fe < rf) {
		t.Errorf("a call failed (tick %d) before health said NOT_SERVING (tick %d) and /readyz failed (tick %d)", fe, ns, rf)
	}
	// Calls fail only once the listener is gone, and only as unavailable.
	st.mu.Lock()
	for c, n := range st.codes {
		if c != codes.Unavailable {
			t.Errorf("%d calls failed with %v; only Unavailable (server gone) is expected", n, c)
		}
	}
	st.mu.Unlock()

	// The process logged the steps in order, and every in-flight Check
	// finished before the timeout.
	steps := []string{
		"shutdown requested",
		"shutdown: health NOT_SERVING, /readyz failing",
		"shutdown: draining before closing the listener",
		"shutdown: gRPC server stopped; in-flight Checks finished",
		"stopped",
	}
	last := -1
	for _, s := range steps {
		i := p.Log.Index(s)
		if i <= last {
			t.Errorf("log %q at record %d, want it after the previous step (record %d); logs:\n%s", s, i, last, p.Log)
		}
		last = i
	}
}
