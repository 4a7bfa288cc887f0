package envoyauth

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// TestPreEncodeUnmarshallable: a response that cannot be encoded (a header
// value that is not valid UTF-8) keeps no bytes, and the codec then fails
// as the standard codec does instead of writing anything.
func TestPreEncodeUnmarshallable(t *testing.T) {
	bad := PreEncode(&authv3.CheckResponse{HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
		ResponseHeadersToAdd: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x", Value: "\xff"}}},
	}}})
	if bad.Encoded() != nil {
		t.Fatalf("invalid UTF-8 response encoded: %x", bad.Encoded())
	}
	if _, err := NewCodec().Marshal(bad); err == nil {
		t.Error("codec wrote a response that cannot be marshalled")
	}
}

func TestCodec(t *testing.T) {
	c := NewCodec()
	if c.Name() != "proto" {
		t.Fatalf("Name %q, want proto", c.Name())
	}
	v := policy.Default().Decide(&policy.Request{Method: "GET", Scheme: "https", Host: "api.example.com",
		Path: "/api/v1/items", Origin: partner, HasOrigin: true})
	resp := Response(&v)
	if !v.Allowed || len(resp.GetOkResponse().GetResponseHeadersToAdd()) == 0 {
		t.Fatalf("want an allowed answer with headers, got %v (%s)", resp, v.Reason)
	}
	pre := PreEncode(resp) // its stored bytes: TestPreEncode

	tests := []struct {
		name   string
		msg    any
		stored bool // the stored bytes themselves are written
	}{
		{"pre_encoded", pre, true},
		{"response", resp, false},
		{"pre_encoded_without_bytes", &PreEncoded{resp: resp}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Free()
			got := out.Materialize()
			var back authv3.CheckResponse
			if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(got)}, &back); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&back, resp) {
				t.Fatalf("round trip gives %v, want %v", &back, resp)
			}
			isStored := len(out) == 1 && &out[0].ReadOnlyData()[0] == &pre.Encoded()[0]
			if isStored != tc.stored {
				t.Fatalf("stored bytes written: %v, want %v", isStored, tc.stored)
			}
		})
	}
	if _, err := c.Marshal("not a message"); err == nil {
		t.Error("Marshal of a non-message succeeded")
	}
}
