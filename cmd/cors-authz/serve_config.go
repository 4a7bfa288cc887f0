package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/cors-authz/cors-authz/internal/reload"
	"github.com/cors-authz/cors-authz/pkg/check"
)

// envPrefix prefixes the environment variable of every serve flag:
// --grpc-addr is also CORS_AUTHZ_GRPC_ADDR. A flag given on the command line
// wins over its variable.
const envPrefix = "CORS_AUTHZ_"

// serveConfig is the serve command's configuration, from flags and the
// environment.
type serveConfig struct {
	configFile string // "" = the embedded example policy

	shadowConfig  string  // "" = no shadow policy
	shadowLogRate float64 // disagreements logged per second at most; 0 = none

	refusalLogRate float64 // refused cross-origin requests logged per second at most; 0 = none

	grpcAddr       string // host:port, or unix:///path
	adminAddr      string // host:port; "" disables the admin server
	adminUI        bool   // the admin HTML page (/ and /explain?format=html)
	grpcReflection bool

	tlsCert, tlsKey string
	tlsClientCA     string // set: mTLS, clients must present a certificate it signed

	cacheSize int

	logLevel  slog.Level
	logFormat string // json | text

	reloadDebounce  time.Duration
	reloadPoll      time.Duration
	drainDelay      time.Duration
	shutdownTimeout time.Duration
}

// envName is the environment variable for a flag.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseServeConfig reads args, then the environment (through lookup) for
// every flag args did not set. A usage error is returned as is; -h returns
// flag.ErrHelp after printing the usage to stderr.
func parseServeConfig(args []string, lookup func(string) (string, bool), stderr io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by the caller
	fs.StringVar(&c.configFile, "config", "", "policy `file` (YAML, version 1), or a policy directory (policy.yaml plus team fragments, docs/policy.md), live-reloaded; default: the embedded example policy")
	fs.StringVar(&c.shadowConfig, "shadow-config", "", "shadow policy `file` or directory: decided on every Check next to --config and never enforced; disagreements are counted and logged; live-reloaded")
	fs.Float64Var(&c.shadowLogRate, "shadow-log-rate", 1, "log at most this many shadow disagreements per `second` (all are counted); 0 logs none")
	fs.Float64Var(&c.refusalLogRate, "refusal-log-rate", 1, "log at most this many refused cross-origin requests (class, origin, reason) per `second` at info level; 0 logs none")
	fs.StringVar(&c.grpcAddr, "grpc-addr", ":9001", "gRPC listen `address`: host:port, or unix:///path for a Unix socket")
	fs.StringVar(&c.adminAddr, "admin-addr", ":9002", "admin HTTP listen `address` (/, /metrics, /healthz, /readyz, /policy, /shadow, /explain); empty disables it")
	fs.BoolVar(&c.adminUI, "admin-ui", true, "serve the read-only admin HTML page on the admin port (/); false leaves only the JSON and text endpoints")
	fs.BoolVar(&c.grpcReflection, "grpc-reflection", false, "serve gRPC server reflection (for grpcurl without .proto files)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate `file` for the gRPC listener (with --tls-key); reloaded when it changes")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key `file` for --tls-cert")
	fs.StringVar(&c.tlsClientCA, "tls-client-ca", "", "PEM CA bundle `file`: require and verify client certificates (mTLS)")
	fs.IntVar(&c.cacheSize, "cache-size", check.DefaultCacheSize, "verdict cache entries per policy generation; 0 disables the cache")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "log `level`: debug (one line per decision), info, warn or error")
	c.logFormat = "json"
	fs.Var(enumFlag{&c.logFormat, []string{"json", "text"}}, "log-format", "log `format`: json or text")
	fs.DurationVar(&c.reloadDebounce, "reload-debounce", reload.DefaultDebounce, "quiet `time` after a policy file event before it is read")
	fs.DurationVar(&c.reloadPoll, "reload-poll", 0, "also re-read the policy file every `period` (for filesystems without inotify); 0 disables")
	fs.DurationVar(&c.drainDelay, "drain-delay", 0, "on shutdown, `time` to keep serving after health turns NOT_SERVING, so load balancers notice")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 10*time.Second, "on shutdown, longest `time` in-flight Checks may take to finish before connections are closed")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintf(stderr, "usage: cors-authz serve [flags]\n\nEvery flag can also be set with the environment variable %s<FLAG_NAME> (e.g. --grpc-addr: %s); a flag on the command line wins.\n\n", envPrefix, envName("grpc-addr"))
			fs.PrintDefaults()
		}
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (serve takes only flags; the policy file is --config FILE)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil {
			return
		}
		name := envName(f.Name)
		v, ok := lookup(name)
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			envErr = fmt.Errorf("invalid value %q for environment variable %s: %v", v, name, err)
		}
	})
	if envErr != nil {
		return c, envErr
	}
	return c, c.validate()
}

// validate checks what single flags cannot: ranges and combinations.
func (c *serveConfig) validate() error {
	switch {
	case c.grpcAddr == "":
		return errors.New("--grpc-addr must not be empty")
	case !(c.shadowLogRate >= 0) || math.IsInf(c.shadowLogRate, 1):
		return fmt.Errorf("--shadow-log-rate must be 0 (off) or a positive number, not %v", c.shadowLogRate)
	case !(c.refusalLogRate >= 0) || math.IsInf(c.refusalLogRate, 1):
		return fmt.Errorf("--refusal-log-rate must be 0 (off) or a positive number, not %v", c.refusalLogRate)
	case c.cacheSize < 0:
		return fmt.Errorf("--cache-size must be 0 or more, not %d", c.cacheSize)
	case c.reloadDebounce <= 0:
		return fmt.Errorf("--reload-debounce must be positive, not %v", c.reloadDebounce)
	case c.reloadPoll < 0:
		return fmt.Errorf("--reload-poll must be 0 (off) or positive, not %v", c.reloadPoll)
	case c.drainDelay < 0:
		return fmt.Errorf("--drain-delay must be 0 or positive, not %v", c.drainDelay)
	case c.shutdownTimeout <= 0:
		return fmt.Errorf("--shutdown-timeout must be positive, not %v", c.shutdownTimeout)
	case (c.tlsCert == "") != (c.tlsKey == ""):
		return errors.New("--tls-cert and --tls-key must be given together")
	case c.tlsClientCA != "" && c.tlsCert == "":
		return errors.New("--tls-client-ca needs --tls-cert and --tls-key (mTLS is TLS with client certificates)")
	case c.configFile == "" && c.reloadPoll > 0:
		return errors.New("--reload-poll needs --config (the embedded policy never changes)")
	}
	return nil
}

// enumFlag is a string flag restricted to a set of values.
type enumFlag struct {
	p      *string
	values []string
}

func (e enumFlag) String() string {
	if e.p == nil {
		return ""
	}
	return *e.p
}

func (e enumFlag) Set(v string) error {
	for _, ok := range e.values {
		if v == ok {
			*e.p = v
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", strings.Join(e.values, ", "))
}

// newLogger returns the process logger. Logs go to stderr (stdout stays
// empty): one record per line, JSON or logfmt-like text.
func newLogger(w io.Writer, c serveConfig) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.logLevel}
	if c.logFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
