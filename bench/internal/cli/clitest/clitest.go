// Package clitest runs a serving bench command (noop, profserve) in
// process for its tests: started on a loopback port, its address read from
// the "listening ADDR" line it prints, stopped as SIGTERM stops it.
package clitest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cors-authz/cors-authz/bench/internal/cli"
	"github.com/cors-authz/cors-authz/internal/logtest"
)

// Running is a command started by Start.
type Running struct {
	Addr           string         // from its "listening ADDR" line
	Stdout, Stderr *logtest.Lines // what it printed so far

	cancel context.CancelFunc
	code   chan int
	stop   sync.Once
	exit   int
}

// Start runs run with args and waits (up to 2 s) for its listening line;
// if none comes, it stops the command and fails the test with its stderr.
// The command is stopped when the test ends, if it has not been.
func Start(t testing.TB, run cli.Run, args ...string) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{Stdout: &logtest.Lines{}, Stderr: &logtest.Lines{}, cancel: cancel, code: make(chan int, 1)}
	go func() { r.code <- run(ctx, args, r.Stdout, r.Stderr) }()
	t.Cleanup(func() { r.Stop() })
	for range 200 { // up to 2 s
		if a, ok := strings.CutPrefix(strings.TrimSpace(r.Stdout.String()), "listening "); ok {
			r.Addr = a
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := r.Stop()
	t.Fatalf("no listening line (exit %d); stderr %q", c, r.Stderr.String())
	return nil
}

// Stop cancels the command's context, as SIGTERM does, and returns its
// exit code (the same on every call).
func (r *Running) Stop() int {
	r.stop.Do(func() {
		r.cancel()
		r.exit = <-r.code
	})
	return r.exit
}
