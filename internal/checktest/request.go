package checktest

import (
	"strings"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// ClassHintKey is the context_extensions key that names a request's class
// (pkg/check.ClassHintKey; repeated here so tests of pkg/check can use this
// package without an import cycle).
const ClassHintKey = "cors_class"

// Defaults of the request line Request builds.
const (
	DefaultHost   = "api.example.com"
	DefaultScheme = "https"
)

// Option adjusts the request Request builds.
type Option func(*spec)

// spec is an HTTP request as it reached Envoy.
type spec struct {
	method, scheme, host, path string
	headers                    [][2]string // as sent, in order; names may repeat
	ext                        map[string]string
	raw                        bool // header_map (encode_raw_headers) instead of headers
	pseudoOnly                 bool // leave the http.method/path/host/scheme fields empty
}

// Host sets the request's :authority (default DefaultHost).
func Host(host string) Option { return func(s *spec) { s.host = host } }

// Scheme sets the request's :scheme (default DefaultScheme).
func Scheme(scheme string) Option { return func(s *spec) { s.scheme = scheme } }

// WithHeader adds one request header line. Repeating a name adds another
// line: the map encoding joins them with "," as Envoy does, the raw encoding
// keeps them apart.
func WithHeader(name, value string) Option {
	return func(s *spec) { s.headers = append(s.headers, [2]string{name, value}) }
}

// Preflight adds Access-Control-Request-Method and, unless acrh is empty,
// Access-Control-Request-Headers. Use it with method "OPTIONS".
func Preflight(acrm, acrh string) Option {
	return func(s *spec) {
		s.headers = append(s.headers, [2]string{"access-control-request-method", acrm})
		if acrh != "" {
			s.headers = append(s.headers, [2]string{"access-control-request-headers", acrh})
		}
	}
}

// Class sets context_extensions["cors_class"], as an Envoy route's
// ExtAuthzPerRoute.check_settings does.
func Class(name string) Option { return ContextExtension(ClassHintKey, name) }

// ContextExtension sets one context_extensions entry.
func ContextExtension(key, value string) Option {
	return func(s *spec) {
		if s.ext == nil {
			s.ext = map[string]string{}
		}
		s.ext[key] = value
	}
}

// Raw encodes the headers in http.header_map, as Envoy does with
// encode_raw_headers: true (raw bytes, repeated names kept apart), instead
// of the http.headers map.
func Raw() Option { return func(s *spec) { s.raw = true } }

// PseudoOnly leaves http.method, path, host and scheme empty, so the
// request line is only in the pseudo-headers.
func PseudoOnly() Option { return func(s *spec) { s.pseudoOnly = true } }

// Request returns the CheckRequest Envoy's ext_authz filter sends for an
// HTTP request (see docs: the reference notes on how Envoy builds it):
// http.method/path/host/scheme set, and every header in http.headers with
// lower-case keys, the pseudo-headers :authority, :path, :method and
// :scheme included, values made valid UTF-8 (each invalid byte becomes
// '!'), repeated names joined with ",". origin "" sends no Origin header.
// Source and destination peers are loopback addresses.
func Request(method, path, origin string, opts ...Option) *authv3.CheckRequest {
	s := spec{method: method, scheme: DefaultScheme, host: DefaultHost, path: path}
	if origin != "" {
		s.headers = append(s.headers, [2]string{"origin", origin})
	}
	for _, o := range opts {
		o(&s)
	}
	return s.build()
}

func (s *spec) build() *authv3.CheckRequest {
	all := make([][2]string, 0, 7+len(s.headers))
	all = append(all,
		[2]string{":authority", s.host}, [2]string{":path", s.path},
		[2]string{":method", s.method}, [2]string{":scheme", s.scheme},
		[2]string{"user-agent", "Mozilla/5.0 (X11; Linux x86_64)"},
		[2]string{"x-request-id", "5f0c6d1e-2b7a-4c39-8e1d-0a9b8c7d6e5f"},
		[2]string{"x-forwarded-proto", s.scheme},
	)
	all = append(all, s.headers...)

	h := &authv3.AttributeContext_HttpRequest{Id: "4242", Protocol: "HTTP/1.1"}
	if !s.pseudoOnly {
		h.Method, h.Path, h.Host, h.Scheme = s.method, s.path, s.host, s.scheme
	}
	if s.raw {
		hm := &corev3.HeaderMap{Headers: make([]*corev3.HeaderValue, 0, len(all))}
		for _, kv := range all {
			hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: strings.ToLower(kv[0]), RawValue: []byte(kv[1])})
		}
		h.HeaderMap = hm
	} else {
		h.Headers = make(map[string]string, len(all))
		for _, kv := range all {
			k, v := strings.ToLower(kv[0]), SanitizeUTF8(kv[1])
			if prev, ok := h.Headers[k]; ok {
				v = prev + "," + v
			}
			h.Headers[k] = v
		}
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: socketAddress("127.0.0.1", 50312)},
		Destination: &authv3.AttributeContext_Peer{Address: socketAddress("127.0.0.1", 8080)},
		Request:     &authv3.AttributeContext_Request{Http: h},
	}}
	if len(s.ext) > 0 {
		req.Attributes.ContextExtensions = s.ext
	}
	return req
}

// SanitizeUTF8 replaces each byte of s that is not part of valid UTF-8 with
// '!', as Envoy does to header values in the http.headers map (proto3
// strings must be valid UTF-8).
func SanitizeUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteByte('!')
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func socketAddress(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}
