package checktest

import (
	"net/netip"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
)

// Defaults of the request line Request builds.
const (
	DefaultHost   = "api.example.com"
	DefaultScheme = "https"
)

// Option adjusts the request Request builds.
type Option func(*spec)

// spec is an HTTP request as it reached Envoy.
type spec struct{ envoyauth.HTTPRequest }

// Host sets the request's :authority (default DefaultHost).
func Host(host string) Option { return func(s *spec) { s.Host = host } }

// Scheme sets the request's :scheme (default DefaultScheme).
func Scheme(scheme string) Option { return func(s *spec) { s.Scheme = scheme } }

// WithHeader adds one request header line. Repeating a name adds another
// line: the map encoding joins them with "," as Envoy does, the raw encoding
// keeps them apart.
func WithHeader(name, value string) Option {
	return func(s *spec) { s.Headers = append(s.Headers, [2]string{name, value}) }
}

// Preflight adds Access-Control-Request-Method and, unless acrh is empty,
// Access-Control-Request-Headers. Use it with method "OPTIONS".
func Preflight(acrm, acrh string) Option {
	return func(s *spec) {
		s.Headers = append(s.Headers, [2]string{"access-control-request-method", acrm})
		if acrh != "" {
			s.Headers = append(s.Headers, [2]string{"access-control-request-headers", acrh})
		}
	}
}

// Class sets context_extensions["cors_class"], as an Envoy route's
// ExtAuthzPerRoute.check_settings does.
func Class(name string) Option { return ContextExtension(envoyauth.ClassHintKey, name) }

// ContextExtension sets one context_extensions entry.
func ContextExtension(key, value string) Option {
	return func(s *spec) {
		if s.ContextExtensions == nil {
			s.ContextExtensions = map[string]string{}
		}
		s.ContextExtensions[key] = value
	}
}

// Raw encodes the headers in http.header_map, as Envoy does with
// encode_raw_headers: true (raw bytes, repeated names kept apart), instead
// of the http.headers map.
func Raw() Option { return func(s *spec) { s.Raw = true } }

// PseudoOnly leaves http.method, path, host and scheme empty, so the
// request line is only in the pseudo-headers.
func PseudoOnly() Option { return func(s *spec) { s.PseudoOnly = true } }

// Request returns the CheckRequest Envoy's ext_authz filter sends for an
// HTTP request, built by envoyauth.HTTPRequest: http.method/path/host/scheme
// set, and every header in http.headers with lower-case keys, the
// pseudo-headers :authority, :path, :method and :scheme included, values
// made valid UTF-8 (each invalid byte becomes '!'), repeated names joined
// with ",". With Raw, header_map entries with lower-case names and raw
// bytes. origin "" sends no Origin header. Source and destination peers are
// loopback addresses; user-agent, x-request-id and x-forwarded-proto
// headers precede the options' headers, as Envoy's HCM adds them.
func Request(method, path, origin string, opts ...Option) *authv3.CheckRequest {
	s := spec{envoyauth.HTTPRequest{
		Method: method, Scheme: DefaultScheme, Host: DefaultHost, Path: path,
		ID: "4242", Protocol: "HTTP/1.1",
		Source:      netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 50312),
		Destination: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 8080),
	}}
	if origin != "" {
		s.Headers = append(s.Headers, [2]string{"origin", origin})
	}
	for _, o := range opts {
		o(&s)
	}
	h := s.HTTPRequest
	h.Headers = make([][2]string, 0, 3+len(s.Headers))
	h.Headers = append(h.Headers,
		[2]string{"user-agent", "Mozilla/5.0 (X11; Linux x86_64)"},
		[2]string{"x-request-id", "5f0c6d1e-2b7a-4c39-8e1d-0a9b8c7d6e5f"},
		[2]string{"x-forwarded-proto", h.Scheme},
	)
	for _, kv := range s.Headers {
		h.Headers = append(h.Headers, [2]string{strings.ToLower(kv[0]), kv[1]})
	}
	return h.CheckRequest()
}
