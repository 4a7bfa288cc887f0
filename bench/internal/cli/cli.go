// Package cli is the main function the bench commands (noop, profserve,
// loadgen, benchreport) share: each is a run function over its arguments
// and output streams, so that its tests can call it in process.
package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Run is a command: it parses args, writes to stdout and stderr, stops
// when ctx is cancelled, and returns the exit code (2 for bad usage).
type Run func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// Main runs run with the process's arguments and standard streams, its
// context cancelled on SIGINT or SIGTERM, and exits with its code.
func Main(run Run) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
