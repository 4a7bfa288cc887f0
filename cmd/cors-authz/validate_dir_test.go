package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyPolicyDir copies testdata/policydir without the named files.
func copyPolicyDir(t *testing.T, without ...string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir("testdata/policydir")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if contains(without, e.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join("testdata/policydir", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestValidateDir(t *testing.T) {
	good := copyPolicyDir(t, "team-search.yaml")
	onlyBase := copyPolicyDir(t, "team-search.yaml", "team-payments.yaml")
	badBase := copyPolicyDir(t)
	if err := os.WriteFile(filepath.Join(badBase, "policy.yaml"), []byte("version: 1\nclasses: [{name: x, bogus: 1}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runCLICases(t, []cliCase{
		{"one broken fragment", []string{"validate", "testdata/policydir"}, 1, []string{
			`testdata/policydir/team-search.yaml:5:21: extend[0].allow_origins[0]: "https://search.example.net": outside guardrail delegate.origin_domains of class "partner-api" (testdata/policydir/policy.yaml:11)`,
			`testdata/policydir/team-search.yaml:6:21: extend[0].allow_methods[0]: "PATCH": outside guardrail delegate.allow_methods`,
			"testdata/policydir/team-search.yaml: refused, 2 error(s)",
			"testdata/policydir/team-payments.yaml: ok, 2 origin(s)",
			"testdata/policydir/policy.yaml: ok, 2 class(es)",
			"testdata/policydir: refused, 1 of 3 file(s)"}, nil},
		{"all valid", []string{"validate", good}, 0, []string{"team-payments.yaml: ok", ": ok, 1 fragment(s), sha256 "}, []string{"refused"}},
		{"quiet", []string{"validate", "-q", good}, 0, nil, []string{"ok"}},
		{"only the base", []string{"validate", onlyBase}, 0, []string{"policy.yaml: ok, 2 class(es)", ": ok, 0 fragment(s)"}, nil},
		{"base refused", []string{"validate", badBase}, 1, []string{"policy.yaml:2:", "bogus: unknown key", "the base policy is refused, so no fragment was validated"}, []string{"team-payments.yaml: ok"}},
		{"no policy.yaml", []string{"validate", t.TempDir()}, 1, []string{"no policy.yaml"}, nil},
	})
}

// TestExplainDir: explain reads a policy directory and says which file
// granted the origin; a directory with a refused fragment is refused.
func TestExplainDir(t *testing.T) {
	good := copyPolicyDir(t, "team-search.yaml")
	code, out, errs := runCLI("explain", "--config", good, "--method", "OPTIONS", "--path", "/api/partners/x", "--host", "api.example.com",
		"--origin", "https://shop.example.org", "--header", "Access-Control-Request-Method: PUT")
	if code != 0 || !strings.Contains(out, "preflight_allowed") || !strings.Contains(out, "granted:  https://shop.example.org by "+filepath.Join(good, "team-payments.yaml")) ||
		!strings.Contains(out, "policy:   "+good+" (sha256 ") || !strings.Contains(out, "and 1 fragment(s))") {
		t.Errorf("exit %d:\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI("explain", "--config", "testdata/policydir", "--path", "/")
	if code != 1 || !strings.Contains(errs, "team-search.yaml:5:21") {
		t.Errorf("broken directory: exit %d:\n%s%s", code, out, errs)
	}
}

// TestDiffDir: diff compares directories file by file and marks widening
// per file; --exit-code says whether anything widens.
func TestDiffDir(t *testing.T) {
	old := copyPolicyDir(t, "team-search.yaml")
	new := copyPolicyDir(t)
	if err := os.WriteFile(filepath.Join(new, "team-search.yaml"), []byte("version: 1\nextend: [{class: partner-api, allow_origins: [https://search.example.org]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runCLICases(t, []cliCase{
		{"a fragment added", []string{"diff", "--exit-code", old, new}, diffExitWidens, []string{
			"=== team-search.yaml (fragment, added): WIDENS (1 line(s))",
			"+ WIDENS   allow_origins: added https://search.example.org",
			"ACCESS WIDENS in team-search.yaml"}, nil},
		{"a fragment removed", []string{"diff", "--exit-code", new, old}, diffExitChanged, []string{
			"=== team-search.yaml (fragment, removed)", "- narrows  allow_origins: removed https://search.example.org"}, nil},
		{"the same", []string{"diff", "--exit-code", old, old}, diffExitSame, []string{"no changes"}, nil},
		{"json", []string{"diff", "--json", old, new}, diffExitSame, []string{`"file": "team-search.yaml"`, `"status": "added"`, `"widens": true`}, nil},
		{"a refused fragment", []string{"diff", old, "testdata/policydir"}, diffExitError, []string{"team-search.yaml:5:21", "refused"}, nil},
	})
}

// TestValidateDelegatedConfigMap: a ConfigMap whose keys are a policy
// directory (policy.yaml and team fragments) is validated as the mounted
// directory would be: each fragment against that ConfigMap's policy.yaml,
// its errors at manifest lines.
func TestValidateDelegatedConfigMap(t *testing.T) {
	const head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pol\ndata:\n"
	const base = "  policy.yaml: |\n    version: 1\n    classes:\n      - name: a\n        match: {path_prefixes: [/]}\n        delegate: {origin_domains: [example.org]}\n"
	tests := []struct {
		name     string
		body     string
		code     int
		contains []string
	}{
		{"valid fragment", head + base + "  team-a.yaml: |\n    version: 1\n    extend:\n      - class: a\n        allow_origins: [https://a.example.org]\n",
			0, []string{"(ConfigMap pol, key policy.yaml): ok, 1 class(es)", "(ConfigMap pol, key team-a.yaml): ok, fragment, 1 origin(s)"}},
		// The fragment's allow_origins is manifest line 16 (11 lines of head and base, "|", 4 lines), the origin at
		// column 25; the guardrail, delegate in the base's line 5, is manifest line 11.
		{"fragment outside its guardrails", head + base + "  team-a.yaml: |\n    version: 1\n    extend:\n      - class: a\n        allow_origins: [https://a.example.net]\n",
			1, []string{"cm.yaml:16:25: extend[0].allow_origins[0]", `guardrail delegate.origin_domains of class "a" (`, `cm.yaml:11)`, "(ConfigMap pol, key team-a.yaml): refused, 1 error(s)"}},
		{"fragment without a base", head + "  team-a.yaml: |\n    version: 1\n    extend: []\n",
			1, []string{"a fragment, but ConfigMap pol has no valid policy.yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "cm.yaml")
			if err := os.WriteFile(file, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errs := runCLI("validate", file)
			checkCLI(t, code, out, errs, tc.code, tc.contains, nil)
		})
	}
}
