package reload

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// delegatedBase delegates the public class to teams under example.com.
const delegatedBase = `version: 1
classes:
  - name: public
    match: {path_prefixes: [/]}
    allow_methods: [GET]
    delegate: {origin_domains: [example.com]}
`

func fragmentGranting(origin string) string {
	return "version: 1\nextend:\n  - class: public\n    allow_origins: [" + origin + "]\n"
}

// outOfBounds breaks the origin_domains guardrail at line 4.
const outOfBounds = "version: 1\nextend:\n  - class: public\n    allow_origins: [https://evil.example.net]\n"

// newDirFixture writes files into a policy directory and returns an
// unstarted Watcher on the directory.
func newDirFixture(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), tgt: &target{}, reg: prometheus.NewRegistry()}
	f.path = f.dir
	for name, content := range files {
		f.write(filepath.Join(f.dir, name), content)
	}
	w, err := New(Options{Path: f.dir, Target: f.tgt, Registerer: f.reg, Debounce: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f.w = w
	t.Cleanup(func() { w.Close() })
	return f
}

// fileState returns cors_authz_policy_file_state{file, state}; -1 if absent.
func (f *fixture) fileState(file, state string) float64 {
	f.t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "cors_authz_policy_file_state" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["file"] == file && labels["state"] == state {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// TestDirLoad: at startup a refused fragment is left out and reported per
// file while the rest serves; a refused base refuses the start.
func TestDirLoad(t *testing.T) {
	f := newDirFixture(t, map[string]string{
		policy.BaseFile: delegatedBase,
		"team-a.yaml":   fragmentGranting(originA),
		"team-b.yaml":   outOfBounds,
	})
	if err := f.w.Load(); err != nil {
		t.Fatalf("Load with one refused fragment: %v", err)
	}
	if !f.tgt.allows(originA) || f.tgt.count() != 1 {
		t.Fatalf("team A's origin not served (%d policies)", f.tgt.count())
	}
	files := f.w.Files()
	if len(files) != 3 || files[1].State != policy.FileLoaded || files[2].State != policy.FileRefused || files[2].ServingSHA256 != "" {
		t.Fatalf("files %+v", files)
	}
	if !strings.Contains(files[2].Error, "team-b.yaml:4:") || !strings.Contains(files[2].Error, "origin_domains") {
		t.Errorf("team-b error %q", files[2].Error)
	}
	st := f.w.Status()
	if st.LastError == nil || !strings.Contains(st.LastError.Message, "team-b.yaml") || len(st.LastError.Issues) != 1 || st.Generation != 1 {
		t.Errorf("status %+v", st)
	}
	for _, m := range []struct {
		file, state string
		want        float64
	}{{"policy.yaml", "loaded", 1}, {"team-a.yaml", "loaded", 1}, {"team-b.yaml", "refused", 1}, {"team-b.yaml", "loaded", -1}} {
		if got := f.fileState(m.file, m.state); got != m.want {
			t.Errorf("file_state{%s,%s} = %v, want %v", m.file, m.state, got, m.want)
		}
	}
	if f.metric("cors_authz_policy_last_reload_failed", "") != 1 || f.metric("cors_authz_policy_reloads_total", "failure") != 1 {
		t.Error("a refused fragment is not counted as a failed reload")
	}

	bad := newDirFixture(t, map[string]string{policy.BaseFile: brokenPolicy, "team-a.yaml": fragmentGranting(originA)})
	if err := bad.w.Load(); err == nil || bad.tgt.count() != 0 {
		t.Fatalf("refused base: Load = %v, %d policies", err, bad.tgt.count())
	}
}

// TestDirWatch: one fragment's change reloads it alone; a refused
// fragment keeps its last good version while another updates; a
// ConfigMap-style swap of every key is seen; fixing everything recovers.
func TestDirWatch(t *testing.T) {
	f := newDirFixture(t, map[string]string{
		policy.BaseFile: delegatedBase,
		"team-a.yaml":   fragmentGranting(originA),
		"team-b.yaml":   fragmentGranting("https://old-b.example.com"),
		"README.md":     "not watched",
	})
	if err := f.w.Load(); err != nil {
		t.Fatal(err)
	}
	if err := f.w.Start(); err != nil {
		t.Fatal(err)
	}
	f.replace(filepath.Join(f.dir, "team-b.yaml"), fragmentGranting(originB))
	f.eventually("team B's new origin", func() bool { return f.tgt.allows(originB) })
	if !f.tgt.allows(originA) || f.tgt.allows("https://old-b.example.com") {
		t.Fatal("team B's change affected team A, or B's old origin still served")
	}
	f.replace(filepath.Join(f.dir, "team-a.yaml"), outOfBounds)
	f.eventually("team A refused", func() bool { return f.fileState("team-a.yaml", "refused") == 1 })
	f.replace(filepath.Join(f.dir, "team-b.yaml"), fragmentGranting("https://c.example.com"))
	f.eventually("team B updated while A is refused", func() bool { return f.tgt.allows("https://c.example.com") })
	if !f.tgt.allows(originA) || f.tgt.allows("https://evil.example.net") {
		t.Fatal("team A's last good version not serving, or its refused version served")
	}
	f.replace(filepath.Join(f.dir, "team-a.yaml"), fragmentGranting(originA))
	f.eventually("recovery", func() bool {
		return f.w.Status().LastError == nil && f.metric("cors_authz_policy_last_reload_failed", "") == 0
	})
	if err := os.Remove(filepath.Join(f.dir, "team-b.yaml")); err != nil {
		t.Fatal(err)
	}
	f.eventually("team B's grants revoked", func() bool { return !f.tgt.allows("https://c.example.com") })
	if f.fileState("team-b.yaml", "loaded") != -1 {
		t.Error("a removed file still has a state")
	}
}

// TestDirConfigMapSwap: every key of a ConfigMap volume is a link through
// ..data; the kubelet swaps ..data and the changed key reloads.
func TestDirConfigMapSwap(t *testing.T) {
	f := newDirFixture(t, nil)
	swap := func(version string, files map[string]string) {
		ts := filepath.Join(f.dir, ".."+version)
		if err := os.Mkdir(ts, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range files {
			f.write(filepath.Join(ts, name), content)
		}
		old, _ := os.Readlink(filepath.Join(f.dir, "..data"))
		tmp := filepath.Join(f.dir, "..data_tmp")
		if err := os.Symlink(".."+version, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(f.dir, "..data")); err != nil {
			t.Fatal(err)
		}
		for name := range files {
			if _, err := os.Lstat(filepath.Join(f.dir, name)); os.IsNotExist(err) {
				if err := os.Symlink(filepath.Join("..data", name), filepath.Join(f.dir, name)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if old != "" {
			if err := os.RemoveAll(filepath.Join(f.dir, old)); err != nil {
				t.Fatal(err)
			}
		}
	}
	swap("2026_01_01_00_00_00.1", map[string]string{policy.BaseFile: delegatedBase, "team-a.yaml": fragmentGranting(originA), "team-b.yaml": outOfBounds})
	if err := f.w.Load(); err != nil {
		t.Fatal(err)
	}
	if err := f.w.Start(); err != nil {
		t.Fatal(err)
	}
	swap("2026_01_01_00_00_01.2", map[string]string{policy.BaseFile: delegatedBase, "team-a.yaml": fragmentGranting(originA), "team-b.yaml": fragmentGranting(originB)})
	f.eventually("team B's fixed key", func() bool { return f.tgt.allows(originB) && f.w.Status().LastError == nil })
	if !f.tgt.allows(originA) {
		t.Fatal("team A lost its grant in the swap")
	}
}

// TestDirRefusedBaseCountedOnce: a refused base keeps everything as it was
// and is logged and counted once, however often the directory is read
// again, until it changes.
func TestDirRefusedBaseCountedOnce(t *testing.T) {
	f := newDirFixture(t, map[string]string{policy.BaseFile: delegatedBase, "team-a.yaml": fragmentGranting(originA)})
	if err := f.w.Load(); err != nil {
		t.Fatal(err)
	}
	f.write(filepath.Join(f.dir, policy.BaseFile), brokenPolicy)
	for range 3 {
		if err := f.w.load("poll", true); err == nil {
			t.Fatal("refused base loaded")
		}
	}
	if got := f.metric("cors_authz_policy_reloads_total", "failure"); got != 1 {
		t.Errorf("reloads_total{failure} = %v after three reads of one refused base, want 1", got)
	}
	if !f.tgt.allows(originA) || f.tgt.count() != 1 {
		t.Error("the last good policy is not serving")
	}
	f.write(filepath.Join(f.dir, policy.BaseFile), strings.Replace(brokenPolicy, "TRACE", "CONNECT", 1))
	if err := f.w.load("poll", true); err == nil {
		t.Fatal("refused base loaded")
	}
	if got := f.metric("cors_authz_policy_reloads_total", "failure"); got != 2 {
		t.Errorf("reloads_total{failure} = %v after a second refused version, want 2", got)
	}
}

// TestDirFileNameNotUTF8: a file whose name is not valid UTF-8 (a plain
// directory allows any bytes) is loaded like any other, and the metrics
// still gather: its file label carries the name with each invalid byte
// written as \xNN, so two such names keep two series (a label value must
// be UTF-8; the name used to panic the reload), and a name that spells
// another's label does not make the scrape fail.
func TestDirFileNameNotUTF8(t *testing.T) {
	f := newDirFixture(t, map[string]string{
		policy.BaseFile:    delegatedBase,
		"team-\xff-a.yaml": fragmentGranting(originA),
		"team-\xfe-a.yaml": fragmentGranting(originA),
		`team-\xff-a.yaml`: fragmentGranting(originA), // the same label: one series, and the scrape still works
	})
	if err := f.w.Load(); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !f.tgt.allows(originA) {
		t.Fatal("the fragment's origin is not served")
	}
	for _, name := range []string{`team-\xff-a.yaml`, `team-\xfe-a.yaml`} {
		if got := f.fileState(name, "loaded"); got != 1 {
			t.Errorf("file_state{%s,loaded} = %v, want 1", name, got)
		}
	}
}
