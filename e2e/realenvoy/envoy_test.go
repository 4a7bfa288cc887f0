package realenvoy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cors-authz/cors-authz/e2e/internal/harness"
	"github.com/cors-authz/cors-authz/internal/logtest"
	"github.com/cors-authz/cors-authz/internal/servetest"
)

// rewritePorts returns deploy/envoy.yaml with its fixed ports replaced:
// the listener (0.0.0.0:8080 → 127.0.0.1:listen), the admin interface
// (9901), the cors_authz cluster (9001) and the app cluster (8000). Each
// must occur exactly once, so a reshaped file fails loudly here.
func rewritePorts(cfg []byte, listen, admin, authz, app int) ([]byte, error) {
	for _, r := range []struct{ old, new string }{
		{"{address: 0.0.0.0, port_value: 8080}", fmt.Sprintf("{address: 127.0.0.1, port_value: %d}", listen)},
		{"{address: 127.0.0.1, port_value: 9901}", fmt.Sprintf("{address: 127.0.0.1, port_value: %d}", admin)},
		{"{address: 127.0.0.1, port_value: 9001}", fmt.Sprintf("{address: 127.0.0.1, port_value: %d}", authz)},
		{"{address: 127.0.0.1, port_value: 8000}", fmt.Sprintf("{address: 127.0.0.1, port_value: %d}", app)},
	} {
		if n := bytes.Count(cfg, []byte(r.old)); n != 1 {
			return nil, fmt.Errorf("deploy/envoy.yaml: %q occurs %d times, want 1", r.old, n)
		}
		cfg = bytes.Replace(cfg, []byte(r.old), []byte(r.new), 1)
	}
	return cfg, nil
}

func port(t *testing.T, hostport string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRealEnvoy runs the scenarios against a real Envoy using the shipped
// deploy/envoy.yaml, when Envoy is installed.
func TestRealEnvoy(t *testing.T) {
	envoy, err := harness.LookProgram("ENVOY", "envoy") // $ENVOY, else envoy on PATH
	if err != nil {
		t.Skipf("envoy not on PATH (%v): Envoy has no Debian package and cannot be installed here; "+
			"install it (or set ENVOY=/path/to/envoy) to run the scenarios against real Envoy with deploy/envoy.yaml", err)
	}
	root, err := servetest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile(filepath.Join(root, "deploy", "envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	listen, admin := freePort(t), freePort(t)
	s := startBackends(t, listen)
	cfg, err := rewritePorts(shipped, listen, admin, port(t, s.authz.GRPCAddr), port(t, s.app.Listener.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "envoy.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}

	var out logtest.Lines // Envoy's output, its access log included
	cmd := exec.Command(envoy, "-c", cfgPath, "--concurrency", "1", "--log-level", "warn",
		"--use-dynamic-base-id", "--disable-hot-restart")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start envoy: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	// Ready when the admin interface says LIVE.
	ready := false
	for attempt := 0; attempt < 300 && !ready; attempt++ {
		select {
		case <-exited:
			t.Fatalf("envoy exited:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/ready", admin))
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ready = resp.StatusCode == 200 && bytes.Contains(body, []byte("LIVE"))
	}
	if !ready {
		t.Fatalf("envoy not ready after 30 s:\n%s", out.String())
	}
	runScenarios(t, s)
	// deploy/envoy.yaml's access log (to stdout) names cors-authz's
	// decisions: the dynamic metadata reached Envoy.
	for _, w := range []string{"cors_class=public-api cors_kind=preflight cors_reason=preflight_allowed", "cors_reason=origin_not_allowed", "cors_class=internal"} {
		if !out.Contains(w) {
			t.Errorf("envoy's access log lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("envoy output:\n%s", out.String())
	}
}

// TestRewritePorts pins the port rewrite against the shipped file, so a
// change to deploy/envoy.yaml that would break TestRealEnvoy fails here
// even where Envoy is absent.
func TestRewritePorts(t *testing.T) {
	root, err := servetest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile(filepath.Join(root, "deploy", "envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := rewritePorts(shipped, 18080, 19901, 19001, 18000)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"port_value: 18080", "port_value: 19901", "port_value: 19001", "port_value: 18000"} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("rewritten config lacks %q", want)
		}
	}
	for _, gone := range []string{"port_value: 8080}", "port_value: 9901}", "port_value: 9001}", "port_value: 8000}", "0.0.0.0"} {
		if bytes.Contains(got, []byte(gone)) {
			t.Errorf("rewritten config still has %q", gone)
		}
	}
	if _, err := rewritePorts([]byte("static_resources: {}"), 1, 2, 3, 4); err == nil {
		t.Error("rewritePorts accepted a file without the expected addresses")
	}
}
