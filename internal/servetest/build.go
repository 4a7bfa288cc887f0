// Package servetest starts the real cors-authz binary, `cors-authz serve`,
// as tests and the benchmark runner need it: built once per process (with
// the race detector when the caller has it), on loopback ports, with its
// JSON log collected, waited for until it listens (and, on request, until
// /readyz answers 200), and stopped with bounded waits.
//
// Tests call Run (or RunN for replicas sharing one policy file), which
// registers the cleanup with the test; commands call Start and stop the
// server themselves. Proc is the process part on its own, for any other
// server a caller starts beside it (the benchmark's no-op ceiling).
package servetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/cors-authz/cors-authz/internal/race"
)

// buildTimeout bounds one `go build` of the binary (a cold race build on a
// busy 2-core machine stays well under it).
const buildTimeout = 10 * time.Minute

// ModuleRoot is the directory of the cors-authz module, found from this
// source file's location.
func ModuleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		// -trimpath leaves module-relative file names.
		return "", errors.New("servetest: cannot locate the cors-authz module (built with -trimpath?)")
	}
	// file is <root>/internal/servetest/build.go
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..")), nil
}

// Build builds ./cmd/cors-authz of the module into dir/cors-authz with the
// extra go build flags (e.g. "-race", "-trimpath") and returns its path.
func Build(ctx context.Context, dir string, flags ...string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("servetest: the go command is needed to build cors-authz: %w", err)
	}
	bin := filepath.Join(dir, "cors-authz")
	args := append(append([]string{"build"}, flags...), "-o", bin, "./cmd/cors-authz")
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("servetest: go %v: %v\n%s", args, err, out)
	}
	return bin, nil
}

// The binary Binary built, once per process.
var built struct {
	mu   sync.Mutex
	done bool
	dir  string
	path string
	err  error
}

// Binary returns the cors-authz binary of this process, building it on
// first use into a temporary directory, with -race when this binary has
// the race detector (so that a data race in the server under test fails
// the test too: the cleanup of Run looks for its report in the log).
// TestMain removes it with RemoveBinary once the tests are done.
func Binary() (string, error) {
	built.mu.Lock()
	defer built.mu.Unlock()
	if built.done {
		return built.path, built.err
	}
	built.done = true
	built.dir, built.err = os.MkdirTemp("", "cors-authz-servetest-")
	if built.err != nil {
		return "", built.err
	}
	var flags []string
	if race.Enabled {
		flags = append(flags, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	built.path, built.err = Build(ctx, built.dir, flags...)
	return built.path, built.err
}

// RemoveBinary deletes what Binary built, if anything. A package whose
// tests call Run has a TestMain that calls it after the tests, e.g.
//
//	goleak.VerifyTestMain(m, goleak.Cleanup(servetest.Exit))
func RemoveBinary() {
	built.mu.Lock()
	defer built.mu.Unlock()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// Exit removes the binary (RemoveBinary) and exits with code: the end of
// a TestMain.
func Exit(code int) {
	RemoveBinary()
	os.Exit(code)
}
