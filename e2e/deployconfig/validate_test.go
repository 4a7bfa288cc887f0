package deployconfig

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
	// extraCleanup are more temporary directories (the helm binary's).
	extraCleanup []string
)

// TestMain removes the binaries built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	for _, d := range extraCleanup {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// corsAuthzBinary builds cmd/cors-authz once per test run.
func corsAuthzBinary(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "deployconfig-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "cors-authz")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/cors-authz")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = errors.New("go build ./cmd/cors-authz: " + err.Error() + "\n" + string(out))
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// runValidate runs `cors-authz validate FILE` and returns its exit code and output.
func runValidate(t *testing.T, policyYAML []byte) (int, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(file, policyYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	return runValidateFile(t, file)
}

// runValidateFile runs `cors-authz validate FILE` on an existing file.
func runValidateFile(t *testing.T, file string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(corsAuthzBinary(t), "validate", file)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	}
	t.Fatalf("run validate: %v", err)
	return -1, ""
}

// TestConfigMapPolicyPassesValidate runs the shipped binary's validate on
// the ConfigMap's policy, and on broken copies of it to show the check bites.
func TestConfigMapPolicyPassesValidate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/cors-authz; skipped with -short")
	}
	good := configMapPolicyYAML(t)
	tests := []struct {
		name     string
		old, new string
		wantCode int
		wantOut  string
	}{
		{name: "as shipped", wantCode: 0, wantOut: "ok"},
		{name: "wildcard origin", old: "- https://partner.example.org", new: `- "*"`, wantCode: 1, wantOut: "error"},
		{name: "unknown key", old: "allow_credentials: true", new: "allow_credential: true", wantCode: 1, wantOut: "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := good
			if tc.old != "" {
				if !bytes.Contains(good, []byte(tc.old)) {
					t.Fatalf("the ConfigMap policy no longer contains %q; update this test", tc.old)
				}
				in = bytes.Replace(good, []byte(tc.old), []byte(tc.new), 1)
			}
			code, out := runValidate(t, in)
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) {
				t.Errorf("validate exit %d, output:\n%s\nwant exit %d and %q", code, out, tc.wantCode, tc.wantOut)
			}
		})
	}
}

// TestShippedPolicyFileValidatesAsIs runs validate on deploy/k8s/policy.yaml
// itself, the file kustomize applies.
func TestShippedPolicyFileValidatesAsIs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/cors-authz; skipped with -short")
	}
	code, out := runValidateFile(t, filepath.Join(repoRoot(t), filepath.FromSlash(configMapFile)))
	if code != 0 || !strings.Contains(out, "ok, 2 class(es)") {
		t.Errorf("validate %s: exit %d\n%s", configMapFile, code, out)
	}
}

// TestValidateConfigMapManifest runs validate on ConfigMap manifests holding
// the shipped policy, good and broken, and checks that errors point at the
// manifest's lines.
func TestValidateConfigMapManifest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/cors-authz; skipped with -short")
	}
	pol := string(repoFile(t, configMapFile))
	indent := func(s, pad string) string {
		var b strings.Builder
		for line := range strings.SplitSeq(strings.TrimRight(s, "\n"), "\n") {
			if line != "" {
				b.WriteString(pad)
			}
			b.WriteString(line)
			b.WriteByte('\n')
		}
		return b.String()
	}
	const head = "# applied with kubectl\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cors-authz-policy\ndata:\n"
	deploymentDoc := string(repoFile(t, "deploy/k8s/deployment.yaml"))
	broken := strings.Replace(pol, "- https://partner.example.org", `- "*"`, 1)
	if broken == pol {
		t.Fatal("the policy no longer lists https://partner.example.org; update this test")
	}
	// lineOf is the 1-based line of the first line containing s.
	lineOf := func(doc, s string) int {
		for i, l := range strings.Split(doc, "\n") {
			if strings.Contains(l, s) {
				return i + 1
			}
		}
		t.Fatalf("%q not in the manifest", s)
		return 0
	}
	tests := []struct {
		name     string
		manifest string
		wantCode int
		wantOut  func(manifest string) []string
	}{
		{"literal block", head + "  policy.yaml: |\n" + indent(pol, "    "), 0, func(string) []string {
			return []string{"(ConfigMap cors-authz-policy, key policy.yaml): ok, 2 class(es)"}
		}},
		{"after a Deployment, strip chomping, deeper indent", deploymentDoc + "---\n" + head + "  policy.yaml: |-\n" + indent(pol, "      "), 0, func(string) []string {
			return []string{"key policy.yaml): ok"}
		}},
		{"two policy keys", head + "  policy.yaml: |\n" + indent(pol, "    ") + "  shadow.yaml: |\n" + indent(pol, "    ") + "  README: not a policy\n", 0, func(string) []string {
			return []string{"key policy.yaml): ok", "key shadow.yaml): ok"}
		}},
		{"broken, literal block: manifest line and column", head + "  policy.yaml: |\n" + indent(broken, "    "), 1, func(m string) []string {
			line := lineOf(m, `- "*"`)
			col := strings.Index(strings.Split(m, "\n")[line-1], `"*"`) + 1
			return []string{fmt.Sprintf(".yaml:%d:%d: classes[0].allow_origins[0]: \"*\"", line, col), "refused, 1 error(s)"}
		}},
		{"broken, quoted value: the value's line", head + "  policy.yaml: " + strconv.Quote(broken) + "\n", 1, func(m string) []string {
			return []string{fmt.Sprintf(".yaml:%d:16: classes[0].allow_origins[0]", lineOf(m, "policy.yaml:")), "refused"}
		}},
		{"no policy key", head + "  other: x\n", 1, func(string) []string {
			return []string{"no ConfigMap in the manifest has a data key named *.yaml"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "configmap.yaml")
			if err := os.WriteFile(file, []byte(tc.manifest), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out := runValidateFile(t, file)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\n%s", code, tc.wantCode, out)
			}
			for _, w := range tc.wantOut(tc.manifest) {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
