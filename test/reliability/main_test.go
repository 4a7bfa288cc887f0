//go:build linux

// Package reliability tests the real cors-authz process, over loopback,
// under load, faults and hostile input: live reloads and refused reloads
// under load, graceful shutdown (SIGTERM) and restart (SIGKILL), sustained
// load (make soak runs it for 5 minutes), hostile requests, and cache
// pollution. TestMain builds the binary once (with -race when the tests run
// with it) and every test starts it with `serve` on 127.0.0.1:0.
//
// Linux only: the tests read /proc and rely on inotify and Pdeathsig.
package reliability

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// binPath is the cors-authz binary under test.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cors-authz-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "cors-authz")
	if err := buildBinary(binPath); err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
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
