package reload

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// policyAllowing returns a valid policy whose public class allows origin.
func policyAllowing(origin string) string {
	return `version: 1
classes:
  - name: public
    match: {path_prefixes: [/]}
    allow_origins: [` + origin + `]
    allow_methods: [GET, PUT]
`
}

const (
	originA = "https://a.example.com"
	originB = "https://b.example.com"
	// brokenPolicy has two errors on known lines.
	brokenPolicy = `version: 1
classes:
  - name: public
    match: {path_prefixes: [/]}
    allow_origins: ["*"]
    allow_methods: [TRACE]
`
)

// target records what the Watcher hands over.
type target struct {
	mu       sync.Mutex
	policies []*policy.Policy
}

func (t *target) SetPolicy(p *policy.Policy) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.policies = append(t.policies, p)
	return uint64(len(t.policies))
}

func (t *target) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.policies)
}

// allows reports whether the latest policy allows origin on an actual GET.
func (t *target) allows(origin string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.policies) == 0 {
		return false
	}
	p := t.policies[len(t.policies)-1]
	v := p.Decide(&policy.Request{Method: "GET", Scheme: "https", Host: "api.example.com", Path: "/x", Origin: origin, HasOrigin: true})
	return v.Allowed
}

type fixture struct {
	t    *testing.T
	dir  string
	path string
	tgt  *target
	reg  *prometheus.Registry
	w    *Watcher
}

// newFixture writes content to dir/policy.yaml and returns an unstarted
// Watcher on it; opts fills the other Options.
func newFixture(t *testing.T, content string, opts Options) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), tgt: &target{}, reg: prometheus.NewRegistry()}
	f.path = filepath.Join(f.dir, "policy.yaml")
	if content != "" {
		f.write(f.path, content)
	}
	if opts.Path == "" {
		opts.Path = f.path
	}
	opts.Target, opts.Registerer = f.tgt, f.reg
	if opts.Debounce == 0 {
		opts.Debounce = 10 * time.Millisecond
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.w = w
	t.Cleanup(func() { w.Close() })
	return f
}

func (f *fixture) write(path, content string) {
	f.t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// replace writes content to a temporary file and renames it over path,
// as editors, `mv` and configuration tools do.
func (f *fixture) replace(path, content string) {
	f.t.Helper()
	tmp := path + ".tmp"
	f.write(tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		f.t.Fatal(err)
	}
}

// metric returns the value of a metric (with the given label value, if
// any) from the fixture's registry; -1 when absent.
func (f *fixture) metric(name, labelValue string) float64 {
	f.t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelValue != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != labelValue) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// eventually waits (bounded: 5 s in 10 ms steps) for cond.
func (f *fixture) eventually(what string, cond func() bool) {
	f.t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.t.Fatalf("timed out waiting for %s", what)
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name        string
		content     string // "" = no file
		wantErr     string
		wantIssues  int
		wantPolicy  bool
		wantSuccess float64
		wantFailure float64
		wantFailed  float64
	}{
		{name: "valid", content: policyAllowing(originA), wantPolicy: true, wantSuccess: 1, wantFailed: 0},
		{name: "invalid", content: brokenPolicy, wantErr: "policy refused", wantIssues: 2, wantFailure: 1, wantFailed: 1},
		{name: "syntax error", content: "version: 1\nclasses: [\n", wantErr: "policy refused", wantIssues: 1, wantFailure: 1, wantFailed: 1},
		{name: "missing file", wantErr: "no such file", wantFailure: 1, wantFailed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.content, Options{})
			err := f.w.Load()
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Load: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Load error = %v, want it to contain %q", err, tt.wantErr)
			}
			if got := f.tgt.count() == 1; got != tt.wantPolicy {
				t.Errorf("policy handed over = %v, want %v", got, tt.wantPolicy)
			}
			st := f.w.Status()
			if tt.wantErr == "" {
				if st.LastError != nil || st.Generation != 1 || st.SHA256 == "" || st.LastSuccess.IsZero() {
					t.Errorf("status after success = %+v", st)
				}
				if st.SHA256 != f.tgt.policies[0].SHA256() {
					t.Errorf("status sha256 %s != policy sha256 %s", st.SHA256, f.tgt.policies[0].SHA256())
				}
			} else {
				if st.LastError == nil || len(st.LastError.Issues) != tt.wantIssues {
					t.Fatalf("status.LastError = %+v, want %d issues", st.LastError, tt.wantIssues)
				}
				for _, is := range st.LastError.Issues {
					if is.File != f.path || is.Line == 0 {
						t.Errorf("issue without file:line: %+v", is)
					}
				}
				if !errors.Is(st.LastError.Err(), err) && st.LastError.Err() != err {
					t.Errorf("Failure.Err() = %v, want %v", st.LastError.Err(), err)
				}
			}
			if got := f.metric("cors_authz_policy_reloads_total", "success"); got != tt.wantSuccess {
				t.Errorf("reloads{success} = %v, want %v", got, tt.wantSuccess)
			}
			if got := f.metric("cors_authz_policy_reloads_total", "failure"); got != tt.wantFailure {
				t.Errorf("reloads{failure} = %v, want %v", got, tt.wantFailure)
			}
			if got := f.metric("cors_authz_policy_last_reload_failed", ""); got != tt.wantFailed {
				t.Errorf("last_reload_failed = %v, want %v", got, tt.wantFailed)
			}
			if ts := f.metric("cors_authz_policy_last_reload_success_timestamp_seconds", ""); (ts > 0) != tt.wantPolicy {
				t.Errorf("last success timestamp = %v", ts)
			}
		})
	}
}

// A sequence of loads: unchanged content is not handed over again, a bad
// file keeps the last good policy, and a return to the served content
// clears the failure without a new generation.
func TestLoadSequence(t *testing.T) {
	f := newFixture(t, policyAllowing(originA), Options{})
	steps := []struct {
		name       string
		do         func()
		quiet      bool // a poll: repeated failures are not reported again
		wantErr    bool
		wantCount  int // policies handed over so far
		wantFailed bool
		wantFails  float64
		wantAllowA bool
	}{
		{name: "first", do: func() {}, wantCount: 1, wantAllowA: true},
		{name: "unchanged", do: func() {}, wantCount: 1, wantAllowA: true},
		{name: "broken", do: func() { f.write(f.path, brokenPolicy) }, wantErr: true, wantCount: 1, wantFailed: true, wantFails: 1, wantAllowA: true},
		{name: "broken again, polled", do: func() {}, quiet: true, wantErr: true, wantCount: 1, wantFailed: true, wantFails: 1, wantAllowA: true},
		{name: "broken again, signalled", do: func() {}, wantErr: true, wantCount: 1, wantFailed: true, wantFails: 2, wantAllowA: true},
		{name: "back to served", do: func() { f.write(f.path, policyAllowing(originA)) }, wantCount: 1, wantFails: 2, wantAllowA: true},
		{name: "deleted", do: func() { os.Remove(f.path) }, wantErr: true, wantCount: 1, wantFailed: true, wantFails: 3, wantAllowA: true},
		{name: "deleted, polled", do: func() {}, quiet: true, wantErr: true, wantCount: 1, wantFailed: true, wantFails: 3, wantAllowA: true},
		{name: "new content", do: func() { f.write(f.path, policyAllowing(originB)) }, wantCount: 2, wantFails: 3},
	}
	for _, s := range steps {
		s.do()
		err := f.w.load("test", s.quiet)
		if (err != nil) != s.wantErr {
			t.Fatalf("%s: load error = %v, want error %v", s.name, err, s.wantErr)
		}
		if got := f.tgt.count(); got != s.wantCount {
			t.Errorf("%s: %d policies handed over, want %d", s.name, got, s.wantCount)
		}
		st := f.w.Status()
		if (st.LastError != nil) != s.wantFailed {
			t.Errorf("%s: LastError = %v, want failed=%v", s.name, st.LastError, s.wantFailed)
		}
		if got := f.metric("cors_authz_policy_reloads_total", "failure"); got != s.wantFails {
			t.Errorf("%s: failures = %v, want %v", s.name, got, s.wantFails)
		}
		failedGauge := f.metric("cors_authz_policy_last_reload_failed", "")
		if (failedGauge == 1) != s.wantFailed {
			t.Errorf("%s: last_reload_failed = %v, want failed=%v", s.name, failedGauge, s.wantFailed)
		}
		if got := f.tgt.allows(originA); got != s.wantAllowA {
			t.Errorf("%s: served policy allows %s = %v, want %v", s.name, originA, got, s.wantAllowA)
		}
	}
}

func TestNewErrors(t *testing.T) {
	tgt := &target{}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no path", Options{Target: tgt}, "no policy path"},
		{"no target", Options{Path: "p.yaml"}, "no target"},
		{"negative poll", Options{Path: "p.yaml", Target: tgt, Poll: -time.Second}, "negative poll"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want %q", err, tt.want)
			}
		})
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Options{Path: "p.yaml", Target: tgt, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Path: "p.yaml", Target: tgt, Registerer: reg}); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("second Watcher on one registry: error = %v", err)
	}
	// With distinguishing labels, two Watchers (enforced and shadow) fit.
	reg = prometheus.NewRegistry()
	for _, name := range []string{"enforced", "shadow"} {
		wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"policy": name}, reg)
		if _, err := New(Options{Path: "p.yaml", Target: tgt, Registerer: wrapped}); err != nil {
			t.Fatalf("wrapped registerer %s: %v", name, err)
		}
	}
}

// The ways a policy file gets replaced on disk each reach the target.
func TestWatchReplacements(t *testing.T) {
	tests := []struct {
		name   string
		update func(f *fixture, content string)
	}{
		{"in-place rewrite", func(f *fixture, c string) { f.write(f.path, c) }},
		{"write and rename", func(f *fixture, c string) { f.replace(f.path, c) }},
		{"delete and create", func(f *fixture, c string) {
			if err := os.Remove(f.path); err != nil {
				f.t.Fatal(err)
			}
			f.write(f.path, c)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, policyAllowing(originA), Options{})
			if err := f.w.Load(); err != nil {
				t.Fatal(err)
			}
			if err := f.w.Start(); err != nil {
				t.Fatal(err)
			}
			tt.update(f, policyAllowing(originB))
			f.eventually("the new policy", func() bool { return f.tgt.allows(originB) })
			if f.tgt.allows(originA) {
				t.Error("old origin still allowed")
			}
			// An unrelated file in the same directory does not reload.
			n := f.tgt.count()
			f.write(filepath.Join(f.dir, "unrelated.yaml"), policyAllowing(originA))
			tt.update(f, policyAllowing(originA))
			f.eventually("the second update", func() bool { return f.tgt.allows(originA) })
			if got := f.tgt.count(); got != n+1 {
				t.Errorf("%d loads after one more update, want %d", got, n+1)
			}
		})
	}
}

// configMapDir lays out dir like a Kubernetes ConfigMap volume:
// dir/policy.yaml -> ..data/policy.yaml, ..data -> ..<version>/.
func configMapSwap(t *testing.T, dir, version, content string) {
	t.Helper()
	ts := filepath.Join(dir, ".."+version)
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts, "policy.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(".."+version, tmp); err != nil {
		t.Fatal(err)
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "policy.yaml")); os.IsNotExist(err) {
		if err := os.Symlink(filepath.Join("..data", "policy.yaml"), filepath.Join(dir, "policy.yaml")); err != nil {
			t.Fatal(err)
		}
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWatchConfigMapSwap(t *testing.T) {
	f := newFixture(t, "", Options{})
	configMapSwap(t, f.dir, "2026_01_01_00_00_00.1", policyAllowing(originA))
	if err := f.w.Load(); err != nil {
		t.Fatal(err)
	}
	if err := f.w.Start(); err != nil {
		t.Fatal(err)
	}
	configMapSwap(t, f.dir, "2026_01_01_00_00_01.2", policyAllowing(originB))
	f.eventually("the swapped policy", func() bool { return f.tgt.allows(originB) })

	// A broken version is refused, the last good one keeps serving, and the
	// next good version recovers.
	configMapSwap(t, f.dir, "2026_01_01_00_00_02.3", brokenPolicy)
	f.eventually("the failure", func() bool { return f.w.Status().LastError != nil })
	if !f.tgt.allows(originB) {
		t.Fatal("last good policy not serving after a broken swap")
	}
	configMapSwap(t, f.dir, "2026_01_01_00_00_03.4", policyAllowing(originA))
	f.eventually("recovery", func() bool { return f.tgt.allows(originA) && f.w.Status().LastError == nil })
}

// A deleted file is a failure; the directory watch sees it come back.
func TestWatchDeleteAndRecover(t *testing.T) {
	f := newFixture(t, policyAllowing(originA), Options{})
	if err := f.w.Load(); err != nil {
		t.Fatal(err)
	}
	if err := f.w.Start(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	f.eventually("the failure", func() bool { return f.w.Status().LastError != nil })
	if !f.tgt.allows(originA) || f.metric("cors_authz_policy_last_reload_failed", "") != 1 {
		t.Fatal("deleted file: want the old policy served and the failure gauge at 1")
	}
	f.replace(f.path, policyAllowing(originB))
	f.eventually("recovery", func() bool { return f.tgt.allows(originB) })
	if got := f.metric("cors_authz_policy_last_reload_failed", ""); got != 0 {
		t.Errorf("last_reload_failed = %v after recovery", got)
	}
}

// A long debounce keeps file events from loading during the test, so the
// loads seen come from the signal and from polling alone.
func TestSignalAndPoll(t *testing.T) {
	t.Run("signal", func(t *testing.T) {
		sig := make(chan os.Signal, 1)
		f := newFixture(t, policyAllowing(originA), Options{Debounce: time.Hour, Signals: sig})
		if err := f.w.Load(); err != nil {
			t.Fatal(err)
		}
		if err := f.w.Start(); err != nil {
			t.Fatal(err)
		}
		f.write(f.path, policyAllowing(originB))
		sig <- syscall.SIGHUP
		f.eventually("the signalled reload", func() bool { return f.tgt.allows(originB) })
	})
	t.Run("poll", func(t *testing.T) {
		f := newFixture(t, policyAllowing(originA), Options{Debounce: time.Hour, Poll: 20 * time.Millisecond})
		if err := f.w.Load(); err != nil {
			t.Fatal(err)
		}
		if err := f.w.Start(); err != nil {
			t.Fatal(err)
		}
		f.write(f.path, policyAllowing(originB))
		f.eventually("the polled reload", func() bool { return f.tgt.allows(originB) })
	})
}

// Writes in a burst settle on the last content.
func TestWatchBurst(t *testing.T) {
	f := newFixture(t, policyAllowing(originA), Options{Debounce: 30 * time.Millisecond})
	if err := f.w.Load(); err != nil {
		t.Fatal(err)
	}
	if err := f.w.Start(); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if i%2 == 0 {
			f.write(f.path, policyAllowing(originB))
		} else {
			f.write(f.path, brokenPolicy)
		}
	}
	f.write(f.path, policyAllowing(originB))
	f.eventually("the final content", func() bool { return f.tgt.allows(originB) && f.w.Status().LastError == nil })
}

func TestStartTwiceAndCloseTwice(t *testing.T) {
	f := newFixture(t, policyAllowing(originA), Options{})
	if err := f.w.Start(); err != nil {
		t.Fatal(err)
	}
	if err := f.w.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	f.w.Close()
	f.w.Close()
	g, err := New(Options{Path: f.path, Target: f.tgt})
	if err != nil {
		t.Fatal(err)
	}
	g.Close() // never started
}

// Status is the caller's own copy, and a nil Watcher (no watched file,
// as for serve's embedded policy) has none.
func TestStatusCopy(t *testing.T) {
	var none *Watcher
	if st := none.Status(); st != nil {
		t.Errorf("nil Watcher: Status() = %+v, want nil", st)
	}
	f := newFixture(t, brokenPolicy, Options{})
	if err := f.w.Load(); err == nil {
		t.Fatal("broken policy loaded")
	}
	st := f.w.Status()
	if st == nil || st.LastError == nil || len(st.LastError.Issues) == 0 || st.LastError.Err() == nil || st.Path != f.path {
		t.Fatalf("Status() = %+v", st)
	}
	st.LastError.Issues[0].Msg = "changed"
	st.LastError.Message, st.SHA256 = "changed", "changed"
	again := f.w.Status()
	if again.LastError.Issues[0].Msg == "changed" || again.LastError.Message == "changed" || again.SHA256 == "changed" {
		t.Errorf("changing a returned Status changed the watcher's: %+v", again)
	}
}
