// Package observability holds the operator-facing monitoring assets of
// cors-authz: a Grafana dashboard and a Prometheus Operator PrometheusRule
// with recording rules and alerts. They are plain files, meant to be
// applied as they are (kubectl apply -f prometheus-rules.yaml; import the
// dashboard in Grafana); the package embeds them so that tools can ship
// them, and its test checks every metric they reference against what the
// binary really exports.
package observability

import _ "embed"

// Dashboard is grafana-dashboard.json.
//
//go:embed grafana-dashboard.json
var Dashboard []byte

// Rules is prometheus-rules.yaml.
//
//go:embed prometheus-rules.yaml
var Rules []byte
