// Package browser holds the real-browser CORS tests: headless Chromium,
// driven through the DevTools protocol, loads pages of distinct origins and
// calls an application behind the Envoy model and the real cors-authz
// binary with fetch(). Each scenario is judged by what the page observed.
//
// Chromium is found on PATH (Debian package "chromium") or through
// $CHROMIUM. Without it the tests skip, except under CI=true, where they
// fail.
package browser
