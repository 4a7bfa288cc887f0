package envoymodel

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestFromBootstrapYAMLShipped reads the shipped deploy/envoy.yaml, so the
// model used by the browser tests is configured exactly as users deploy.
func TestFromBootstrapYAMLShipped(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := FromBootstrapYAML(data, "http://127.0.0.1:8000", "127.0.0.1:9001")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path == nil || !cfg.Path.NormalizePath || !cfg.Path.MergeSlashes {
		t.Errorf("path options %+v: want normalize_path and merge_slashes", cfg.Path)
	}
	if cfg.Timeout <= 0 || cfg.Timeout > time.Second {
		t.Errorf("timeout %v: want a short ext_authz timeout", cfg.Timeout)
	}
	classes := map[string]bool{}
	for _, r := range cfg.Routes {
		if r.ContextExtensions["cors_class"] == "" && !r.DisableExtAuthz {
			t.Errorf("route %+v names no cors_class", r)
		}
		classes[r.ContextExtensions["cors_class"]] = true
		strip := strings.Join(r.ResponseHeadersToRemove, ",")
		if !strings.Contains(strip, "access-control-allow-origin") || !strings.Contains(strip, "access-control-allow-credentials") {
			t.Errorf("route %+v does not strip the application's ACAO/ACAC", r)
		}
	}
	if !classes["public-api"] || !classes["internal"] {
		t.Errorf("classes %v: want public-api and internal", classes)
	}
	// The access log prints cors-authz's decision (dynamic metadata).
	for _, key := range []string{"class", "kind", "reason", "policy_sha256", "policy_generation"} {
		if op := "%DYNAMIC_METADATA(envoy.filters.http.ext_authz:cors_authz:" + key + ")%"; !strings.Contains(cfg.AccessLogFormat, op) {
			t.Errorf("the access log format lacks %s:\n%s", op, cfg.AccessLogFormat)
		}
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("the shipped file does not make a valid model config: %v", err)
	}
	_ = p.Close()
}

func TestFromBootstrapYAML(t *testing.T) {
	const head = `
static_resources:
  listeners:
  - name: l
    address: {socket_address: {address: 127.0.0.1, port_value: 1}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: s
          path_with_escaped_slashes_action: REJECT_REQUEST
          route_config:
            virtual_hosts:
            - name: v
              domains: ["*"]
              routes:
`
	const tail = `
          http_filters:
          - name: envoy.filters.http.ext_authz
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              grpc_service: {envoy_grpc: {cluster_name: a}}
              failure_mode_allow: false
              status_on_error: {code: ServiceUnavailable}
              encode_raw_headers: true
              allowed_headers: {patterns: [{exact: origin}]}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
`
	const okRoutes = `
              - match: {path: /exact}
                route: {cluster: app}
                response_headers_to_remove: [access-control-allow-origin]
              - match: {prefix: /health}
                route: {cluster: app}
                typed_per_filter_config:
                  envoy.filters.http.ext_authz:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute
                    disabled: true
              - match: {prefix: /}
                route: {cluster: app}
                typed_per_filter_config:
                  envoy.filters.http.ext_authz:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute
                    check_settings: {context_extensions: {cors_class: internal}}`

	t.Run("settings", func(t *testing.T) {
		cfg, err := FromBootstrapYAML([]byte(head+okRoutes+tail), "http://u", "t")
		if err != nil {
			t.Fatal(err)
		}
		want := []Route{
			{Path: "/exact", ResponseHeadersToRemove: []string{"access-control-allow-origin"}},
			{Prefix: "/health", DisableExtAuthz: true},
			{Prefix: "/", ContextExtensions: map[string]string{"cors_class": "internal"}},
		}
		if !reflect.DeepEqual(cfg.Routes, want) {
			t.Errorf("routes = %+v, want %+v", cfg.Routes, want)
		}
		if cfg.FailureModeAllow || cfg.StatusOnError != 503 || !cfg.EncodeRawHeaders ||
			!reflect.DeepEqual(cfg.AllowedHeaders, []string{"origin"}) || cfg.Timeout != 200*time.Millisecond {
			t.Errorf("ext_authz settings = %+v", cfg)
		}
		if cfg.Path.EscapedSlashes != RejectRequest || cfg.Path.NormalizePath {
			t.Errorf("path options = %+v", *cfg.Path)
		}
	})
	refused := []struct{ name, routes string }{
		{"regex route", `
              - match: {safe_regex: {regex: "/a.*"}}
                route: {cluster: app}`},
		{"header match", `
              - match: {prefix: /, headers: [{name: x, present_match: true}]}
                route: {cluster: app}`},
		{"route response_headers_to_add", `
              - match: {prefix: /}
                route: {cluster: app}
                response_headers_to_add: [{header: {key: a, value: b}}]`},
	}
	for _, tt := range refused {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			if _, err := FromBootstrapYAML([]byte(head+tt.routes+tail), "http://u", "t"); err == nil {
				t.Error("accepted a setting the model cannot honour")
			}
		})
	}
	logHead := strings.Replace(head, "          stat_prefix: s\n", "          stat_prefix: s\n%s", 1)
	accessLogs := []struct {
		name, yaml, format string // format "": refused
		err                string // for a refusal: a substring of the error
	}{
		{"text_format_source", `
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: /dev/stdout
              log_format: {text_format_source: {inline_string: "%RESPONSE_CODE%\n"}}
`, "%RESPONSE_CODE%\n", ""},
		{"deprecated text_format", `
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: /dev/stdout
              log_format: {text_format: "%PROTOCOL%"}
`, "", "text_format_source.inline_string"},
		{"json format", `
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: /dev/stdout
              log_format: {json_format: {code: "%RESPONSE_CODE%"}}
`, "", "text_format_source.inline_string"},
		{"unmodelled operator", `
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: /dev/stdout
              log_format: {text_format_source: {inline_string: "%UPSTREAM_HOST%"}}
`, "", "%UPSTREAM_HOST% is not modelled"},
		{"filter", `
          access_log:
          - name: envoy.access_loggers.file
            filter: {status_code_filter: {comparison: {op: GE, value: {default_value: 400, runtime_key: k}}}}
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: /dev/stdout
              log_format: {text_format_source: {inline_string: "%PROTOCOL%"}}
`, "", "filters are not modelled"},
	}
	for _, tt := range accessLogs {
		t.Run("access log "+tt.name, func(t *testing.T) {
			cfg, err := FromBootstrapYAML([]byte(fmt.Sprintf(logHead, strings.TrimPrefix(tt.yaml, "\n"))+okRoutes+tail), "http://u", "t")
			switch {
			case tt.format == "" && err == nil:
				t.Errorf("accepted an access log the model cannot honour: %q", cfg.AccessLogFormat)
			case tt.format == "" && !strings.Contains(err.Error(), tt.err):
				t.Errorf("refused with %v, want an error containing %q", err, tt.err)
			case tt.format != "" && err != nil:
				t.Error(err)
			case tt.format != "" && cfg.AccessLogFormat != tt.format:
				t.Errorf("format %q, want %q", cfg.AccessLogFormat, tt.format)
			}
		})
	}
	t.Run("refuses a file without ext_authz", func(t *testing.T) {
		if _, err := FromBootstrapYAML([]byte(head+okRoutes+"\n          http_filters: []\n"), "http://u", "t"); err == nil {
			t.Error("accepted a bootstrap without the ext_authz filter")
		}
	})
}
