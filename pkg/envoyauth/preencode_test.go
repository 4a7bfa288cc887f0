package envoyauth_test

import (
	"testing"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// TestPreEncode: PreEncode keeps the response it is given and stores that
// response's encoding, the bytes the codec writes for it (TestCodec).
func TestPreEncode(t *testing.T) {
	v := policy.Default().Decide(&policy.Request{Method: "GET", Scheme: "https", Host: "api.example.com",
		Path: "/api/v1/items", Origin: partner, HasOrigin: true})
	resp := envoyauth.Response(&v)
	if !v.Allowed || len(resp.GetOkResponse().GetResponseHeadersToAdd()) == 0 {
		t.Fatalf("want an allowed answer with headers, got %v (%s)", resp, v.Reason)
	}
	checktest.AssertPreEncoded(t, envoyauth.PreEncode(resp), resp)
}
