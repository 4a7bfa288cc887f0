package admin_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cors-authz/cors-authz/internal/admin"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

const delegatedPolicy = `version: 1
classes:
  - name: partners
    match: {path_prefixes: [/api/]}
    allow_methods: [GET]
    delegate: {origin_domains: [example.org], allow_methods: [PUT]}
  - name: internal
    match: {path_prefixes: [/]}
`

// delegatedSnapshot is a policy directory's snapshot: team-a.yaml serving,
// team-b.yaml refused with nothing serving.
func delegatedSnapshot(t *testing.T) policy.Snapshot {
	t.Helper()
	base, _, err := policy.Parse("/etc/cors-authz/policy.yaml", []byte(delegatedPolicy))
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := policy.ParseFragment(base, "/etc/cors-authz/team-a.yaml", []byte("version: 1\nextend: [{class: partners, allow_origins: [https://a.example.org], allow_methods: [PUT]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, berr := policy.ParseFragment(base, "/etc/cors-authz/team-b.yaml", []byte("version: 1\nextend: [{class: partners, allow_origins: [https://b.example.net]}]\n"))
	perr, ok := berr.(*policy.Error)
	if !ok {
		t.Fatalf("team-b: %v", berr)
	}
	p, err := base.WithFragments([]*policy.Fragment{a})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	files := []policy.FileState{
		{File: "/etc/cors-authz/policy.yaml", Role: policy.RoleBase, State: policy.FileLoaded, SHA256: base.SHA256(), ServingSHA256: base.SHA256()},
		{File: "/etc/cors-authz/team-a.yaml", Role: policy.RoleFragment, State: policy.FileLoaded, SHA256: a.SHA256(), ServingSHA256: a.SHA256()},
		{File: "/etc/cors-authz/team-b.yaml", Role: policy.RoleFragment, State: policy.FileRefused, SHA256: "0b", Error: berr.Error(), Issues: perr.Issues},
	}
	return policy.Snapshot{Policy: p, Generation: 3, LoadedAt: at, Reload: &policy.ReloadStatus{Path: "/etc/cors-authz", SHA256: p.SHA256(),
		LastSuccess: at, LastAttempt: at, Files: files, LastError: policy.NewReloadFailure(at, berr, perr.Issues)}}
}

// TestPolicyDirectory: /policy says, for a policy directory, each file's
// state and why, and which file grants which origins.
func TestPolicyDirectory(t *testing.T) {
	snap := delegatedSnapshot(t)
	h := admin.New(admin.Options{Policy: func() policy.Snapshot { return snap }})
	code, _, body := get(t, h, "GET", "/policy")
	if code != 200 {
		t.Fatalf("GET /policy = %d: %s", code, body)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	fields := map[string][]string{
		"files[0]":               {"file", "role", "sha256", "serving_sha256", "state"},
		"files[2]":               {"error", "file", "issues", "role", "sha256", "state"},
		"fragments[0]":           {"extend", "file", "sha256"},
		"fragments[0].extend[0]": {"allow_methods", "allow_origins", "class"},
	}
	for path, want := range fields {
		obj, ok := jsonAt(doc, path).(map[string]any)
		if !ok {
			t.Errorf("%q is not an object in\n%s", path, body)
			continue
		}
		got := slices.Sorted(maps.Keys(obj))
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("fields of %q = %v, want %v", path, got, want)
		}
	}
	for path, want := range map[string]any{
		"files[2].state":                          "refused",
		"files[1].state":                          "loaded",
		"fragments[0].file":                       "/etc/cors-authz/team-a.yaml",
		"fragments[0].extend[0].allow_origins[0]": "https://a.example.org",
		"sha256": snap.Policy.SHA256(),
	} {
		if got := jsonAt(doc, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if !strings.Contains(jsonAt(doc, "files[2].error").(string), "team-b.yaml:2:44:") {
		t.Errorf("team-b's error lacks its file:line: %v", jsonAt(doc, "files[2].error"))
	}
	// /explain names the granting file.
	code, _, body = get(t, h, "GET", "/explain?origin=https://a.example.org&path=/api/x&method=OPTIONS&header=Access-Control-Request-Method:+PUT")
	if code != 200 || !strings.Contains(body, `"granted_by": [`) || !strings.Contains(body, "/etc/cors-authz/team-a.yaml") {
		t.Errorf("GET /explain = %d:\n%s", code, body)
	}
}

// TestUIPolicyDirectory: the admin page lists each file of a policy
// directory with its state and errors, what each fragment grants in a
// delegated class, and which file granted an explained origin.
func TestUIPolicyDirectory(t *testing.T) {
	snap := delegatedSnapshot(t)
	h := admin.New(admin.Options{Policy: func() policy.Snapshot { return snap }})
	code, _, body := get(t, h, "GET", "/")
	if code != 200 {
		t.Fatalf("GET / = %d", code)
	}
	for _, want := range []string{
		`id="enforced-files"`,
		`<tr class="file-refused">`,
		`<code>/etc/cors-authz/team-b.yaml:2:44</code>`,
		`<span class="badge">delegated</span>`,
		`granted by</span> <code>/etc/cors-authz/team-a.yaml</code> <span class="muted">(adds <code>PUT</code> for these origins)`,
		`<li><code>https://a.example.org</code></li>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Only the internal class is shown as internal, not the delegated one.
	if n := strings.Count(body, `<span class="badge warn">internal</span>`); n != 1 {
		t.Errorf("%d classes shown as internal, want 1", n)
	}
	code, _, body = get(t, h, "GET", "/explain?format=html&origin=https://a.example.org&path=/api/x")
	if code != 200 || !strings.Contains(body, `<dd class="granted-by"><code>/etc/cors-authz/team-a.yaml</code></dd>`) {
		t.Errorf("explain page = %d, lacks the granting file", code)
	}
}
