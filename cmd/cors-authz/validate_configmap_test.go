package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateConfigMapManifest(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pol\ndata:\n"
	tests := []struct {
		name     string
		body     string
		code     int
		contains []string
	}{
		{"literal block", head + "  policy.yaml: |\n    version: 1\n    classes:\n      - name: a\n        match: {path_prefixes: [/]}\n        allow_origins: [https://a.example]\n",
			0, []string{"(ConfigMap pol, key policy.yaml): ok, 1 class(es)"}},
		// Manifest line 11 holds allow_origins (5 lines of head, the "|" line, 4 policy lines); "*" is at column 25.
		{"error at manifest line", head + "  policy.yaml: |\n    version: 1\n    classes:\n      - name: a\n        match: {path_prefixes: [/]}\n        allow_origins: [\"*\"]\n",
			1, []string{"error-line.yaml:11:25: classes[0].allow_origins[0]", "refused, 1 error(s)"}},
		{"warning at manifest line", head + "  policy.yaml: |\n    version: 1\n    classes:\n      - name: a\n        match: {path_prefixes: [/]}\n        allow_origins: [https://a.example]\n        max_age: 3h\n",
			0, []string{"warning-line.yaml:12:18: classes[0].max_age", "1 warning(s)"}},
		{"quoted value: the value's position", head + "  policy.yaml: \"version: 1\\nclasses: [{name: a, match: {path_prefixes: [/]}, allow_origins: ['*']}]\\n\"\n",
			1, []string{"quoted.yaml:6:16: classes[0].allow_origins[0]"}},
		{"no policy key", head + "  README: hello\n", 1, []string{"no ConfigMap in the manifest has a data key"}},
		{"not YAML a manifest reader accepts: the policy parser reports", "version: 1\nclasses: [\n", 1, []string{"error:"}},
		{"another kind only: read as a policy", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n", 1, []string{"refused"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.Fields(tc.name)[0] + "-line.yaml"
			if strings.HasPrefix(tc.name, "quoted") {
				name = "quoted.yaml"
			}
			code, out, errs := runCLI("validate", write(name, tc.body))
			checkCLI(t, code, out, errs, tc.code, tc.contains, nil)
		})
	}
}

// FuzzConfigMapPolicies: any input is either taken for a policy file, or
// yields policies or an error; never a panic, and every position maps to a
// line of the input.
func FuzzConfigMapPolicies(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p\ndata:\n  policy.yaml: |\n    version: 1\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\ndata:\n  a.yml: \"x\"\n---\nkind: ConfigMap\n"))
	f.Add([]byte("version: 1\nclasses: []\n"))
	f.Add([]byte("kind: ConfigMap\napiVersion: v1\ndata:\n  p.yaml: |2\n   x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		eps, _, err := configMapPolicies(data)
		if err != nil {
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, ep := range eps {
			_, _, _ = ep.parse("fuzz.yaml")
			if ep.line < 1 || ep.line > lines {
				t.Fatalf("value line %d outside the input's %d lines", ep.line, lines)
			}
		}
	})
}
