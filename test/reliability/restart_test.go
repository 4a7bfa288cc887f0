//go:build linux

package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/internal/servetest"
)

// readyWatch polls /readyz on a fixed admin address across restarts and
// records what it sees. Every time /readyz says ready, /policy must show
// the policy file's SHA-256: ready means the policy is loaded.
type readyWatch struct {
	p       *proc // only its HTTP client and admin address are used
	wantSHA string

	refused, notReady, ready atomic.Int64
	mu                       sync.Mutex
	violations               []string

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

func watchReady(p *proc, wantSHA string) *readyWatch {
	w := &readyWatch{p: p, wantSHA: wantSHA, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *readyWatch) run() {
	defer close(w.done)
	for range 20_000 { // bounded: ~100 s at most
		select {
		case <-w.stop:
			return
		case <-time.After(5 * time.Millisecond):
		}
		code, _, err := w.p.Get("/readyz")
		switch {
		case err != nil:
			w.refused.Add(1)
		case code == 503:
			w.notReady.Add(1)
		case code == 200:
			w.ready.Add(1)
			pc, body, err := w.p.Get("/policy")
			var v servetest.PolicyView
			if err == nil && pc == 200 {
				err = json.Unmarshal([]byte(body), &v)
			}
			if err != nil || pc != 200 || v.SHA256 != w.wantSHA {
				w.violate("/readyz 200 but /policy = %d, sha %.12s, %v", pc, v.SHA256, err)
			}
		default:
			w.violate("/readyz = %d", code)
		}
	}
}

func (w *readyWatch) violate(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.violations) < 5 {
		w.violations = append(w.violations, fmt.Sprintf(format, args...))
	}
}

// halt stops the polling and waits for it to end; it may be called twice.
func (w *readyWatch) halt() {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
}

func (w *readyWatch) String() string {
	return fmt.Sprintf("/readyz seen: %d refused, %d not ready, %d ready", w.refused.Load(), w.notReady.Load(), w.ready.Load())
}

// TestRestartAfterKill kills the process with SIGKILL (no shutdown at
// all) and restarts it on the same addresses, over TCP and over a Unix
// socket (which SIGKILL leaves behind, stale). A restart while the policy
// file is broken exits 1 and never reports ready; once the file is fixed,
// the restarted process reports ready only with its policy loaded and
// answers every request of the mix exactly as the policy says.
func TestRestartAfterKill(t *testing.T) {
	for _, transport := range []string{"tcp", "unix"} {
		t.Run(transport, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "policy.yaml")
			writeFile(t, path, policyA)
			grpcAddr := "127.0.0.1:0"
			if transport == "unix" {
				grpcAddr = "unix://" + filepath.Join(dir, "authz.sock")
			}
			p1 := startProc(t, "--config", path, "--grpc-addr", grpcAddr)
			its := items(t, newService(t, policyA))
			checkAll(t, p1, its)

			// Fixed addresses from now on: the ones the first process got.
			args := []string{"--config", path, "--grpc-addr", p1.GRPCAddr, "--admin-addr", p1.AdminAddr}
			if transport == "unix" {
				args[3] = grpcAddr
			}
			p1.signal(syscall.SIGKILL)
			if _, ok := p1.Wait(10 * time.Second); !ok || p1.Signaled() != syscall.SIGKILL {
				t.Fatalf("SIGKILL: exited %v, signal %v", ok, p1.Signaled())
			}
			w := watchReady(p1, sha(policyA))
			defer w.halt()

			// A restart on a broken file refuses to start: exit 1, never ready.
			writeFile(t, path, "classes: [\nversion: 1\n")
			bad := launch(t, args...)
			code, ok := bad.Wait(servetest.StartTimeout)
			if !ok || code != 1 {
				t.Fatalf("restart on a broken policy: exited %v with %d, want 1; logs:\n%s", ok, code, bad.Log)
			}
			if _, ok := bad.Log.Find("cannot start"); !ok {
				t.Errorf("no \"cannot start\" log; logs:\n%s", bad.Log)
			}
			if n := w.ready.Load(); n != 0 {
				t.Errorf("/readyz answered 200 %d times while no process had a policy", n)
			}

			// Fixed: the restart loads it, then reports ready.
			writeFile(t, path, policyA)
			p2 := startProc(t, args...)
			waitFor(t, 10*time.Second, "/readyz 200 after the restart", func() bool { return w.ready.Load() > 0 })
			w.halt()
			t.Logf("%s restart: %v; first process killed by %v", transport, w, p1.Signaled())
			if w.violations != nil {
				t.Errorf("ready without the policy: %q", w.violations)
			}
			if w.refused.Load() == 0 {
				t.Errorf("/readyz never refused between the kill and the restart")
			}
			if g := p2.policy().Generation; g != 1 {
				t.Errorf("restarted process at generation %d, want 1", g)
			}
			checkAll(t, p2, its)
			p2.stop(15 * time.Second)
		})
	}
}

// checkAll sends each item once on a new connection and compares the
// answer with the oracle's, byte for byte.
func checkAll(t *testing.T, p *proc, its []item) {
	t.Helper()
	client := authv3.NewAuthorizationClient(p.dial())
	for _, it := range its {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := client.Check(ctx, it.req)
		cancel()
		if err != nil {
			t.Errorf("%s: %v", it.name, err)
			continue
		}
		checktest.AssertResponse(t, resp)
		if it.matches(marshal(t, resp)) < 0 {
			t.Errorf("%s: wrong answer %v", it.name, resp)
		}
	}
}
