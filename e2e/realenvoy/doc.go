// Package realenvoy runs the end-to-end CORS scenarios at the HTTP level
// (a Go client sending the Origin and preflight headers a browser would)
// against the real cors-authz binary behind a proxy:
//
//   - TestRealEnvoy: a real `envoy -c` on a copy of deploy/envoy.yaml with
//     its ports rewritten to free loopback ports, when an envoy binary is on
//     PATH (or in $ENVOY); otherwise it skips and says why.
//   - TestEnvoyModel: the same scenarios against e2e/envoymodel configured
//     like deploy/envoy.yaml, so the scenario code itself runs everywhere.
package realenvoy
