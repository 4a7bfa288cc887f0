//go:build linux

// Package reliability tests the real cors-authz process, over loopback,
// under load, faults and hostile input: live reloads and refused reloads
// under load, graceful shutdown (SIGTERM) and restart (SIGKILL), sustained
// load (make soak runs it for 5 minutes), hostile requests, and cache
// pollution. internal/servetest builds the binary once, on first use (with
// -race when the tests run with it), and every test starts it with `serve`
// on 127.0.0.1:0.
//
// Linux only: the tests read /proc and rely on inotify and Pdeathsig.
package reliability

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/cors-authz/cors-authz/internal/servetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(servetest.Exit))
}
