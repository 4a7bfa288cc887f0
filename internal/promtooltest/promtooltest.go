// Package promtooltest runs promtool's rule unit tests (`promtool test
// rules`) against the alerting and recording rules cors-authz ships as a
// PrometheusRule (deploy/observability), for the tests that check those
// rules: their own test file, and the fleet test's scraped samples.
package promtooltest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// timeout bounds one promtool run.
const timeout = 2 * time.Minute

// TestRules writes the rule groups of rules (a PrometheusRule manifest) as
// a plain rules file, rules.yaml, and tests (a promtool test file whose
// rule_files is [rules.yaml]) as name, in a temporary directory, and runs
// `promtool test rules name` there. It returns promtool's output and its
// error; a failure to prepare the files fails the test.
func TestRules(t testing.TB, promtool string, rules []byte, name string, tests []byte) ([]byte, error) {
	t.Helper()
	var doc struct {
		Spec struct {
			Groups []any `yaml:"groups"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(rules, &doc); err != nil {
		t.Fatal(err)
	}
	plain, err := yaml.Marshal(map[string]any{"groups": doc.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for file, data := range map[string][]byte{"rules.yaml": plain, name: tests} {
		if err := os.WriteFile(filepath.Join(dir, file), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "test", "rules", name)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}
