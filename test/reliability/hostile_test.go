//go:build linux

package reliability

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cors-authz/cors-authz/internal/checktest"
)

// TestHostileInput sends oversized and malformed requests to the real
// process over gRPC, in both of Envoy's header encodings. Each must be
// answered (no RPC error; a context deadline guards against a hang, it is
// not a speed goal), denied (no Access-Control-Allow-Origin; a preflight
// is refused with 403), never reflected (its distinctive bytes appear in
// no response header), and pass AssertResponse. The process then still
// answers a normal request correctly.
func TestHostileInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, path, policyA)
	p := startProc(t, "--config", path)
	client := authv3.NewAuthorizationClient(p.dial())

	// Each hostile value carries a marker that must never come back.
	const mark = "zq7hostile"
	huge := "https://" + mark + strings.Repeat("a", 1<<20) + ".tenant.example.com" // 1 MiB, under an allowed wildcard
	names := strings.TrimSuffix(strings.Repeat(mark+"-h,", 10_000), ",")           // 10,000 names
	var manyHeaders []checktest.Option
	for i := range 10_000 {
		manyHeaders = append(manyHeaders, checktest.WithHeader(fmt.Sprintf("x-%s-%d", mark, i), mark))
	}
	tests := []struct {
		name      string
		method    string
		path      string
		origin    string
		opts      []checktest.Option
		preflight bool
	}{
		{name: "1 MiB origin", method: "GET", path: "/api/v1/items", origin: huge},
		{name: "1 MiB origin, preflight", method: "OPTIONS", path: "/api/v1/items", origin: huge,
			opts: []checktest.Option{checktest.Preflight("PUT", "")}, preflight: true},
		{name: "10,000-name request header list", method: "OPTIONS", path: "/uploads/x", origin: tenant,
			opts: []checktest.Option{checktest.Preflight("PUT", names)}, preflight: true},
		{name: "10,000 headers", method: "GET", path: "/api/v1/items", origin: "https://" + mark + ".example",
			opts: manyHeaders},
		{name: "invalid UTF-8 in origin", method: "GET", path: "/api/v1/items",
			origin: "https://" + mark + "\xff\xfe.tenant.example.com"},
		{name: "invalid UTF-8 in request headers", method: "OPTIONS", path: "/uploads/x", origin: tenant,
			opts: []checktest.Option{checktest.Preflight("PUT", "x-"+mark+"\xc3\x28")}, preflight: true},
		{name: "NUL in origin", method: "GET", path: "/api/v1/items",
			origin: "https://" + mark + "\x00.tenant.example.com"},
		{name: "NUL in request headers", method: "OPTIONS", path: "/uploads/x", origin: tenant,
			opts: []checktest.Option{checktest.Preflight("PUT", "x-"+mark+"\x00")}, preflight: true},
		{name: "CR LF in origin", method: "GET", path: "/api/v1/items",
			origin: partner + "\r\nx-" + mark + ": 1"},
		{name: "CR LF in origin, preflight", method: "OPTIONS", path: "/api/v1/items",
			origin: partner + "\r\nx-" + mark + ": 1", opts: []checktest.Option{checktest.Preflight("GET", "")}, preflight: true},
		{name: "CR LF in request headers", method: "OPTIONS", path: "/uploads/x", origin: tenant,
			opts: []checktest.Option{checktest.Preflight("PUT", "x-a\r\nx-"+mark+": 1")}, preflight: true},
		{name: "CR LF in method", method: "OPTIONS", path: "/api/v1/items", origin: partner,
			opts: []checktest.Option{checktest.Preflight("PUT\r\nx-"+mark+": 1", "")}, preflight: true},
		{name: "two origins", method: "GET", path: "/api/v1/items", origin: partner,
			opts: []checktest.Option{checktest.WithHeader("origin", "https://"+mark+".tenant.example.com")}},
	}
	for _, tt := range tests {
		for _, raw := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/raw=%v", tt.name, raw), func(t *testing.T) {
				opts := tt.opts
				if raw {
					opts = append(opts[:len(opts):len(opts)], checktest.Raw())
				}
				req := checktest.Request(tt.method, tt.path, tt.origin, opts...)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // hang guard
				defer cancel()
				resp, err := client.Check(ctx, req)
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				a := checktest.AssertResponse(t, resp)
				if v, ok := checktest.HeaderValue(resp, "access-control-allow-origin"); ok {
					t.Errorf("granted: ACAO %.80q", v)
				}
				if tt.preflight && a.HTTP != 403 {
					t.Errorf("preflight answered %v, want a 403 refusal", a)
				}
				if !tt.preflight && a.HTTP != 0 {
					t.Errorf("actual request answered %v, want forwarded (deny_action omit)", a)
				}
				if checktest.Reflects(resp, mark) {
					t.Errorf("response reflects request bytes: %.300v", a)
				}
			})
		}
	}

	// The service is unharmed.
	resp, err := client.Check(context.Background(), checktest.Request("GET", "/api/v1/items", partner))
	if err != nil {
		t.Fatal(err)
	}
	checktest.AssertResponse(t, resp)
	if v, _ := checktest.HeaderValue(resp, "access-control-allow-origin"); v != partner {
		t.Errorf("after the hostile requests, ACAO %q for the partner, want %q", v, partner)
	}
	p.stop(15 * time.Second)
}
