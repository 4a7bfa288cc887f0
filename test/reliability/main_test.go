//go:build linux

// Package reliability tests the real cors-authz process, over loopback,
// under load, faults and hostile input: live reloads and refused reloads
// under load, graceful shutdown (SIGTERM) and restart (SIGKILL), sustained
// load (make soak runs it for 5 minutes), hostile requests, and cache
// pollution. The binary is built once, on first use (with -race when the
// tests run with it), and every test starts it with `serve` on 127.0.0.1:0.
//
// Linux only: the tests read /proc and rely on inotify and Pdeathsig.
package reliability

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// The cors-authz binary under test, built on first use (so that listing
// the tests, or running only in-process ones, builds nothing).
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cors-authz-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
	binDir = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// binary returns the path of the cors-authz binary, building it once.
func binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		out := filepath.Join(binDir, "cors-authz")
		if binError = buildBinary(out); binError == nil {
			binPath = out
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// buildBinary builds ./cmd/cors-authz into out, with the race detector when
// this test binary has it, so that races in the server under load fail the
// tests too (a race-built binary exits 66 after reporting one).
func buildBinary(out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command is needed to build the binary under test: %w", err)
	}
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/cors-authz/cors-authz/cmd/cors-authz")
	cmd := exec.Command(goTool, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %v: %v\n%s", args, err, b)
	}
	return nil
}
