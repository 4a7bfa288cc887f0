package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cors-authz/cors-authz/pkg/check"
)

func TestParseServeConfig(t *testing.T) {
	defaults := serveConfig{
		grpcAddr: ":9001", adminAddr: ":9002", cacheSize: check.DefaultCacheSize,
		logLevel: slog.LevelInfo, logFormat: "json",
		reloadDebounce: 100 * time.Millisecond, shutdownTimeout: 10 * time.Second,
		shadowLogRate: 1, refusalLogRate: 1, adminUI: true,
	}
	with := func(f func(c *serveConfig)) serveConfig { c := defaults; f(&c); return c }
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    serveConfig
		wantErr string
	}{
		{name: "defaults", want: defaults},
		{name: "flags", args: []string{"--config", "p.yaml", "--grpc-addr", "unix:///run/c.sock", "--admin-addr", "", "--cache-size", "0",
			"--log-level", "debug", "--log-format", "text", "--grpc-reflection", "--drain-delay", "5s", "--shutdown-timeout", "3s",
			"--reload-debounce", "1s", "--reload-poll", "30s"},
			want: with(func(c *serveConfig) {
				c.configFile, c.grpcAddr, c.adminAddr, c.cacheSize = "p.yaml", "unix:///run/c.sock", "", 0
				c.logLevel, c.logFormat, c.grpcReflection = slog.LevelDebug, "text", true
				c.drainDelay, c.shutdownTimeout, c.reloadDebounce, c.reloadPoll = 5*time.Second, 3*time.Second, time.Second, 30*time.Second
			})},
		{name: "env", env: map[string]string{"CORS_AUTHZ_CONFIG": "e.yaml", "CORS_AUTHZ_GRPC_ADDR": "127.0.0.1:1", "CORS_AUTHZ_LOG_LEVEL": "warn",
			"CORS_AUTHZ_GRPC_REFLECTION": "true", "CORS_AUTHZ_TLS_CERT": "c.pem", "CORS_AUTHZ_TLS_KEY": "k.pem", "CORS_AUTHZ_TLS_CLIENT_CA": "ca.pem",
			"CORS_AUTHZ_DRAIN_DELAY": "2s", "CORS_AUTHZ_ADMIN_ADDR": ""},
			want: with(func(c *serveConfig) {
				c.configFile, c.grpcAddr, c.logLevel, c.grpcReflection = "e.yaml", "127.0.0.1:1", slog.LevelWarn, true
				c.tlsCert, c.tlsKey, c.tlsClientCA, c.drainDelay, c.adminAddr = "c.pem", "k.pem", "ca.pem", 2*time.Second, ""
			})},
		{name: "flag wins over env", args: []string{"--grpc-addr", "127.0.0.1:2", "--log-format=text"},
			env:  map[string]string{"CORS_AUTHZ_GRPC_ADDR": "127.0.0.1:1", "CORS_AUTHZ_LOG_FORMAT": "bogus", "CORS_AUTHZ_CACHE_SIZE": "7"},
			want: with(func(c *serveConfig) { c.grpcAddr, c.logFormat, c.cacheSize = "127.0.0.1:2", "text", 7 })},
		{name: "refusal log rate", args: []string{"--refusal-log-rate", "0.5"}, want: with(func(c *serveConfig) { c.refusalLogRate = 0.5 })},
		{name: "refusal log off by env", env: map[string]string{"CORS_AUTHZ_REFUSAL_LOG_RATE": "0"}, want: with(func(c *serveConfig) { c.refusalLogRate = 0 })},
		{name: "negative refusal log rate", args: []string{"--refusal-log-rate", "-1"}, wantErr: "--refusal-log-rate"},
		{name: "NaN refusal log rate", env: map[string]string{"CORS_AUTHZ_REFUSAL_LOG_RATE": "NaN"}, wantErr: "--refusal-log-rate"},
		{name: "unrelated env ignored", env: map[string]string{"CORS_AUTHZ_NOPE": "x", "GRPC_ADDR": "x"}, want: defaults},

		{name: "invalid env int", env: map[string]string{"CORS_AUTHZ_CACHE_SIZE": "many"}, wantErr: `invalid value "many" for environment variable CORS_AUTHZ_CACHE_SIZE`},
		{name: "invalid env bool", env: map[string]string{"CORS_AUTHZ_GRPC_REFLECTION": "yes please"}, wantErr: "CORS_AUTHZ_GRPC_REFLECTION"},
		{name: "invalid env duration", env: map[string]string{"CORS_AUTHZ_SHUTDOWN_TIMEOUT": "10"}, wantErr: "CORS_AUTHZ_SHUTDOWN_TIMEOUT"},
		{name: "invalid env format", env: map[string]string{"CORS_AUTHZ_LOG_FORMAT": "xml"}, wantErr: "must be one of json, text"},
		{name: "invalid flag level", args: []string{"--log-level", "loud"}, wantErr: "log-level"},
		{name: "invalid flag format", args: []string{"--log-format", "xml"}, wantErr: "must be one of json, text"},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "not defined: -nope"},
		{name: "positional argument", args: []string{"policy.yaml"}, wantErr: `unexpected argument "policy.yaml"`},
		{name: "negative cache", args: []string{"--cache-size", "-1"}, wantErr: "--cache-size"},
		{name: "zero shutdown timeout", args: []string{"--shutdown-timeout", "0s"}, wantErr: "--shutdown-timeout"},
		{name: "negative drain", args: []string{"--drain-delay", "-1s"}, wantErr: "--drain-delay"},
		{name: "zero debounce", args: []string{"--reload-debounce", "0s"}, wantErr: "--reload-debounce"},
		{name: "poll without config", args: []string{"--reload-poll", "1s"}, wantErr: "--reload-poll needs --config"},
		{name: "empty grpc addr", args: []string{"--grpc-addr", ""}, wantErr: "--grpc-addr"},
		{name: "cert without key", args: []string{"--tls-cert", "c.pem"}, wantErr: "--tls-cert and --tls-key"},
		{name: "key without cert", env: map[string]string{"CORS_AUTHZ_TLS_KEY": "k.pem"}, wantErr: "--tls-cert and --tls-key"},
		{name: "client CA without cert", args: []string{"--tls-client-ca", "ca.pem"}, wantErr: "--tls-client-ca needs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			got, err := parseServeConfig(tt.args, lookup, &bytes.Buffer{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("config =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// Every flag has an environment variable, named after it.
func TestEnvNames(t *testing.T) {
	for flagName, want := range map[string]string{
		"config": "CORS_AUTHZ_CONFIG", "grpc-addr": "CORS_AUTHZ_GRPC_ADDR", "tls-client-ca": "CORS_AUTHZ_TLS_CLIENT_CA",
	} {
		if got := envName(flagName); got != want {
			t.Errorf("envName(%q) = %q, want %q", flagName, got, want)
		}
	}
	var help bytes.Buffer
	_, err := parseServeConfig([]string{"-h"}, func(string) (string, bool) { return "", false }, &help)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: error = %v", err)
	}
	for _, want := range []string{"CORS_AUTHZ_GRPC_ADDR", "-tls-client-ca", "-drain-delay", "-reload-poll"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}

// serve's exit codes: 2 for usage errors, 1 when it cannot start, 0 for
// -h; errors are explained on stderr.
func TestServeExitCodes(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bad := tempPolicy(t, refusedPolicy)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want int
		logs []string
	}{
		{"help", []string{"-h"}, nil, 0, []string{"usage: cors-authz serve"}},
		{"bad flag", []string{"--cache-size", "x"}, nil, 2, []string{"cors-authz serve:", "cache-size"}},
		{"bad env", nil, map[string]string{"CORS_AUTHZ_DRAIN_DELAY": "soon"}, 2, []string{"CORS_AUTHZ_DRAIN_DELAY"}},
		{"refused policy", []string{"--config", bad, "--grpc-addr", "127.0.0.1:0"}, nil, 1,
			[]string{bad + ":5:", bad + ":6:", "policy error", "refused"}},
		{"missing policy", []string{"--config", bad + ".missing", "--grpc-addr", "127.0.0.1:0"}, nil, 1, []string{"no such file"}},
		{"busy port", []string{"--grpc-addr", busy.Addr().String(), "--admin-addr="}, nil, 1, []string{"address already in use"}},
		{"missing certificate", []string{"--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key", "--admin-addr="}, nil, 1, []string{"tls certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a serve that did start would stop at once
			if code := serve(ctx, tt.args, lookup, nil, &stderr); code != tt.want {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.want, stderr.String())
			}
			for _, want := range tt.logs {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
		})
	}
}
