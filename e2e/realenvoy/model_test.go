package realenvoy

import (
	"net"
	"testing"

	"github.com/cors-authz/cors-authz/e2e/envoymodel"
	"github.com/cors-authz/cors-authz/e2e/internal/harness"
)

// TestEnvoyModel runs the scenarios against the Envoy model.
func TestEnvoyModel(t *testing.T) {
	runScenarios(t, startModel(t, nil))
}

// startModel starts the backends and, in front of them, the Envoy model
// configured from deploy/envoy.yaml, changed by configure (when not nil)
// first. The model is closed when the test ends.
func startModel(t *testing.T, configure func(*envoymodel.Config)) *stack {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := startBackends(t, ln.Addr().(*net.TCPAddr).Port)
	cfg, err := harness.ModelConfig(s.app.URL, s.authz.GRPCAddr)
	if err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		configure(&cfg)
	}
	proxy, err := envoymodel.Serve(ln, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	if proxy.URL != s.proxy {
		t.Fatalf("proxy at %s, want %s", proxy.URL, s.proxy)
	}
	return s
}
