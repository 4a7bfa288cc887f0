package checktest

import (
	"slices"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
)

// AssertPreEncoded stops the test unless pre holds resp and its stored
// bytes are resp's encoding: they decode back to an equal message, and equal
// a fresh deterministic marshal byte for byte.
func AssertPreEncoded(t testing.TB, pre *envoyauth.PreEncoded, resp *authv3.CheckResponse) {
	t.Helper()
	if pre.Response() != resp {
		t.Fatalf("PreEncoded holds %p, the answer is %p", pre.Response(), resp)
	}
	b := pre.Encoded()
	if b == nil {
		t.Fatal("shared response has no stored encoding")
	}
	var back authv3.CheckResponse
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatalf("stored bytes do not decode: %v", err)
	}
	if !proto.Equal(&back, resp) {
		t.Fatalf("stored bytes decode to %v, want %v", &back, resp)
	}
	want, err := proto.MarshalOptions{Deterministic: true}.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b, want) {
		t.Fatalf("stored bytes %x, marshal gives %x", b, want)
	}
}
