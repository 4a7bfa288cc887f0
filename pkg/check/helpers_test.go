package check

//lint:file-ignore SA1019 Envoy still honours the deprecated HeaderValueOption.append flag, so this file must read (or set) it.

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// testPolicyYAML exercises every decision the service translates: an
// external class with credentials, a "*"-headers class with private network
// access, one class per deny_action, and an internal catch-all.
const testPolicyYAML = `version: 1
self_origins:
  - https://app.example.com
  - https://other-app.example.com
classes:
  - name: public-api
    match:
      path_prefixes: [/api/v1/]
    allow_origins:
      - https://partner.example.org
      - https://*.tenant.example.com
    allow_methods: [GET, POST, PUT, PATCH, DELETE]
    allow_headers: [Content-Type, Authorization, X-Request-Id]
    expose_headers: [X-Request-Id]
    allow_credentials: true
    max_age: 10m
  - name: reflect
    match:
      path_prefixes: [/reflect/]
    allow_origins: [https://*.tenant.example.com]
    allow_methods: [PUT]
    allow_headers: ["*"]
    allow_private_network: true
  - name: strict
    match:
      path_prefixes: [/strict/]
    allow_origins: [https://partner.example.org]
    deny_action: reject
  - name: selfish
    match:
      path_prefixes: [/self/]
    allow_origins: [https://partner.example.org]
    deny_action: self_origin
  - name: internal
    match:
      path_prefixes: [/]
`

// testPolicyNoPartnerYAML is testPolicyYAML without the partner origin in
// public-api: reloading it must change that origin's verdict at once.
var testPolicyNoPartnerYAML = strings.Replace(testPolicyYAML,
	"      - https://partner.example.org\n      - https://*.tenant", "      - https://*.tenant", 1)

func mustPolicy(t testing.TB, yaml string) *policy.Policy {
	t.Helper()
	p, _, err := policy.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("policy.Parse: %v", err)
	}
	return p
}

// newTestService returns a Service on its own registry with testPolicyYAML.
func newTestService(t testing.TB, cacheSize int) (*Service, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s := New(Options{CacheSize: cacheSize, Registerer: reg})
	s.SetPolicy(mustPolicy(t, testPolicyYAML))
	return s, reg
}

// reqSpec describes an HTTP request as Envoy would present it.
type reqSpec struct {
	Method, Scheme, Host, Path string
	Headers                    [][2]string // as sent, in order; names may repeat
	Class                      string      // context_extensions cors_class
	Raw                        bool        // encode_raw_headers: header_map instead of headers
}

// build returns the CheckRequest Envoy sends for rs, built by
// envoyauth.HTTPRequest (pseudo-headers in the map, lower-case keys,
// repeated headers joined with "," in the map encoding and kept apart, names
// as given, in header_map), with the headers Envoy's HCM adds and loopback
// peers.
func (rs reqSpec) build() *authv3.CheckRequest {
	h := envoyauth.HTTPRequest{
		Method: rs.Method, Scheme: rs.Scheme, Host: rs.Host, Path: rs.Path,
		Headers: append([][2]string{
			{"user-agent", "Mozilla/5.0"}, {"x-request-id", "0d6e3b0a-5a1e-4c2e-9a51-1b1d2f0c9e77"},
			{"x-forwarded-proto", rs.Scheme},
		}, rs.Headers...),
		Class:       rs.Class,
		Raw:         rs.Raw,
		ID:          "1234567890",
		Protocol:    "HTTP/1.1",
		Source:      netip.MustParseAddrPort("127.0.0.1:51234"),
		Destination: netip.MustParseAddrPort("127.0.0.1:8080"),
	}
	if rs.Class != "" {
		h.ContextExtensions = map[string]string{"other": "x"}
	}
	return h.CheckRequest()
}

// Request shorthands.
func get(path string, hdrs ...string) reqSpec {
	return reqSpec{Method: "GET", Scheme: "https", Host: "api.example.com", Path: path, Headers: pairs(hdrs)}
}

func options(path string, hdrs ...string) reqSpec {
	rs := get(path, hdrs...)
	rs.Method = "OPTIONS"
	return rs
}

func pairs(kv []string) [][2]string {
	if len(kv)%2 != 0 {
		panic("pairs: odd count")
	}
	var out [][2]string
	for i := 0; i < len(kv); i += 2 {
		out = append(out, [2]string{kv[i], kv[i+1]})
	}
	return out
}

// answer is what Envoy does with a CheckResponse, in comparable form.
type answer = checktest.Answer

// assertResponse is the one gate every response in these tests passes:
// checktest.AssertResponse, the contract every server test checks (header
// bytes visible ASCII or space, ACAO exact and at most once,
// Access-Control-* overwrite without the deprecated append flag, 204/403
// with an empty body only, no request mutation), plus what this package's
// responses promise beyond it:
//   - Forwarded: Vary appends and every other header overwrites; answered:
//     every header overwrites. No header sets the deprecated append flag.
//   - A 403 carries no header at all; ok_response.headers is never used.
//
// Like checktest.AssertResponse it reports with t.Errorf only, so the
// concurrency tests may call it from their goroutines.
func assertResponse(t testing.TB, resp *authv3.CheckResponse) answer {
	t.Helper()
	a := checktest.AssertResponse(t, resp)
	var hs []*corev3.HeaderValueOption
	if ok := resp.GetOkResponse(); ok != nil {
		if len(ok.GetHeaders()) > 0 {
			t.Errorf("OK response mutates the request: %v", ok)
		}
		hs = ok.GetResponseHeadersToAdd()
	} else if d := resp.GetDeniedResponse(); d != nil {
		hs = d.GetHeaders()
		if a.HTTP == 403 && len(hs) > 0 {
			t.Errorf("403 carries headers: %v", hs)
		}
	}
	for _, o := range hs {
		name := o.GetHeader().GetKey()
		if o.GetAppend() != nil {
			t.Errorf("header %q: deprecated append flag set", name)
		}
		want := corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		if name == "vary" && a.Code == codes.OK {
			want = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
		}
		if o.GetAppendAction() != want {
			t.Errorf("header %q: append_action %v, want %v", name, o.GetAppendAction(), want)
		}
	}
	return a
}

// serve starts a gRPC server for s on an in-memory listener and returns a
// client; both are stopped when the test ends.
func serve(t testing.TB, s *Service) authv3.AuthorizationClient {
	t.Helper()
	g := grpc.NewServer()
	s.Register(g)
	return authv3.NewAuthorizationClient(serveBufconn(t, g))
}

// serveBufconn runs g on an in-memory listener and returns a connection to
// it; both are stopped when the test ends.
func serveBufconn(t testing.TB, g *grpc.Server) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = g.Serve(lis)
	}()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		g.Stop()
		<-done
	})
	return conn
}
