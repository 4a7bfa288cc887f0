// Package adminpage holds the real-browser test of the admin page: the
// real cors-authz binary serves a policy and a shadow policy, and headless
// Chromium opens the admin page, submits the "Try a request" form for an
// allowed, a blocked and a hostile origin, and reads the answers from the
// page it got back, as an operator would.
//
// Chromium is found on PATH (Debian package "chromium") or through
// $CHROMIUM. Without it the test skips, except under CI=true, where it
// fails. ADMINPAGE_SCREENSHOT=/path/file.png saves a copy of the overview
// screenshot (docs/admin-page.png was made that way).
package adminpage
