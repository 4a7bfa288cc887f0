//go:build linux

package reliability

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// delegatedBase is policyA with its partner origin left to teams: the
// public-api class is delegated under example.org, and fragments may add
// PATCH for the origins they grant.
var delegatedBase = strings.Replace(strings.Replace(policyA, "      - https://partner.example.org\n", "", 1),
	"    max_age: 10m\n", "    max_age: 10m\n    delegate:\n      origin_domains: [example.org]\n      allow_methods: [PATCH]\n", 1)

const (
	teamOrigin = "https://b.example.org" // granted by team B's good version
	// Team A's two valid versions: with the partner (and PATCH for it),
	// and without.
	teamA1 = "version: 1\nextend:\n  - class: public-api\n    allow_origins: [https://partner.example.org]\n    allow_methods: [PATCH]\n"
	teamA2 = "version: 1\nextend:\n  - class: public-api\n    allow_origins: [https://other.example.org]\n"
	// Team B's good version.
	teamB1 = "version: 1\nextend:\n  - class: public-api\n    allow_origins: [" + teamOrigin + "]\n"
)

// teamBRefused are versions of team B's fragment that must be refused: one
// breaks the origin_domains guardrail to grant the attacker, one is not
// YAML.
var teamBRefused = []string{
	"version: 1\nextend:\n  - class: public-api\n    allow_origins: [" + attacker + ", " + teamOrigin + "]\n    allow_methods: [PATCH]\n",
	"version: 1\nextend: [{class: public-api, allow_origins: [" + attacker + "\n",
}

// dirOracle is an in-process Check service holding the policy directory
// made of files, with the directory's digest.
func dirOracle(t *testing.T, files map[string]string) (*check.Service, string) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
	pol, _, err := policy.Load(dir)
	if err != nil {
		t.Fatalf("oracle directory: %v", err)
	}
	s := check.New(check.Options{CacheSize: check.DefaultCacheSize})
	s.SetPolicy(pol)
	return s, pol.SHA256()
}

// delegationItems are mixedRequests plus what delegation decides (the
// partner asking for its team's PATCH, team B's origin, and team B's
// origin asking for team A's PATCH), with each oracle's answer.
func delegationItems(t *testing.T, oracles ...*check.Service) []item {
	t.Helper()
	R := checktest.Request
	reqs := append(mixedRequests(), []struct {
		name string
		req  *authv3.CheckRequest
	}{
		{"team A's partner asks for team A's PATCH", R("OPTIONS", "/api/v1/items/7", partner, checktest.Preflight("PATCH", "content-type"))},
		{"team B's origin", R("GET", "/api/v1/items", teamOrigin)},
		{"team B's origin asks for team A's PATCH", R("OPTIONS", "/api/v1/items/7", teamOrigin, checktest.Preflight("PATCH", ""))},
		{"attacker asks for PATCH", R("OPTIONS", "/api/v1/items/7", attacker, checktest.Preflight("PATCH", ""))},
	}...)
	return answers(t, reqs, oracles...)
}

// TestFragmentChurnUnderLoad serves a policy directory while a mixed load
// runs and swaps its fragments: team A's between two valid versions
// (flipping the partner's verdict), team B's between its valid version and
// two that must be refused (one would grant the attacker). One run renames
// each file into place, the other swaps the whole directory as the kubelet
// swaps a ConfigMap's keys. Every call must be answered, and every answer
// must be byte-identical to the answer of the directory holding one of A's
// versions and B's valid version: never a mix, never a refused version.
// Each refusal shows in the file's state.
func TestFragmentChurnUnderLoad(t *testing.T) {
	files := func(a, b string) map[string]string {
		return map[string]string{policy.BaseFile: delegatedBase, "team-a.yaml": a, "team-b.yaml": b}
	}
	oracle1, sum1 := dirOracle(t, files(teamA1, teamB1))
	oracle2, sum2 := dirOracle(t, files(teamA2, teamB1))
	its := delegationItems(t, oracle1, oracle2)
	requireFlips(t, its, "A's two versions")

	methods := []struct {
		name  string
		swaps int
		setup func(t *testing.T, dir string) func(files map[string]string)
	}{
		{"rename each file", 60, func(t *testing.T, dir string) func(map[string]string) {
			for name, data := range files(teamA1, teamB1) {
				writeFile(t, filepath.Join(dir, name), data)
			}
			return func(fs map[string]string) {
				for _, name := range []string{"team-b.yaml", "team-a.yaml"} {
					renameInto(t, filepath.Join(dir, name), fs[name])
				}
			}
		}},
		{"configmap swap", 60, func(t *testing.T, dir string) func(map[string]string) {
			cm := &configMap{dir: dir}
			cm.swapFiles(t, files(teamA1, teamB1))
			return func(fs map[string]string) { cm.swapFiles(t, fs) }
		}},
	}
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			swap := m.setup(t, dir)
			p := startProc(t, "--config", dir, "--reload-debounce", testDebounce)
			if got := p.policy().SHA256; got != sum1 {
				t.Fatalf("served %s at start, want %s", got, sum1)
			}
			l := startLoad(t, loadConfig{
				conns:        []*grpc.ClientConn{p.dial(), p.dial()},
				workers:      4,
				items:        its,
				maxPerWorker: 2_000_000,
			})
			l.waitCalls(t, 100)
			refusals := 0
			for i := range m.swaps {
				a, want := teamA2, sum2
				if i%2 == 1 {
					a, want = teamA1, sum1
				}
				b := teamB1
				if i%3 != 2 {
					b = teamBRefused[i%2]
					refusals++
				}
				swap(files(a, b))
				waitFor(t, reloadTimeout, fmt.Sprintf("swap %d to be served", i+1), func() bool {
					if p.policy().SHA256 != want {
						return false
					}
					refused := p.metrics().Value(`cors_authz_policy_file_state{file="team-b.yaml",state="refused"}`)
					return refused == 1 == (b != teamB1)
				})
			}
			st := l.stop()
			mt := p.metrics()
			ko := mt.Value(`cors_authz_policy_reloads_total{result="failure"}`)
			p.stop(15 * time.Second)
			t.Logf("%s: %d swaps (%d with team B refused); %v; reloads failure=%v", m.name, m.swaps, refusals, st, ko)
			if st.rpcErrors.Load() != 0 || st.mismatches.Load() != 0 {
				t.Errorf("want 0 RPC errors and 0 mismatches: %v", st)
			}
			if ko < 1 {
				t.Errorf("reloads_total{failure} = %v: team B's refusals were not counted", ko)
			}
			st.requireBoth(t, its, "A's first version", "its second")
			if p.Log.Count("policy file refused; its last good version keeps serving") == 0 {
				t.Errorf("no log line for team B's refusals:\n%s", p.Log)
			}
		})
	}
}
