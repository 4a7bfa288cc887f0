package harness

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
)

// LookProgram finds an executable: the path in the environment variable
// env when it is set, else the first of names found on PATH. The error is
// exec.LookPath's for names[0].
func LookProgram(env string, names ...string) (string, error) {
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	var first error
	for _, name := range names {
		p, err := exec.LookPath(name)
		if err == nil {
			return p, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = exec.ErrNotFound
	}
	return "", first
}

// chromiumNames are the browser's names on PATH: the Debian package's
// binary first, then other common names.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Chromium starts a headless Chromium for the test and returns the context
// of its first tab; further tabs are chromedp.NewContext of it. The browser
// is found through $CHROMIUM, then on PATH. When there is none the test is
// skipped, except in CI (CI=true), where a missing browser is a failure.
//
// Every run gets a fresh profile directory and the same flags: --headless
// --no-sandbox --disable-gpu --disable-quic --no-first-run
// --disable-background-networking --disable-component-update --disable-sync.
// hostResolverRules, when not empty, is passed as --host-resolver-rules
// (e.g. "MAP *.test 127.0.0.1"); extra options come last.
//
// The browser lives as long as ctx and is closed by a t.Cleanup, so ctx
// should be cancelled by a cleanup registered before this call (not by a
// defer), letting the browser close gracefully first.
func Chromium(t testing.TB, ctx context.Context, hostResolverRules string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path, err := LookProgram("CHROMIUM", chromiumNames...)
	if err != nil {
		msg := "chromium not found (install it with: apt-get update && apt-get install -y chromium; or set CHROMIUM=/path)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + ": the browser tests are required in CI")
		}
		t.Skip(msg)
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	if hostResolverRules != "" {
		opts = append(opts, chromedp.Flag("host-resolver-rules", hostResolverRules))
	}
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return browser
}
