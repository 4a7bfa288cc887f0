package envoyauth

import (
	"net/netip"
	"strings"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// HTTPRequest is an HTTP request as it reached Envoy, for building the
// CheckRequest Envoy's ext_authz filter sends for it (CheckRequest). The
// `cors-authz check` and `explain` commands, the tests and the benchmarks
// build their requests with it, so they all present requests to the
// service the way Envoy does.
type HTTPRequest struct {
	// The request line: :method, :scheme, :authority and :path.
	Method, Scheme, Host, Path string
	// Headers are the header lines after the request line, in order, as
	// {name, value}; a name may repeat.
	Headers [][2]string
	// Class, if not empty, is context_extensions[ClassHintKey], as an
	// Envoy route's ExtAuthzPerRoute.check_settings sets it.
	Class string
	// ContextExtensions are further context_extensions entries (Class
	// wins over an entry for ClassHintKey).
	ContextExtensions map[string]string
	// Raw encodes the headers in http.header_map, as Envoy does with
	// encode_raw_headers: true (names as given, raw_value bytes as sent,
	// repeated names on separate entries), instead of the http.headers map.
	Raw bool
	// PseudoOnly leaves http.method, path, host and scheme empty, so the
	// request line is only in the pseudo-headers.
	PseudoOnly bool
	// ID and Protocol are http.id and http.protocol.
	ID, Protocol string
	// Source and Destination, when valid, are the connection's peers'
	// socket addresses.
	Source, Destination netip.AddrPort
}

// CheckRequest returns the CheckRequest Envoy's ext_authz filter sends for
// h (see the reference notes on how Envoy builds it): http.method, path,
// host and scheme set (unless PseudoOnly), and the pseudo-headers
// :authority, :path, :method and :scheme followed by h.Headers. In the map
// encoding, names are lower-cased, values made valid UTF-8 as Envoy does
// (each invalid byte becomes '!') and repeated names joined with ",".
func (h *HTTPRequest) CheckRequest() *authv3.CheckRequest {
	all := make([][2]string, 0, 4+len(h.Headers))
	all = append(all,
		[2]string{hdrAuthority, h.Host}, [2]string{hdrPath, h.Path},
		[2]string{hdrMethod, h.Method}, [2]string{hdrScheme, h.Scheme})
	all = append(all, h.Headers...)

	hr := &authv3.AttributeContext_HttpRequest{Id: h.ID, Protocol: h.Protocol}
	if !h.PseudoOnly {
		hr.Method, hr.Path, hr.Host, hr.Scheme = h.Method, h.Path, h.Host, h.Scheme
	}
	if h.Raw {
		hm := &corev3.HeaderMap{Headers: make([]*corev3.HeaderValue, 0, len(all))}
		for _, kv := range all {
			hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: kv[0], RawValue: []byte(kv[1])})
		}
		hr.HeaderMap = hm
	} else {
		hr.Headers = make(map[string]string, len(all))
		for _, kv := range all {
			k, v := strings.ToLower(kv[0]), SanitizeUTF8(kv[1])
			if prev, ok := hr.Headers[k]; ok {
				v = prev + "," + v
			}
			hr.Headers[k] = v
		}
	}
	attrs := &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: hr}}
	if h.Source.IsValid() {
		attrs.Source = &authv3.AttributeContext_Peer{Address: socketAddress(h.Source)}
	}
	if h.Destination.IsValid() {
		attrs.Destination = &authv3.AttributeContext_Peer{Address: socketAddress(h.Destination)}
	}
	if h.Class != "" || len(h.ContextExtensions) > 0 {
		ext := make(map[string]string, len(h.ContextExtensions)+1)
		for k, v := range h.ContextExtensions {
			ext[k] = v
		}
		if h.Class != "" {
			ext[ClassHintKey] = h.Class
		}
		attrs.ContextExtensions = ext
	}
	return &authv3.CheckRequest{Attributes: attrs}
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

func socketAddress(ap netip.AddrPort) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ap.Addr().String(), PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(ap.Port())},
	}}}
}
