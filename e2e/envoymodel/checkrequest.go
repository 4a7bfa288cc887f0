package envoymodel

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// downstream is the request as the ext_authz filter sees it: after the
// HCM's path handling and header mutation, with Envoy's pseudo-headers.
type downstream struct {
	method    string
	path      string // normalised :path, query included
	authority string // :authority (HTTP/1 Host)
	scheme    string
	protocol  string // "HTTP/1.0", "HTTP/1.1", "HTTP/2"
	header    http.Header
	remote    string // peer address, host:port
	local     string // listener address, host:port
	start     time.Time
}

// buildCheckRequest builds the CheckRequest Envoy sends for d
// (CheckRequestUtils::createHttpCheck).
func (c *compiled) buildCheckRequest(d *downstream, streamID uint64, rt *Route) *authv3.CheckRequest {
	hreq := &authv3.AttributeContext_HttpRequest{
		Id:       strconv.FormatUint(streamID, 10),
		Method:   sanitizeUTF8(d.method),
		Path:     sanitizeUTF8(d.path),
		Host:     sanitizeUTF8(d.authority),
		Scheme:   sanitizeUTF8(d.scheme),
		Protocol: d.protocol,
	}
	if c.EncodeRawHeaders {
		hreq.HeaderMap = &corev3.HeaderMap{}
	} else {
		hreq.Headers = map[string]string{}
	}
	d.eachHeader(func(k, v string) {
		if c.allowed != nil && !c.allowed[k] {
			return
		}
		if k == "x-envoy-auth-partial-body" {
			return
		}
		if c.EncodeRawHeaders {
			hreq.HeaderMap.Headers = append(hreq.HeaderMap.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
			return
		}
		v = sanitizeUTF8(v)
		if old, ok := hreq.Headers[k]; ok {
			hreq.Headers[k] = old + "," + v
		} else {
			hreq.Headers[k] = v
		}
	})
	attrs := &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: socketAddress(d.remote)},
		Destination: &authv3.AttributeContext_Peer{Address: socketAddress(d.local)},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(d.start),
			Http: hreq,
		},
	}
	if svc := d.header.Get("x-envoy-downstream-service-cluster"); svc != "" {
		attrs.Source.Service = sanitizeUTF8(svc)
	}
	if rt != nil && len(rt.ContextExtensions) > 0 {
		attrs.ContextExtensions = make(map[string]string, len(rt.ContextExtensions))
		for k, v := range rt.ContextExtensions {
			attrs.ContextExtensions[k] = v
		}
	}
	return &authv3.CheckRequest{Attributes: attrs}
}

// eachHeader calls f for every entry of the request header map in the
// order Envoy iterates it: the pseudo-headers first, then the headers
// (sorted by name here; Go's map has no order), one call per entry, with
// lower-case names.
func (d *downstream) eachHeader(f func(k, v string)) {
	f(":authority", d.authority)
	f(":path", d.path)
	f(":method", d.method)
	f(":scheme", d.scheme)
	keys := make([]string, 0, len(d.header))
	for k := range d.header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		lk := strings.ToLower(k)
		for _, v := range d.header[k] {
			f(lk, v)
		}
	}
}

// sanitizeUTF8 replaces each byte that is not part of valid UTF-8 with '!'
// (MessageUtil::sanitizeUtf8String): proto3 strings must be UTF-8.
func sanitizeUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
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

func socketAddress(hostport string) *corev3.Address {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil
	}
	p, _ := strconv.ParseUint(port, 10, 32)
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       host,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(p)},
	}}}
}

// protocolString is Http::Utility::getProtocolString.
func protocolString(r *http.Request) string {
	switch {
	case r.ProtoMajor == 2:
		return "HTTP/2"
	case r.ProtoMajor == 3:
		return "HTTP/3"
	case r.ProtoMinor == 0:
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}
