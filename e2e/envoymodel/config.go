package envoymodel

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// DefaultTimeout is the ext_authz call timeout when Config.Timeout is 0.
const DefaultTimeout = 250 * time.Millisecond

// Route is one entry of the route table: Envoy's route with a prefix match,
// its ExtAuthzPerRoute settings and its response_headers_to_remove.
type Route struct {
	// Prefix must match the beginning of the normalised :path (query
	// included, as Envoy's prefix match does).
	Prefix string
	// Path, when set instead of Prefix, must equal the normalised :path
	// without its query (Envoy's path match).
	Path string
	// ContextExtensions is check_settings.context_extensions: copied into
	// every CheckRequest of the route (e.g. {"cors_class": "public-api"}).
	ContextExtensions map[string]string
	// ResponseHeadersToRemove is the route's response_headers_to_remove,
	// applied to upstream responses and local replies alike.
	ResponseHeadersToRemove []string
	// DisableExtAuthz is ExtAuthzPerRoute.disabled: no check on this route.
	DisableExtAuthz bool
}

// Config is the proxy's configuration: one listener, one virtual host, one
// upstream cluster and one ext_authz filter.
type Config struct {
	// Addr is the listen address used by Start ("127.0.0.1:0" when empty).
	Addr string
	// Upstream is the base URL of the application, e.g. http://127.0.0.1:8000.
	Upstream string
	// AuthzTarget is the gRPC target of the ext_authz service
	// (e.g. 127.0.0.1:9001).
	AuthzTarget string
	// Routes are matched in order; the first whose prefix matches wins.
	Routes []Route

	// Path is the HCM's path handling; nil means DefaultPathOptions().
	Path *PathOptions

	// FailureModeAllow forwards the request when the check errs.
	FailureModeAllow bool
	// FailureModeAllowHeaderAdd adds x-envoy-auth-failure-mode-allowed:
	// true to requests forwarded because of FailureModeAllow.
	FailureModeAllowHeaderAdd bool
	// StatusOnError is the local reply's status when the check errs and
	// FailureModeAllow is false: 0 means 403, and so does anything outside
	// 100..511 (FilterConfig::toErrorCode).
	StatusOnError int
	// Timeout bounds each Check call (grpc_service.timeout); 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// AllowedHeaders, when non-nil, limits the request headers sent in the
	// CheckRequest to these names (exact, case-insensitive), pseudo-headers
	// included only when listed. nil sends every header.
	AllowedHeaders []string
	// EncodeRawHeaders sends header_map (one entry per header line,
	// raw_value, not joined) instead of the headers map.
	EncodeRawHeaders bool

	// Filters are HTTP filters that may answer with a local reply (401,
	// 403, 429), in chain order, each before or after ext_authz.
	Filters []LocalReplyFilter

	// OnCheck, when set, is called after each Check call.
	OnCheck func(CheckEvent)

	// AccessLogFormat is the HCM file access logger's text format
	// (log_format.text_format_source.inline_string; see accesslog.go for
	// the operators modelled). Empty: no access log.
	AccessLogFormat string
	// AccessLog receives one formatted line per downstream request when
	// AccessLogFormat is set (Envoy writes them to the logger's path); nil
	// discards them.
	AccessLog io.Writer
}

// CheckEvent describes one ext_authz call and what the proxy did with it.
type CheckEvent struct {
	Request  *authv3.CheckRequest
	Response *authv3.CheckResponse // nil when Err != nil
	Err      error                 // transport error, deadline, or the service's error
	Outcome  Outcome
	// Status is the status of the proxy's local reply (Denied, Error,
	// ErrorResponse), 0 when the request was forwarded.
	Status int
}

// Outcome is how the ext_authz filter ended a check.
type Outcome uint8

const (
	OutcomeOK          Outcome = iota // forwarded with mutations
	OutcomeDenied                     // local reply from denied_response
	OutcomeError                      // local reply with status_on_error (or error_response)
	OutcomeFailureMode                // error, forwarded because of failure_mode_allow
)

func (o Outcome) String() string {
	switch o {
	case OutcomeOK:
		return "ok"
	case OutcomeDenied:
		return "denied"
	case OutcomeError:
		return "error"
	case OutcomeFailureMode:
		return "failure_mode_allowed"
	}
	return "unknown"
}

// compiled is a validated Config with defaults applied.
type compiled struct {
	Config
	upstream *url.URL
	path     PathOptions
	allowed  map[string]bool // nil: all
	logOps   []logOp         // nil: no access log
}

func compile(cfg Config) (*compiled, error) {
	var errs []error
	u, err := url.Parse(cfg.Upstream)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		errs = append(errs, fmt.Errorf("upstream %q: want an http(s) base URL", cfg.Upstream))
	}
	if cfg.AuthzTarget == "" {
		errs = append(errs, errors.New("authz target is empty"))
	}
	for i, f := range cfg.Filters {
		if f.Status < 200 || f.Status > 599 {
			errs = append(errs, fmt.Errorf("filters[%d] (%s): status %d: want 200..599", i, f.Name, f.Status))
		}
	}
	for i, r := range cfg.Routes {
		switch {
		case r.Path != "" && r.Prefix != "":
			errs = append(errs, fmt.Errorf("routes[%d]: set prefix or path, not both", i))
		case r.Path != "" && !strings.HasPrefix(r.Path, "/"):
			errs = append(errs, fmt.Errorf("routes[%d]: path %q must start with /", i, r.Path))
		case r.Path == "" && !strings.HasPrefix(r.Prefix, "/"):
			errs = append(errs, fmt.Errorf("routes[%d]: prefix %q must start with /", i, r.Prefix))
		}
	}
	var ops []logOp
	if cfg.AccessLogFormat != "" {
		var err error
		if ops, err = parseLogFormat(cfg.AccessLogFormat); err != nil {
			errs = append(errs, err)
		}
		if cfg.AccessLog == nil {
			ops = nil // validated, but nowhere to write
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c := &compiled{Config: cfg, upstream: u, path: DefaultPathOptions(), logOps: ops}
	if cfg.Path != nil {
		c.path = *cfg.Path
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.StatusOnError < 100 || c.StatusOnError > 511 {
		c.StatusOnError = 403
	}
	if cfg.AllowedHeaders != nil {
		c.allowed = make(map[string]bool, len(cfg.AllowedHeaders))
		for _, h := range cfg.AllowedHeaders {
			c.allowed[strings.ToLower(h)] = true
		}
	}
	return c, nil
}

// route returns the first route that matches path (query included), or nil.
func (c *compiled) route(path string) *Route {
	bare := path
	if i := strings.IndexByte(bare, '?'); i >= 0 {
		bare = bare[:i]
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.Path != "" {
			if bare == r.Path {
				return r
			}
			continue
		}
		if strings.HasPrefix(path, r.Prefix) {
			return r
		}
	}
	return nil
}
