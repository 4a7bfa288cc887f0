//go:build linux

package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Reload wait bounds: a reload takes the debounce plus a read and a parse.
const (
	testDebounce  = "10ms"
	reloadTimeout = 15 * time.Second
)

// configMap lays policy files out the way the kubelet's atomic writer
// lays out a ConfigMap volume: dir/NAME -> ..data/NAME for each key,
// ..data -> ..<version>/, and swaps versions by renaming a new ..data
// symlink over the old one, then deleting the old version directory.
type configMap struct {
	dir string
	n   int
	cur string
}

// newConfigMap lays out a ConfigMap holding data as its one key,
// policy.yaml, and returns the path the server reads.
func newConfigMap(t testing.TB, dir, data string) (*configMap, string) {
	t.Helper()
	cm := &configMap{dir: dir}
	cm.swap(t, data)
	return cm, filepath.Join(dir, "policy.yaml")
}

// swap replaces the one key policy.yaml with data.
func (cm *configMap) swap(t testing.TB, data string) {
	t.Helper()
	cm.swapFiles(t, map[string]string{"policy.yaml": data})
}

// swapFiles replaces every key at once with files, linking the names new
// to the ConfigMap.
func (cm *configMap) swapFiles(t testing.TB, files map[string]string) {
	t.Helper()
	cm.n++
	version := fmt.Sprintf("..2026_11_29_09_00_00.%06d", cm.n)
	vdir := filepath.Join(cm.dir, version)
	if err := os.Mkdir(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		writeFile(t, filepath.Join(vdir, name), data)
	}
	tmp := filepath.Join(cm.dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(cm.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(cm.dir, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	if cm.cur != "" {
		if err := os.RemoveAll(filepath.Join(cm.dir, cm.cur)); err != nil {
			t.Fatal(err)
		}
	}
	cm.cur = version
}

// TestReloadUnderLoad swaps the policy file 200 times between policyA and
// policyB (which differ only in whether the partner origin is allowed)
// while a mixed load runs, a third of the swaps each by write-and-rename,
// in-place rewrite and ConfigMap-style ..data symlink swap. Every call must
// be answered, and every answer must be byte-identical to policyA's or
// policyB's answer to that request, never a mix of the two.
func TestReloadUnderLoad(t *testing.T) {
	oracleA, oracleB := newService(t, policyA), newService(t, policyB)
	its := items(t, oracleA, oracleB)
	requireFlips(t, its, "A and B")

	methods := []struct {
		name  string
		swaps int
		setup func(t *testing.T, dir string) (path string, swap func(data string))
	}{
		{"write-and-rename", 67, func(t *testing.T, dir string) (string, func(string)) {
			path := filepath.Join(dir, "policy.yaml")
			writeFile(t, path, policyA)
			return path, func(data string) { renameInto(t, path, data) }
		}},
		{"in-place rewrite", 67, func(t *testing.T, dir string) (string, func(string)) {
			path := filepath.Join(dir, "policy.yaml")
			writeFile(t, path, policyA)
			return path, func(data string) { writeFile(t, path, data) }
		}},
		{"configmap symlink swap", 66, func(t *testing.T, dir string) (string, func(string)) {
			cm, path := newConfigMap(t, dir, policyA)
			return path, func(data string) { cm.swap(t, data) }
		}},
	}
	var total struct{ swaps, calls, errs, mismatches, successes, failures int64 }
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			path, swap := m.setup(t, t.TempDir())
			p := startProc(t, "--config", path, "--reload-debounce", testDebounce)
			gen0 := p.policy().Generation
			l := startLoad(t, loadConfig{
				conns:        []*grpc.ClientConn{p.dial(), p.dial()},
				workers:      4,
				items:        its,
				maxPerWorker: 2_000_000,
			})
			l.waitCalls(t, 100)
			for i := range m.swaps {
				data := policyB
				if i%2 == 1 {
					data = policyA
				}
				swap(data)
				want := sha(data)
				waitFor(t, reloadTimeout, fmt.Sprintf("swap %d to be served", i+1), func() bool {
					return p.policy().SHA256 == want
				})
			}
			st := l.stop()
			mt := p.metrics()
			ok := mt.Value(`cors_authz_policy_reloads_total{result="success"}`)
			ko := mt.Value(`cors_authz_policy_reloads_total{result="failure"}`)
			gen := p.policy().Generation
			p.stop(15 * time.Second)

			t.Logf("%s: %d swaps; %v; reloads success=%v failure=%v; generation %d -> %d",
				m.name, m.swaps, st, ok, ko, gen0, gen)
			if st.rpcErrors.Load() != 0 || st.mismatches.Load() != 0 {
				t.Errorf("want 0 RPC errors and 0 mismatches: %v", st)
			}
			if gen-gen0 != uint64(m.swaps) {
				t.Errorf("generation went %d -> %d over %d swaps, want one generation per swap", gen0, gen, m.swaps)
			}
			if ok < float64(m.swaps+1) {
				t.Errorf("reloads_total{success} = %v, want >= %d (the first load and one per swap)", ok, m.swaps+1)
			}
			// Atomic replacements never expose a partial file. An in-place
			// rewrite (truncate, then write) can be read empty in between,
			// which is refused and counted; the next event loads the file.
			if m.name != "in-place rewrite" && ko != 0 {
				t.Errorf("reloads_total{failure} = %v for an atomic replacement, want 0; logs:\n%s", ko, p.Log)
			}
			// Both policies' answers were seen for the requests that flip.
			st.requireBoth(t, its, "policy A", "policy B")
			total.swaps += int64(m.swaps)
			total.calls += st.calls.Load()
			total.errs += st.rpcErrors.Load()
			total.mismatches += st.mismatches.Load()
			total.successes += int64(ok)
			total.failures += int64(ko)
		})
	}
	t.Logf("total: %d swaps, %d calls, %d RPC errors, %d mismatches; reloads success=%d failure=%d",
		total.swaps, total.calls, total.errs, total.mismatches, total.successes, total.failures)
}

// TestBadReloadsUnderLoad replaces the served policy file with files that
// must be refused while a load runs: every call is answered with
// policyA's answer throughout, each failure shows in the log, in /metrics
// and in /policy, /readyz stays ready, and the failure clears as soon as a
// good file is back. A new good file then loads.
func TestBadReloadsUnderLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	writeFile(t, path, policyA)
	its := items(t, newService(t, policyA))

	p := startProc(t, "--config", path, "--reload-debounce", testDebounce)
	gen := p.policy().Generation
	putBack := func() { writeFile(t, path, policyA) }
	replaceWith := func(data string) func() { return func() { writeFile(t, path, data) } }
	replaceBy := func(make func() error) func() {
		return func() {
			mustRemove(t, path)
			if err := make(); err != nil {
				t.Fatal(err)
			}
		}
	}
	cut := strings.Index(policyA, "allow_origins:") + len("allow_ori")
	cases := []badCase{
		{name: "truncated", data: policyA[:cut]},
		{name: "syntax error", data: "classes:\n  - name: [unclosed\n    match: {\nversion: 1\n"},
		{name: "invalid origin", data: strings.Replace(policyA, partner+"\n", partner+"/path\n", 1)},
		{name: "wildcard origin", data: strings.Replace(policyA, partner+"\n", "\"*\"\n", 1)},
		{name: "deleted", brk: func() { mustRemove(t, path) }, restore: putBack},
		{name: "dangling symlink", brk: replaceBy(func() error { return os.Symlink(filepath.Join(dir, "nowhere.yaml"), path) }),
			restore: replaceBy(func() error { return os.WriteFile(path, []byte(policyA), 0o644) })},
		unreadableCase(t, p, path),
	}
	for i, c := range cases {
		if c.brk != nil {
			continue
		}
		if _, _, err := policy.Parse("bad.yaml", []byte(c.data)); err == nil {
			t.Fatalf("%s: the policy engine accepts the file; the case would test nothing", c.name)
		}
		cases[i].brk, cases[i].restore = replaceWith(c.data), putBack
	}

	l := startLoad(t, loadConfig{
		conns:        []*grpc.ClientConn{p.dial(), p.dial()},
		workers:      8,
		items:        its,
		maxPerWorker: 2_000_000,
	})
	l.waitCalls(t, 100)

	const failedMsg = "policy reload failed; keeping the served policy"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := p.metrics().Value(`cors_authz_policy_reloads_total{result="failure"}`)
			logged := p.Log.Count(failedMsg)
			c.brk()
			waitFor(t, reloadTimeout, "the reload failure in /policy", func() bool {
				return p.policy().LastReloadError != nil
			})
			pv := p.policy()
			mt := p.metrics()
			if got := mt.Value(`cors_authz_policy_reloads_total{result="failure"}`); got <= before {
				t.Errorf("reloads_total{failure} = %v, want > %v", got, before)
			}
			if got := mt.Value("cors_authz_policy_last_reload_failed"); got != 1 {
				t.Errorf("last_reload_failed = %v, want 1", got)
			}
			if pv.Generation != gen || pv.SHA256 != sha(policyA) {
				t.Errorf("/policy: generation %d sha %.12s, want the served policy kept (generation %d)", pv.Generation, pv.SHA256, gen)
			}
			if pv.LastReloadError.Message == "" {
				t.Errorf("/policy last_reload_error has no message")
			}
			waitFor(t, 5*time.Second, "the failure in the log", func() bool { return p.Log.Count(failedMsg) > logged })
			if code, body, err := p.Get("/readyz"); err != nil || code != 200 {
				t.Errorf("/readyz = %d %q, %v while the file is refused; want 200 (the last good policy serves)", code, body, err)
			}
			t.Logf("refused: %.160s (%d issues)", pv.LastReloadError.Message, len(pv.LastReloadError.Issues))

			c.restore()
			waitFor(t, reloadTimeout, "recovery in /policy", func() bool {
				return p.policy().LastReloadError == nil
			})
			if got := p.metrics().Value("cors_authz_policy_last_reload_failed"); got != 0 {
				t.Errorf("last_reload_failed = %v after recovery, want 0", got)
			}
			if g := p.policy().Generation; g != gen {
				t.Errorf("generation %d after the same file came back, want %d", g, gen)
			}
		})
	}
	st := l.stop()
	mt := p.metrics()
	t.Logf("bad reloads: %d cases; %v; reloads success=%v failure=%v", len(cases), st,
		mt.Value(`cors_authz_policy_reloads_total{result="success"}`), mt.Value(`cors_authz_policy_reloads_total{result="failure"}`))
	if st.rpcErrors.Load() != 0 || st.mismatches.Load() != 0 {
		t.Errorf("want 0 RPC errors and every answer policyA's: %v", st)
	}

	// A new good file loads at once, and its verdicts apply.
	renameInto(t, path, policyB)
	waitFor(t, reloadTimeout, "policyB to be served", func() bool { return p.policy().SHA256 == sha(policyB) })
	if g := p.policy().Generation; g != gen+1 {
		t.Errorf("generation %d after a new good file, want %d", g, gen+1)
	}
	resp, err := authv3.NewAuthorizationClient(p.dial()).Check(t.Context(), checktest.Request("GET", "/api/v1/items", partner))
	if err != nil {
		t.Fatal(err)
	}
	checktest.AssertResponse(t, resp)
	if v, ok := checktest.HeaderValue(resp, "access-control-allow-origin"); ok {
		t.Errorf("policyB served, yet the partner origin got ACAO %q", v)
	}
	p.stop(15 * time.Second)
}

// badCase is one way of breaking the policy file: brk breaks it, restore
// puts policyA back.
type badCase struct {
	name    string
	data    string // the refused content, for files the engine must refuse
	brk     func()
	restore func()
}

// unreadableCase makes the policy path unreadable. Where chmod 000 works
// (not root), that is the case; chmod changes only attributes, which the
// watcher ignores (the content is the same), so SIGHUP triggers the
// re-read. As root, chmod 000 does not stop reads (CAP_DAC_OVERRIDE), so
// the file is replaced by a directory, whose read fails with EISDIR.
func unreadableCase(t *testing.T, p *proc, path string) badCase {
	probe := filepath.Join(filepath.Dir(path), "probe")
	writeFile(t, probe, "x")
	defer os.Remove(probe)
	if err := os.Chmod(probe, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(probe); err != nil {
		return badCase{
			name: "unreadable (chmod 000, then SIGHUP)",
			brk: func() {
				if err := os.Chmod(path, 0); err != nil {
					t.Fatal(err)
				}
				p.signal(syscall.SIGHUP)
			},
			restore: func() {
				if err := os.Chmod(path, 0o644); err != nil {
					t.Fatal(err)
				}
				p.signal(syscall.SIGHUP)
			},
		}
	}
	return badCase{
		name: "unreadable (a directory; chmod 000 cannot stop root)",
		brk: func() {
			mustRemove(t, path)
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		},
		restore: func() {
			mustRemove(t, path)
			writeFile(t, path, policyA)
		},
	}
}

func mustRemove(t testing.TB, path string) {
	t.Helper()
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
}
