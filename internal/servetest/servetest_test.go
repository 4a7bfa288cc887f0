package servetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestMain(m *testing.M) { Exit(m.Run()) }

func TestWithDefaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args, env []string
		want      []string
	}{
		{"none given", []string{"--config", "p.yaml"}, nil,
			[]string{"--config", "p.yaml", "--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-format", "json"}},
		{"flags given in every form", []string{"-grpc-addr", "unix:///s", "--admin-addr=127.0.0.1:9", "--log-format", "text"}, nil,
			[]string{"-grpc-addr", "unix:///s", "--admin-addr=127.0.0.1:9", "--log-format", "text"}},
		{"set by the environment", nil, []string{"CORS_AUTHZ_GRPC_ADDR=127.0.0.1:7", "CORS_AUTHZ_LOG_FORMAT=json"},
			[]string{"--admin-addr", "127.0.0.1:0"}},
		{"a prefix is not the flag", []string{"--grpc-addr-x", "1"}, nil,
			[]string{"--grpc-addr-x", "1", "--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-format", "json"}},
		{"after --", []string{"--", "--grpc-addr"}, nil,
			[]string{"--", "--grpc-addr", "--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-format", "json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := withDefaults(tc.args, tc.env); !slices.Equal(got, tc.want) {
				t.Errorf("withDefaults(%q, %q) = %q, want %q", tc.args, tc.env, got, tc.want)
			}
		})
	}
}

func TestEnviron(t *testing.T) {
	got := environ([]string{"PATH=/bin", "CORS_AUTHZ_CONFIG=/etc/p.yaml", "HOME=/h", "CORS_AUTHZ_SOAK=5m", "X_CORS_AUTHZ_Y=1"})
	if want := []string{"PATH=/bin", "HOME=/h", "X_CORS_AUTHZ_Y=1"}; !slices.Equal(got, want) {
		t.Errorf("environ = %q, want %q", got, want)
	}
}

func TestMetrics(t *testing.T) {
	m := Metrics(`# HELP cors_authz_checks_total Checks.
# TYPE cors_authz_checks_total counter
cors_authz_checks_total{class="a",result="allow"} 3
cors_authz_checks_total{class="b",result="deny"} 4.5
cors_authz_checks_total_extra 100
cors_authz_policy_reloads_total{result="failure"} 2
go_goroutines 17
`)
	for _, tc := range []struct {
		series string
		value  float64
		sum    float64
	}{
		{`cors_authz_checks_total{class="b",result="deny"}`, 4.5, 4.5},
		{"cors_authz_checks_total", 0, 7.5},
		{"go_goroutines", 17, 17},
		{`cors_authz_policy_reloads_total{result="failure"}`, 2, 2},
		{"cors_authz_policy_reloads_total", 0, 2},
		{"absent", 0, 0},
	} {
		if v := m.Value(tc.series); v != tc.value {
			t.Errorf("Value(%s) = %v, want %v", tc.series, v, tc.value)
		}
		if v := m.Sum(tc.series); v != tc.sum {
			t.Errorf("Sum(%s) = %v, want %v", tc.series, v, tc.sum)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	for _, tc := range []struct {
		status string
		want   int64
		ok     bool
	}{
		{"Name:\tx\nVmPeak:\t 9 kB\nVmRSS:\t    1234 kB\n", 1234 << 10, true},
		{"VmRSS:\t12 MB\n", 0, false},
		{"Name:\tx\n", 0, false},
	} {
		got, err := parseVmRSS(tc.status)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("parseVmRSS(%q) = %d, %v; want %d, ok %v", tc.status, got, err, tc.want, tc.ok)
		}
	}
}

// shell starts sh -c script as a Proc.
func shell(t *testing.T, script string) *Proc {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh:", err)
	}
	p, err := StartProc(exec.Command(sh, "-c", script), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	return p
}

func TestProc(t *testing.T) {
	t.Run("exit code and stderr", func(t *testing.T) {
		p := shell(t, `echo '{"msg":"hello"}' >&2; exit 3`)
		code, ok := p.Wait(10 * time.Second)
		if !ok || code != 3 || p.ExitCode() != 3 || p.Signaled() != 0 {
			t.Errorf("Wait = %d, %v; ExitCode %d, Signaled %v; want 3, exited, no signal", code, ok, p.ExitCode(), p.Signaled())
		}
		if _, found := p.Log.Find("hello"); !found {
			t.Errorf("stderr record not collected: %q", p.Log)
		}
		if _, err := p.Stop(time.Second); err == nil {
			t.Error("Stop of an exited process: no error")
		}
	})
	t.Run("SIGTERM", func(t *testing.T) {
		p := shell(t, `exec sleep 30`)
		if p.Exited() {
			t.Fatal("exited at once")
		}
		if _, ok := p.Wait(50 * time.Millisecond); ok {
			t.Fatal("Wait reported an exit of a running process")
		}
		code, err := p.Stop(10 * time.Second)
		if err != nil || code != -1 || p.Signaled() != syscall.SIGTERM {
			t.Errorf("Stop = %d, %v, signal %v; want -1, nil, SIGTERM", code, err, p.Signaled())
		}
	})
	t.Run("SIGTERM ignored: killed after the timeout", func(t *testing.T) {
		p := shell(t, `trap "" TERM; exec sleep 30`)
		time.Sleep(100 * time.Millisecond) // let sh install the trap
		if _, err := p.Stop(200 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("Stop = %v, want the kill reported", err)
		}
		if !p.Exited() || p.Signaled() != syscall.SIGKILL {
			t.Errorf("exited %v by %v, want SIGKILL", p.Exited(), p.Signaled())
		}
	})
	t.Run("WaitTCP fails early on exit", func(t *testing.T) {
		p := shell(t, `exit 0`)
		if err := p.WaitTCP("127.0.0.1:1", 10*time.Second); err == nil || !strings.Contains(err.Error(), "exited") {
			t.Errorf("WaitTCP = %v, want an exit error", err)
		}
	})
}

const policyYAML = `version: 1
self_origins: [https://app.example.com]
classes:
  - name: api
    match:
      path_prefixes: [/api/]
    allow_origins: [https://partner.example.org]
    allow_methods: [GET]
  - name: internal
    match:
      path_prefixes: [/]
`

func writePolicy(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServer runs the real binary: listening addresses from the log,
// readiness, the admin views, a gRPC call, and a graceful stop.
func TestServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	path := writePolicy(t, policyYAML)
	s := Run(t, Options{Args: []string{"--config", path}, Env: []string{"CORS_AUTHZ_CACHE_SIZE=64"}, Ready: true})
	if !strings.HasPrefix(s.GRPCAddr, "127.0.0.1:") || !strings.HasPrefix(s.AdminAddr, "127.0.0.1:") || s.GRPCAddr == "127.0.0.1:0" {
		t.Errorf("addresses %q, %q; want loopback ports the kernel picked", s.GRPCAddr, s.AdminAddr)
	}
	if code, _, err := s.Get("/readyz"); err != nil || code != 200 {
		t.Errorf("/readyz = %d, %v", code, err)
	}
	pv, err := s.Policy()
	if err != nil || pv.Generation != 1 || len(pv.SHA256) != 64 || pv.LastReloadError != nil {
		t.Errorf("Policy = %+v, %v; want generation 1 with a SHA-256", pv, err)
	}
	m, err := s.Metrics()
	if err != nil || m.Value("go_goroutines") == 0 {
		t.Errorf("Metrics: go_goroutines %v, %v", m.Value("go_goroutines"), err)
	}
	cc, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health Check = %v, %v", resp, err)
	}
	if s.PID() <= 0 || s.Process().Pid != s.PID() {
		t.Errorf("PID %d, Process %v", s.PID(), s.Process())
	}
	if _, err := s.RSS(); err != nil {
		t.Errorf("RSS: %v", err)
	}
	if code, err := s.Stop(15 * time.Second); err != nil || code != 0 {
		t.Errorf("Stop = %d, %v; want exit 0; log:\n%s", code, err, s.Log)
	}
	if !s.WaitLog("stopped", 1, time.Second) {
		t.Errorf("no \"stopped\" record; log:\n%s", s.Log)
	}
}

// TestServerRefusesBrokenPolicy: NoWait returns a process that exits 1,
// with the reason in its log; Run without NoWait reports the exit.
func TestServerRefusesBrokenPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	path := writePolicy(t, "classes: [\nversion: 1\n")
	s := Run(t, Options{Args: []string{"--config", path}, NoWait: true})
	code, ok := s.Wait(StartTimeout)
	if !ok || code != 1 {
		t.Fatalf("exited %v with %d, want 1; log:\n%s", ok, code, s.Log)
	}
	if _, found := s.Log.Find("cannot start"); !found {
		t.Errorf("no \"cannot start\" record; log:\n%s", s.Log)
	}
	var ft fakeT
	func() {
		defer func() { _ = recover() }()
		Run(&ft, Options{Args: []string{"--config", path}})
	}()
	ft.cleanup()
	if !strings.Contains(ft.fatal, "exited 1 before listening") {
		t.Errorf("Run on a broken policy: fatal %q", ft.fatal)
	}
	if ft.errs != nil {
		t.Errorf("cleanup of an exited process reported %q", ft.errs)
	}
}

// TestRunN starts replicas on one policy file: distinct ports, one policy.
func TestRunN(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	path := writePolicy(t, policyYAML)
	ss := RunN(t, 3, Options{Args: []string{"--config", path}})
	seen := map[string]bool{}
	var sha string
	for i, s := range ss {
		if seen[s.GRPCAddr] || seen[s.AdminAddr] {
			t.Errorf("replica %d shares an address: %s %s", i, s.GRPCAddr, s.AdminAddr)
		}
		seen[s.GRPCAddr], seen[s.AdminAddr] = true, true
		pv, err := s.Policy()
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && pv.SHA256 != sha {
			t.Errorf("replica %d serves %s, replica 0 %s", i, pv.SHA256, sha)
		}
		sha = pv.SHA256
	}
	// The cleanup kills what is still running.
	if err := ss[1].Kill(); err != nil || ss[1].Signaled() != syscall.SIGKILL {
		t.Errorf("Kill = %v, signal %v", err, ss[1].Signaled())
	}
}

// fakeT records what Run reports; Fatalf panics as FailNow would stop
// the goroutine.
type fakeT struct {
	fatal    string
	errs     []string
	cleanups []func()
}

func (f *fakeT) Helper()           {}
func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.fatal = strings.TrimSpace(fmt.Sprintf(format, args...))
	panic("fatal")
}
func (f *fakeT) cleanup() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}
