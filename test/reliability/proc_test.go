//go:build linux

package reliability

import (
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/cors-authz/cors-authz/internal/servetest"
)

// proc is one `cors-authz serve` process (servetest.Server) with the
// test's failure reporting.
type proc struct {
	*servetest.Server
	t testing.TB
}

// startProc starts serve with args (plus loopback addresses and JSON logs
// unless args set them) and waits until it logs both listening addresses.
// The test's cleanup kills it if it is still running and fails the test
// if its log shows a data race.
func startProc(t testing.TB, args ...string) *proc {
	t.Helper()
	return &proc{servetest.Run(t, servetest.Options{Args: args}), t}
}

// launch starts serve without waiting for it to listen.
func launch(t testing.TB, args ...string) *proc {
	t.Helper()
	return &proc{servetest.Run(t, servetest.Options{Args: args, NoWait: true}), t}
}

// signal sends sig to the process.
func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// stop sends SIGTERM and fails the test unless the process exits 0 within
// timeout.
func (p *proc) stop(timeout time.Duration) {
	p.t.Helper()
	code, err := p.Stop(timeout)
	if err != nil {
		p.t.Fatalf("serve: %v; logs:\n%s", err, p.Log)
	}
	if code != 0 {
		p.t.Fatalf("serve exited %d after SIGTERM, want 0; logs:\n%s", code, p.Log)
	}
}

// dial returns a new gRPC connection (one HTTP/2 connection each), closed
// when the test ends.
func (p *proc) dial() *grpc.ClientConn {
	p.t.Helper()
	c, err := p.Dial()
	if err != nil {
		p.t.Fatal(err)
	}
	return c
}

// mustGet fetches an admin path and fails the test unless it answers 200.
func (p *proc) mustGet(path string) string {
	p.t.Helper()
	code, body, err := p.Get(path)
	if err != nil || code != 200 {
		p.t.Fatalf("GET %s = %d %q, %v", path, code, body, err)
	}
	return body
}

// policy reads GET /policy.
func (p *proc) policy() servetest.PolicyView {
	p.t.Helper()
	v, err := p.Policy()
	if err != nil {
		p.t.Fatalf("/policy: %v", err)
	}
	return v
}

// metrics scrapes /metrics.
func (p *proc) metrics() servetest.Metrics {
	p.t.Helper()
	m, err := p.Metrics()
	if err != nil {
		p.t.Fatalf("/metrics: %v", err)
	}
	return m
}

// waitFor polls cond every few milliseconds until it holds, failing the
// test after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(3 * time.Millisecond)
	}
}
