package policy_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

func writeFile(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// allowed reports whether a preflight from origin asking for method is
// answered 204 by p.
func allowed(p *policy.Policy, origin, method string) bool {
	r := policy.Request{Method: "OPTIONS", Scheme: "https", Host: "api.example.com", Path: "/api/x",
		Origin: origin, HasOrigin: true, ACRM: method}
	v := p.Decide(&r)
	return v.Allowed
}

// TestDirOnlyBase: a directory holding only policy.yaml behaves exactly
// like that file.
func TestDirOnlyBase(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, policy.BaseFile, testPolicy)
	writeFile(t, dir, "README.md", "not a policy")
	writeFile(t, dir, ".hidden.yaml", "not: a fragment")
	if err := os.Mkdir(filepath.Join(dir, "..data"), 0o755); err != nil {
		t.Fatal(err)
	}
	fromFile := mustParse(t, testPolicy)
	for _, load := range []struct {
		name string
		fn   func() (*policy.Policy, error)
	}{
		{"Dir", func() (*policy.Policy, error) { res, err := policy.OpenDir(dir).Scan(); return res.Policy, err }},
		{"Load", func() (*policy.Policy, error) { p, _, err := policy.Load(dir); return p, err }},
	} {
		t.Run(load.name, func(t *testing.T) {
			p, err := load.fn()
			if err != nil {
				t.Fatal(err)
			}
			if p.SHA256() != fromFile.SHA256() || p.Source() != filepath.Join(dir, policy.BaseFile) || len(p.Fragments()) != 0 {
				t.Errorf("digest %s source %s fragments %d; file digest %s", p.SHA256(), p.Source(), len(p.Fragments()), fromFile.SHA256())
			}
			for _, origin := range []string{partner, "https://evil.example", "https://a.tenant.example.com"} {
				for _, path := range []string{"/api/v1/x", "/open/x", "/"} {
					r := policy.Request{Method: "OPTIONS", Scheme: "https", Host: "api.example.com", Path: path, Origin: origin, HasOrigin: true, ACRM: "PUT"}
					a, b := p.Decide(&r), fromFile.Decide(&r)
					if a.ReasonText() != b.ReasonText() || a.Status != b.Status || !slices.Equal(a.Headers(), b.Headers()) {
						t.Errorf("%s %s: dir %s %v, file %s %v", origin, path, a.ReasonText(), a.Headers(), b.ReasonText(), b.Headers())
					}
				}
			}
		})
	}
}

// TestDirIsolation walks a directory through the changes the issue names:
// each fragment is validated alone, a refused fragment keeps its last good
// version while the others update, a removed file revokes its grants, a
// refused base keeps everything, and a new base re-validates every
// fragment against its guardrails.
func TestDirIsolation(t *testing.T) {
	const (
		a = "https://a.partners.example.org"
		b = "https://b.example.net"
	)
	dir := t.TempDir()
	writeFile(t, dir, policy.BaseFile, delegatedBase)
	writeFile(t, dir, "team-a.yaml", teamA)
	writeFile(t, dir, "team-b.yaml", "version: 1\nextend: [{class: partner-api, allow_origins: [https://evil.example.com]}]\n")
	d := policy.OpenDir(dir)
	path := func(n string) string { return filepath.Join(dir, n) }
	state := func(name string) policy.FileState {
		for _, st := range d.Files() {
			if st.File == path(name) {
				return st
			}
		}
		return policy.FileState{}
	}

	type want struct {
		validated []string
		refused   []string
		changed   bool
		err       bool
		allowed   map[string]bool // origin → PATCH (A) / DELETE (B) preflight allowed
	}
	steps := []struct {
		name   string
		change func()
		want   want
	}{
		{"startup: B's broken fragment is refused alone", func() {},
			want{[]string{"policy.yaml", "team-a.yaml", "team-b.yaml"}, []string{"team-b.yaml"}, true, false, map[string]bool{a: true, b: false}}},
		{"nothing changed: nothing validated", func() {},
			want{nil, nil, false, false, map[string]bool{a: true, b: false}}},
		{"B fixed: only B validated", func() { writeFile(t, dir, "team-b.yaml", teamB) },
			want{[]string{"team-b.yaml"}, nil, true, false, map[string]bool{a: true, b: true}}},
		{"A broken: A's last good keeps serving", func() { writeFile(t, dir, "team-a.yaml", frag("    allow_origins: [https://evil.example.com]\n")) },
			want{[]string{"team-a.yaml"}, []string{"team-a.yaml"}, false, false, map[string]bool{a: true, b: true}}},
		{"B updated while A is refused", func() {
			writeFile(t, dir, "team-b.yaml", strings.Replace(teamB, "https://b.example.net, ", "", 1))
		}, want{[]string{"team-b.yaml"}, nil, true, false, map[string]bool{a: true, b: false}}},
		{"base refused: everything stays", func() {
			writeFile(t, dir, policy.BaseFile, "version: 1\nclasses: [{name: x, bogus: 1}]\n")
			writeFile(t, dir, "team-b.yaml", teamB)
		}, want{[]string{"policy.yaml"}, []string{"policy.yaml"}, false, true, map[string]bool{a: true, b: false}}},
		{"base still refused: not validated again", func() {},
			want{nil, nil, false, true, map[string]bool{a: true, b: false}}},
		{"new base without PATCH: every fragment re-validated, A's last good dropped", func() {
			writeFile(t, dir, policy.BaseFile, strings.Replace(delegatedBase, "[PATCH, DELETE]", "[DELETE]", 1))
		}, want{[]string{"policy.yaml", "team-a.yaml", "team-b.yaml"}, []string{"team-a.yaml"}, true, false, map[string]bool{a: false, b: true}}},
		{"B removed: its grants are revoked", func() {
			if err := os.Remove(path("team-b.yaml")); err != nil {
				t.Fatal(err)
			}
		}, want{nil, nil, true, false, map[string]bool{a: false, b: false}}},
		{"base missing: everything stays", func() {
			if err := os.Remove(path(policy.BaseFile)); err != nil {
				t.Fatal(err)
			}
		}, want{nil, nil, false, true, map[string]bool{a: false, b: false}}},
	}
	var served *policy.Policy
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change()
			res, err := d.Scan()
			if (err != nil) != st.want.err {
				t.Fatalf("Scan error = %v, want error: %v", err, st.want.err)
			}
			var validated, refused []string
			for _, f := range res.Validated {
				validated = append(validated, filepath.Base(f))
			}
			for _, f := range res.Refused {
				refused = append(refused, filepath.Base(f.File))
				if f.State != policy.FileRefused || f.Error == "" {
					t.Errorf("refused file state %+v", f)
				}
			}
			slices.Sort(validated)
			if !slices.Equal(validated, st.want.validated) || !slices.Equal(refused, st.want.refused) {
				t.Errorf("validated %v refused %v, want %v and %v", validated, refused, st.want.validated, st.want.refused)
			}
			if res.Changed != st.want.changed || (res.Policy != served) != st.want.changed {
				t.Errorf("changed = %v (policy replaced: %v), want %v", res.Changed, res.Policy != served, st.want.changed)
			}
			served = res.Policy
			if served == nil {
				t.Fatal("no policy served")
			}
			methods := map[string]string{a: "PATCH", b: "DELETE"}
			for origin, want := range st.want.allowed {
				if got := allowed(served, origin, methods[origin]); got != want {
					t.Errorf("%s %s allowed = %v, want %v", origin, methods[origin], got, want)
				}
			}
		})
	}
	if st := state("team-a.yaml"); st.State != policy.FileRefused || st.ServingSHA256 != "" || len(st.Issues) == 0 {
		t.Errorf("team-a state %+v, want refused with nothing serving", st)
	}
	if st := state(policy.BaseFile); st.State != policy.FileRefused || st.ServingSHA256 == "" {
		t.Errorf("base state %+v, want refused with the last good serving", st)
	}
}

// TestDirRefusedKeepsLastGood: the refused fragment's state names the
// version still serving.
func TestDirRefusedKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, policy.BaseFile, delegatedBase)
	writeFile(t, dir, "team-a.yaml", teamA)
	d := policy.OpenDir(dir)
	if _, err := d.Scan(); err != nil {
		t.Fatal(err)
	}
	good := d.Files()[1]
	writeFile(t, dir, "team-a.yaml", "version: 1\nextend: [{class: partner-api, match: {}}]\n")
	if _, err := d.Scan(); err != nil {
		t.Fatal(err)
	}
	st := d.Files()[1]
	if good.State != policy.FileLoaded || st.State != policy.FileRefused || st.ServingSHA256 != good.SHA256 || st.SHA256 == good.SHA256 {
		t.Errorf("before %+v\nafter %+v", good, st)
	}
	if len(st.Issues) != 1 || st.Issues[0].Line != 2 || !strings.Contains(st.Error, "cannot set match") {
		t.Errorf("issues %+v", st.Issues)
	}
}

// TestLoadDirStrict: the one-shot commands refuse a directory with any
// invalid file, listing every file's problems.
func TestLoadDirStrict(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, policy.BaseFile, delegatedBase)
	writeFile(t, dir, "team-a.yaml", frag("    allow_origins: [https://evil.example.com]\n"))
	writeFile(t, dir, "team-b.yaml", frag("    allow_methods: [OPTIONS]\n    allow_origins: [https://b.example.net]\n"))
	writeFile(t, dir, "team-c.yaml", teamC)
	p, files, _, err := policy.LoadDir(dir)
	var perr *policy.Error
	if p != nil || !errors.As(err, &perr) || len(perr.Issues) != 2 {
		t.Fatalf("LoadDir = %v, %v", p, err)
	}
	if !strings.Contains(perr.Issues[0].File+perr.Issues[1].File, "team-a.yaml") || !strings.Contains(perr.Issues[0].File+perr.Issues[1].File, "team-b.yaml") {
		t.Errorf("issues %v", perr.Issues)
	}
	if len(files) != 4 || files[0].Role != policy.RoleBase || files[3].State != policy.FileLoaded {
		t.Errorf("files %+v", files)
	}
	if _, _, err := policy.Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing path loaded")
	}
	empty := t.TempDir()
	if _, _, _, err := policy.LoadDir(empty); err == nil || !strings.Contains(err.Error(), "no policy.yaml") {
		t.Errorf("directory without policy.yaml: %v", err)
	}
}

// TestDirSettledFiles: a settled file (old modification time) is not read
// again while its metadata is unchanged, and a rewrite of the same size
// is still seen.
func TestDirSettledFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, policy.BaseFile, delegatedBase)
	v1 := frag("    allow_origins: [https://a.example.net]\n")
	v2 := frag("    allow_origins: [https://b.example.net]\n")
	writeFile(t, dir, "team.yaml", v1)
	old := time.Now().Add(-time.Hour)
	for _, n := range []string{policy.BaseFile, "team.yaml"} {
		if err := os.Chtimes(filepath.Join(dir, n), old, old); err != nil {
			t.Fatal(err)
		}
	}
	d := policy.OpenDir(dir)
	if _, err := d.Scan(); err != nil {
		t.Fatal(err)
	}
	res, err := d.Scan()
	if err != nil || len(res.Validated) != 0 || res.Changed {
		t.Fatalf("unchanged directory: %v validated %v changed %v", err, res.Validated, res.Changed)
	}
	writeFile(t, dir, "team.yaml", v2)
	res, err = d.Scan()
	if err != nil || len(res.Validated) != 1 || !res.Changed {
		t.Fatalf("rewrite of the same size: %v validated %v changed %v", err, res.Validated, res.Changed)
	}
	if !allowed(res.Policy, "https://b.example.net", "GET") || allowed(res.Policy, "https://a.example.net", "GET") {
		t.Error("the rewritten fragment is not the one served")
	}
}

// TestDirIncrementalMerge: after one fragment changes, the policy Scan
// updates from the previous one decides exactly like a policy merged from
// scratch, including origins that several fragments share.
func TestDirIncrementalMerge(t *testing.T) {
	origins := []string{"https://a.example.net", "https://b.example.net", "https://c.example.net", "https://shared.example.net", "https://base.example.net", "https://x.b.partners.example.org", "https://y.b.partners.example.org"}
	versions := []string{
		frag("    allow_origins: [https://a.example.net, https://shared.example.net]\n    allow_methods: [PATCH]\n"),
		frag("    allow_origins: [https://c.example.net, https://shared.example.net]\n    allow_methods: [DELETE]\n    allow_headers: [X-Team-A]\n"),
		frag("    allow_origins: [https://c.example.net]\n"),
		frag("    allow_origins: [https://base.example.net, https://c.example.net]\n    allow_methods: [PATCH]\n"),
		"version: 1\n",
		frag("    allow_origins: [https://shared.example.net]\n    expose_headers: [X-A-Trace]\n"),
		frag("    allow_origins: [https://y.b.partners.example.org]\n    allow_methods: [PATCH]\n"),
		frag("    allow_origins: [https://a.example.net]\n"),
	}
	base := strings.Replace(delegatedBase, "[https://www.example.com]", "[https://www.example.com, https://base.example.net]", 1)
	dir := t.TempDir()
	writeFile(t, dir, policy.BaseFile, base)
	writeFile(t, dir, "team-b.yaml", frag("    allow_origins: [https://b.example.net, https://shared.example.net, 'https://*.b.partners.example.org']\n    allow_methods: [DELETE]\n"))
	other := t.TempDir()
	writeFile(t, other, policy.BaseFile, base)
	writeFile(t, other, "team-a.yaml", teamA)
	writeFile(t, other, "team-c.yaml", teamC)
	for _, tc := range []struct{ name, dir string }{{"with a wildcard elsewhere", dir}, {"exact origins only", other}} {
		t.Run(tc.name, func(t *testing.T) {
			d := policy.OpenDir(tc.dir)
			for i, v := range versions {
				writeFile(t, tc.dir, "team-a.yaml", v)
				res, err := d.Scan()
				if err != nil || len(res.Refused) > 0 {
					t.Fatalf("version %d: %v %v", i, err, res.Refused)
				}
				fresh, _, err := policy.Load(tc.dir)
				if err != nil {
					t.Fatal(err)
				}
				if res.Policy.SHA256() != fresh.SHA256() {
					t.Errorf("version %d: digest %s, fresh %s", i, res.Policy.SHA256(), fresh.SHA256())
				}
				for _, o := range origins {
					for _, m := range []string{"PATCH", "DELETE", "PUT"} {
						r := policy.Request{Method: "OPTIONS", Scheme: "https", Host: "h", Path: "/api/", Origin: o, HasOrigin: true, ACRM: m, ACRH: "x-team-a"}
						a, b := res.Policy.Decide(&r), fresh.Decide(&r)
						var fa, fb []string
						if a.Grant != nil {
							fa = a.Grant.Files()
						}
						if b.Grant != nil {
							fb = b.Grant.Files()
						}
						if a.ReasonText() != b.ReasonText() || !slices.Equal(a.Headers(), b.Headers()) || !slices.Equal(fa, fb) {
							t.Errorf("version %d %s %s: incremental %s %v %v, fresh %s %v %v", i, o, m, a.ReasonText(), a.Headers(), fa, b.ReasonText(), b.Headers(), fb)
						}
					}
				}
			}
		})
	}
}

// TestDirDigestIndependentOfLocation: the same files give the same digest
// in any directory, and any file's change changes it.
func TestDirDigestIndependentOfLocation(t *testing.T) {
	var sums []string
	for _, a := range []string{teamA, teamA, strings.Replace(teamA, "[PATCH]", "[DELETE]", 1)} {
		dir := t.TempDir()
		writeFile(t, dir, policy.BaseFile, delegatedBase)
		writeFile(t, dir, "team-a.yaml", a)
		writeFile(t, dir, "team-b.yaml", teamB)
		p, _, err := policy.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, p.SHA256())
	}
	if sums[0] != sums[1] || sums[1] == sums[2] {
		t.Errorf("digests %v: want the first two equal and the third different", sums)
	}
}

// TestDirUnreadableFragment: a fragment that cannot be read (a dangling
// link) is refused with the read error, and its state has no sha256, since
// no bytes were read; it is not validated again until it changes, and once
// readable it loads.
func TestDirUnreadableFragment(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, policy.BaseFile, delegatedBase)
	if err := os.Symlink(filepath.Join(dir, "missing"), filepath.Join(dir, "team-a.yaml")); err != nil {
		t.Fatal(err)
	}
	d := policy.OpenDir(dir)
	res, err := d.Scan()
	if err != nil || len(res.Refused) != 1 {
		t.Fatalf("Scan: %v, refused %+v", err, res.Refused)
	}
	st := res.Refused[0]
	if st.SHA256 != "" || st.ServingSHA256 != "" || !strings.Contains(st.Error, "no such file") {
		t.Errorf("unreadable fragment's state %+v", st)
	}
	if res, err = d.Scan(); err != nil || len(res.Refused) != 0 || len(res.Validated) != 0 {
		t.Errorf("the same unreadable file validated again: %v %+v", err, res)
	}
	writeFile(t, dir, "missing", teamA)
	if res, err = d.Scan(); err != nil || len(res.Refused) != 0 || d.Files()[1].State != policy.FileLoaded {
		t.Errorf("readable again: %v %+v %+v", err, res, d.Files())
	}
}
