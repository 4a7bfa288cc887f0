package checktest

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
)

// RealisticRequest is Request for a request shaped as a browser's call
// through an Envoy sidecar really arrives: about 22 headers (cookies of
// 200–800 bytes, an ~800-byte JWT, user agent, sec-fetch-*, sec-ch-ua*,
// forwarding and tracing headers), source and destination addresses with
// SPIFFE principals, the request time, TLS SNI, and filter and route
// metadata: 1.5–3.5 KiB encoded, varying deterministically with id (cookie
// and token lengths, ids, addresses, user agent). The options apply as in
// Request (Raw for header_map, Preflight, Class...).
func RealisticRequest(method, path, origin string, id int, opts ...Option) *authv3.CheckRequest {
	v := uint64(id)*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E5 // deterministic spread of id
	pick := func(n int) int { v ^= v >> 29; v *= 0xBF58476D1CE4E5B9; return int(v>>33) % n }

	s := spec{envoyauth.HTTPRequest{
		Method: method, Scheme: DefaultScheme, Host: DefaultHost, Path: path,
		ID: fmt.Sprint(9_000_000_000_000 + id), Protocol: "HTTP/2",
		Source:      netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 4, byte(pick(250)), byte(1 + pick(250))}), uint16(32768+pick(28000))),
		Destination: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 8, 3, 17}), 8080),
	}}
	if origin != "" {
		s.Headers = append(s.Headers, [2]string{"origin", origin})
	}
	for _, o := range opts {
		o(&s)
	}
	ua := userAgents[pick(len(userAgents))]
	site := "same-site"
	if origin != "" && !strings.HasSuffix(origin, "."+s.Host) {
		site = "cross-site"
	}
	hdrs := [][2]string{
		{"user-agent", ua.ua},
		{"accept", "application/json, text/plain, */*"},
		{"accept-language", "en-GB,en-US;q=0.9,en;q=0.8"},
		{"accept-encoding", "gzip, deflate, br, zstd"},
		{"sec-ch-ua", ua.ch},
		{"sec-ch-ua-mobile", "?0"},
		{"sec-ch-ua-platform", ua.platform},
		{"sec-fetch-site", site},
		{"sec-fetch-mode", "cors"},
		{"sec-fetch-dest", "empty"},
		{"x-forwarded-for", fmt.Sprintf("203.0.113.%d, 10.4.0.%d", 1+pick(250), 1+pick(250))},
		{"x-forwarded-proto", s.Scheme},
		{"x-request-id", fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", pick(1<<30), pick(1<<16), pick(1<<12), pick(1<<12), id)},
		{"x-envoy-attempt-count", "1"},
		{"x-b3-traceid", fmt.Sprintf("%016x%016x", pick(1<<30), id)},
		{"x-b3-spanid", fmt.Sprintf("%016x", pick(1<<30))},
		{"x-b3-sampled", "0"},
		{"traceparent", fmt.Sprintf("00-%016x%016x-%016x-00", pick(1<<30), id, pick(1<<30))},
	}
	if origin != "" {
		hdrs = append(hdrs, [2]string{"referer", origin + "/app/orders?view=" + fmt.Sprint(pick(100))})
	}
	if method != "OPTIONS" {
		// Preflights carry no credentials (Fetch §4.8).
		hdrs = append(hdrs,
			[2]string{"cookie", cookie(200+pick(600), id)},
			[2]string{"authorization", "Bearer " + token(700+pick(200), id)},
			[2]string{"content-type", "application/json"},
		)
	}
	h := s.HTTPRequest
	h.Headers = append(hdrs, s.Headers...)
	for i := range h.Headers {
		h.Headers[i][0] = strings.ToLower(h.Headers[i][0])
	}
	req := h.CheckRequest()
	a := req.Attributes
	a.Source.Principal = "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
	a.Destination.Principal = "spiffe://cluster.local/ns/shop/sa/orders"
	a.Source.Labels = map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}
	a.Request.Time = timestamppb.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(id) * time.Millisecond))
	a.TlsSession = &authv3.AttributeContext_TLSSession{Sni: s.Host}
	a.MetadataContext = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		"istio_authn": mustStruct(map[string]any{
			"request.auth.principal": "https://issuer.example.com/" + fmt.Sprint(id%1000),
			"source.principal":       a.Source.Principal,
		}),
	}}
	a.RouteMetadataContext = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		"envoy.filters.http.ext_authz": mustStruct(map[string]any{"route": "orders-api", "team": "shop"}),
	}}
	return req
}

var userAgents = []struct{ ua, ch, platform string }{
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		`"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"`, `"Windows"`},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
		`"Microsoft Edge";v="130", "Chromium";v="130", "Not?A_Brand";v="99"`, `"macOS"`},
	{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
		`"Chromium";v="129", "Not=A?Brand";v="8"`, `"Linux"`},
}

// cookie is a Cookie header of about n bytes.
func cookie(n, id int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "session=%032x; _ga=GA1.2.%d.%d; theme=dark", id, 1_000_000+id, 1_700_000_000+id)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "; pref_%d=%x", i, (id+1)*(i+7)*0x45d9f3b)
	}
	return b.String()
}

// token is a JWT-shaped token of about n bytes.
func token(n, id int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := []byte("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.")
	x := uint32(id)*2654435761 + 1
	for len(b) < n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		if len(b) == n/2 {
			b = append(b, '.')
			continue
		}
		b = append(b, alphabet[x%64])
	}
	return string(b)
}

func mustStruct(m map[string]any) *structpb.Struct {
	s, err := structpb.NewStruct(m)
	if err != nil {
		panic(err)
	}
	return s
}
