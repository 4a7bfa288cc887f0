package envoyauth_test

import (
	"bytes"
	"maps"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

func TestMetadata(t *testing.T) {
	const sum = "3f1c0e5a9b2d7788aa00bb11cc22dd33ee44ff5566778899aabbccddeeff0011"
	tests := []struct {
		d    envoyauth.Decision
		want map[string]string
	}{
		{envoyauth.Decision{Class: "public-api", Kind: policy.Preflight, Reason: policy.ReasonPreflightAllowed, SHA256: sum, Generation: 4},
			map[string]string{"class": "public-api", "kind": "preflight", "reason": "preflight_allowed", "policy_sha256": "3f1c0e5a9b2d", "policy_generation": "4"}},
		{envoyauth.Decision{Class: "internal", Kind: policy.Actual, Reason: policy.ReasonCrossOriginInternal, SHA256: sum, Generation: 18446744073709551615},
			map[string]string{"class": "internal", "kind": "actual", "reason": "cross_origin_to_internal", "policy_sha256": "3f1c0e5a9b2d", "policy_generation": "18446744073709551615"}},
		{envoyauth.Decision{Class: "default-deny", Kind: policy.NotCORS, Reason: "no_policy"},
			map[string]string{"class": "default-deny", "kind": "not_cors", "reason": "no_policy", "policy_sha256": "", "policy_generation": "0"}},
		{envoyauth.Decision{Class: "c", Kind: policy.SameOrigin, Reason: policy.ReasonSameOrigin, SHA256: "abc", Generation: 1},
			map[string]string{"class": "c", "kind": "same_origin", "reason": "same_origin", "policy_sha256": "abc", "policy_generation": "1"}},
	}
	for _, tt := range tests {
		md := envoyauth.Metadata(tt.d)
		if keys := len(md.GetFields()); keys != 1 {
			t.Errorf("%+v: %d top-level keys, want only %q", tt.d, keys, envoyauth.MetadataKey)
		}
		got, ok := envoyauth.DecisionOf(&authv3.CheckResponse{DynamicMetadata: md})
		if !ok || !maps.Equal(got, tt.want) {
			t.Errorf("%+v: metadata %v, want %v", tt.d, got, tt.want)
		}
	}
	if _, ok := envoyauth.DecisionOf(&authv3.CheckResponse{}); ok {
		t.Error("DecisionOf found a decision in a response without metadata")
	}
}

// The metadata is in the response's wire encoding, in both the pre-encoded
// bytes and the standard codec's marshalling, byte for byte the same
// (deterministic: the metadata is a map).
func TestMetadataInBothEncodings(t *testing.T) {
	p := mustPolicy(t, testPolicyYAML)
	for _, req := range []policy.Request{
		{Method: "GET", Path: "/api/v1/x", Origin: partner, HasOrigin: true},
		{Method: "OPTIONS", Path: "/api/v1/x", Origin: partner, HasOrigin: true, ACRM: "PUT"},
		{Method: "GET", Path: "/strict/x", Origin: "https://evil.example", HasOrigin: true},
	} {
		v := p.Decide(&req)
		dm := envoyauth.NewDecisionMetadata(envoyauth.Decision{Class: v.Class.Name, Kind: v.Kind, Reason: v.Reason, SHA256: p.SHA256(), Generation: 2})
		var pre envoyauth.PreEncoded // as the service makes its shared answers: the metadata's bytes spliced in
		pre.InitWithMetadata(envoyauth.Response(&v), dm)
		resp := pre.Response()
		if resp.GetDynamicMetadata() != dm.Struct() {
			t.Fatal("InitWithMetadata did not set the response's metadata")
		}
		std, err := proto.MarshalOptions{Deterministic: true}.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pre.Encoded(), std) {
			t.Errorf("%s %s: pre-encoded bytes differ from the standard encoding:\n%x\n%x", req.Method, req.Path, pre.Encoded(), std)
		}
		if whole := envoyauth.PreEncode(envoyauth.ResponseWithMetadata(&v, dm.Struct())); !bytes.Equal(whole.Encoded(), std) {
			t.Errorf("%s %s: PreEncode of the whole response differs", req.Method, req.Path)
		}
		var back authv3.CheckResponse
		if err := proto.Unmarshal(pre.Encoded(), &back); err != nil {
			t.Fatal(err)
		}
		got, ok := envoyauth.DecisionOf(&back)
		if !ok || got["reason"] != string(v.Reason) || got["class"] != v.Class.Name || got["policy_generation"] != "2" {
			t.Errorf("%s %s: decoded decision %v, want reason %s class %s generation 2", req.Method, req.Path, got, v.Reason, v.Class.Name)
		}
		for range 10 { // the same bytes every time
			if again, _ := (proto.MarshalOptions{Deterministic: true}).Marshal(resp); !bytes.Equal(again, std) {
				t.Fatal("the encoding changed between marshals")
			}
		}
	}
}
