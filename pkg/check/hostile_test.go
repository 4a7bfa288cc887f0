package check

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestHostileInput: oversized and malformed requests are answered, denied,
// never reflected, and never cached.
func TestHostileInput(t *testing.T) {
	s, _ := newTestService(t, 100)
	client := serve(t, s)
	manyNames := strings.TrimSuffix(strings.Repeat("x-a,", 10000), ",")
	var manyHeaders []string
	for i := range 10000 {
		manyHeaders = append(manyHeaders, fmt.Sprintf("x-h%d", i), "v")
	}
	denied, refusedPreflight := forward(varyOrigin), refused
	cases := []struct {
		name string
		req  reqSpec
		want answer
	}{
		{"1 MiB origin", get("/api/v1/x", "Origin", "https://"+strings.Repeat("a", 1<<20)+".tenant.example.com"), denied},
		{"1 MiB origin preflight", options("/api/v1/x", "Origin", "https://"+strings.Repeat("a", 1<<20)+".tenant.example.com",
			"Access-Control-Request-Method", "GET"), refusedPreflight},
		{"10,000-name request header list", options("/reflect/x", "Origin", tenant, "Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", manyNames), refusedPreflight},
		{"10,000 headers", get("/api/v1/x", append(manyHeaders, "Origin", "https://evil.example")...), denied},
		{"invalid UTF-8 origin", get("/api/v1/x", "Origin", "https://\xff\xfe.tenant.example.com"), denied},
		{"NUL in origin", get("/api/v1/x", "Origin", "https://a\x00.tenant.example.com"), denied},
		{"CRLF in origin", get("/api/v1/x", "Origin", tenant+"\r\nx-injected: 1"), denied},
		{"CRLF in request headers", options("/reflect/x", "Origin", tenant, "Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "x-a\r\nx-injected: 1"), refusedPreflight},
		{"non-ASCII in request headers", options("/reflect/x", "Origin", tenant, "Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "x-ä"), refusedPreflight},
	}
	for _, raw := range []bool{false, true} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("raw=%v/%s", raw, tc.name), func(t *testing.T) {
				rs := tc.req
				rs.Raw = raw
				resp, err := client.Check(context.Background(), rs.build())
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if got := assertResponse(t, resp); got != tc.want {
					t.Errorf("got %.300v, want %v", got, tc.want)
				}
			})
		}
	}
	if n := s.cur.Load().cache.len(); n != 0 {
		t.Errorf("hostile requests cached: %d entries", n)
	}
}
