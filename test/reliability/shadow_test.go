//go:build linux

package reliability

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/cors-authz/cors-authz/internal/servetest"
)

// TestShadowReloadUnderLoad runs with policyA enforced and a shadow policy
// (--shadow-config) that is swapped 20 times between policyB and policyA
// under load. The shadow policy is decided on every Check but never
// enforced: every answer must be policyA's, byte for byte, throughout,
// with no RPC error, while the shadow's disagreements (the partner origin,
// which only policyA allows) are counted.
func TestShadowReloadUnderLoad(t *testing.T) {
	const swaps = 20
	dir := t.TempDir()
	path, shadow := filepath.Join(dir, "policy.yaml"), filepath.Join(dir, "shadow.yaml")
	writeFile(t, path, policyA)
	writeFile(t, shadow, policyB)
	p := startProc(t, "--config", path, "--shadow-config", shadow, "--reload-debounce", testDebounce)
	shadowSHA := func() string {
		var v servetest.PolicyView
		if err := json.Unmarshal([]byte(p.mustGet("/shadow")), &v); err != nil {
			t.Fatalf("/shadow: %v", err)
		}
		return v.SHA256
	}
	if got := shadowSHA(); got != sha(policyB) {
		t.Fatalf("/shadow sha256 %.12s, want policyB's", got)
	}

	l := startLoad(t, loadConfig{
		conns:        []*grpc.ClientConn{p.dial(), p.dial()},
		workers:      8,
		items:        items(t, newService(t, policyA)), // only the enforced policy's answers are acceptable
		maxPerWorker: 2_000_000,
	})
	l.waitCalls(t, 100)
	for i := range swaps {
		data := policyA
		if i%2 == 1 {
			data = policyB
		}
		renameInto(t, shadow, data)
		waitFor(t, reloadTimeout, fmt.Sprintf("shadow swap %d to be in use", i+1), func() bool { return shadowSHA() == sha(data) })
		l.waitCalls(t, l.stats.calls.Load()+20) // some traffic under each shadow version
	}
	st := l.stop()
	m := p.metrics()
	disagreements := m.Sum("cors_authz_shadow_disagreements_total")
	gen := m.Value("cors_authz_shadow_policy_generation")
	enforced := p.policy()
	p.stop(15 * time.Second)

	t.Logf("shadow: %d swaps; %v; %v disagreements counted; shadow generation %v; enforced generation %d",
		swaps, st, disagreements, gen, enforced.Generation)
	if st.rpcErrors.Load() != 0 || st.mismatches.Load() != 0 {
		t.Errorf("the shadow policy changed enforced answers or failed calls: %v", st)
	}
	if disagreements == 0 {
		t.Errorf("no shadow disagreement counted: the shadow policy was not decided")
	}
	if gen < swaps+1 {
		t.Errorf("shadow generation %v after %d swaps, want >= %d", gen, swaps, swaps+1)
	}
	if enforced.Generation != 1 || enforced.SHA256 != sha(policyA) {
		t.Errorf("enforced policy changed: generation %d sha %.12s", enforced.Generation, enforced.SHA256)
	}
}
