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
// (harness.ServeModel).
func startModel(t *testing.T, configure func(*envoymodel.Config)) *stack {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := startBackends(t, ln.Addr().(*net.TCPAddr).Port)
	proxy := harness.ServeModel(t, ln, s.app.URL, s.authz.GRPCAddr, configure)
	if proxy.URL != s.proxy {
		t.Fatalf("proxy at %s, want %s", proxy.URL, s.proxy)
	}
	return s
}
