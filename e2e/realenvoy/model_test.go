package realenvoy

import (
	"net"
	"testing"

	"github.com/cors-authz/cors-authz/e2e/envoymodel"
	"github.com/cors-authz/cors-authz/e2e/internal/harness"
)

// TestEnvoyModel runs the scenarios against the Envoy model.
func TestEnvoyModel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := startBackends(t, ln.Addr().(*net.TCPAddr).Port)
	cfg, err := harness.ModelConfig(s.app.URL, s.authz.GRPCAddr)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := envoymodel.Serve(ln, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	if proxy.URL != s.proxy {
		t.Fatalf("proxy at %s, want %s", proxy.URL, s.proxy)
	}
	runScenarios(t, s)
}
