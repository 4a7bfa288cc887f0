package deployconfig

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// TestMain removes the binary built for the validate tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
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
