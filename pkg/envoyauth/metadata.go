package envoyauth

import (
	"strconv"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Decision metadata.
//
// Every CheckResponse names the decision behind it in dynamic_metadata, so
// that Envoy's access log and Istio's telemetry can show it. Envoy's
// ext_authz filter stores a response's dynamic_metadata (OK and denied
// answers alike; a failed call carries none) in the namespace
// envoy.filters.http.ext_authz, whatever the filter is named, merging
// top-level keys with what other ext_authz filters of the chain stored.
// cors-authz puts everything under one key, MetadataKey, so it never
// overwrites another filter's keys:
//
//	envoy.filters.http.ext_authz:
//	  cors_authz:
//	    class: public-api              the class that decided
//	    kind: preflight                not_cors, same_origin, actual or preflight
//	    reason: preflight_allowed      the verdict's reason (policy.Reason)
//	    policy_sha256: 3f1c0e5a9b2d    the policy file's sha256, first ShortSHA256Len hex digits
//	    policy_generation: "4"         the policy's generation in this process
//
// An access log reads them as %DYNAMIC_METADATA(envoy.filters.http.ext_authz:cors_authz:class)%.
// Every value is a string (the generation in decimal), so every formatter
// prints it as is. None of them is taken from the request: the class is
// the policy's (an unknown cors_class is reported as the fallback class),
// the rest come from closed sets or the policy file.
//
// The metadata depends only on the verdict and the policy snapshot, so a
// response shared between requests (a cached or static answer) carries it
// in its pre-encoded bytes at no cost per request.

// MetadataKey is the key of the decision in the ext_authz metadata namespace.
const MetadataKey = "cors_authz"

// The fields of the decision.
const (
	MetadataClass            = "class"
	MetadataKind             = "kind"
	MetadataReason           = "reason"
	MetadataPolicySHA256     = "policy_sha256"
	MetadataPolicyGeneration = "policy_generation"
)

// ShortSHA256Len is how many hex digits of the policy's sha256 the
// metadata carries: enough to tell policy files apart (compare /policy's
// full sha256, or cors_authz_policy_info's), short enough for a log line.
const ShortSHA256Len = 12

// Decision is what the metadata of one answer says.
type Decision struct {
	Class      string        // the class that decided (its name)
	Kind       policy.Kind   // what the request is
	Reason     policy.Reason // why the verdict is what it is
	SHA256     string        // the policy file's sha256, hex; "" before a policy is loaded
	Generation uint64        // the policy's generation; 0 before a policy is loaded
}

// Metadata returns the dynamic_metadata that says d. The result is
// immutable: responses share it.
func Metadata(d Decision) *structpb.Struct {
	sum := d.SHA256
	if len(sum) > ShortSHA256Len {
		sum = sum[:ShortSHA256Len]
	}
	str := func(s string) *structpb.Value {
		return &structpb.Value{Kind: &structpb.Value_StringValue{StringValue: s}}
	}
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		MetadataKey: {Kind: &structpb.Value_StructValue{StructValue: &structpb.Struct{Fields: map[string]*structpb.Value{
			MetadataClass:            str(d.Class),
			MetadataKind:             str(d.Kind.String()),
			MetadataReason:           str(string(d.Reason)),
			MetadataPolicySHA256:     str(sum),
			MetadataPolicyGeneration: str(strconv.FormatUint(d.Generation, 10)),
		}}}},
	}}
}

// DecisionMetadata is one decision's metadata made once for every
// response that carries it: the Struct, and its encoding as the
// dynamic_metadata field of a CheckResponse, which PreEncoded appends
// instead of marshalling the Struct (a map, sorted on every deterministic
// marshal) again for each new shared response.
type DecisionMetadata struct {
	md    *structpb.Struct
	field []byte // the dynamic_metadata field: tag, length, encoded Struct
}

// dynamicMetadataField is CheckResponse.dynamic_metadata's field number.
var dynamicMetadataField = (&authv3.CheckResponse{}).ProtoReflect().Descriptor().Fields().ByName("dynamic_metadata").Number()

// NewDecisionMetadata returns the metadata of d (Metadata) with its
// encoding.
func NewDecisionMetadata(d Decision) *DecisionMetadata {
	m := &DecisionMetadata{md: Metadata(d)}
	if b, err := marshalOptions.Marshal(m.md); err == nil {
		m.field = protowire.AppendBytes(protowire.AppendTag(nil, dynamicMetadataField, protowire.BytesType), b)
	}
	return m
}

// Struct is the metadata, shared: it must not be modified.
func (m *DecisionMetadata) Struct() *structpb.Struct { return m.md }

// ResponseWithMetadata is Response(v) carrying md (from Metadata) as its
// dynamic_metadata. md is shared, not copied.
func ResponseWithMetadata(v *policy.Verdict, md *structpb.Struct) *authv3.CheckResponse {
	resp := Response(v)
	resp.DynamicMetadata = md
	return resp
}

// DecisionOf reads the decision metadata of resp: the fields under
// MetadataKey, and whether resp carries them.
func DecisionOf(resp *authv3.CheckResponse) (fields map[string]string, ok bool) {
	v := resp.GetDynamicMetadata().GetFields()[MetadataKey]
	if v == nil {
		return nil, false
	}
	fields = map[string]string{}
	for k, f := range v.GetStructValue().GetFields() {
		fields[k] = f.GetStringValue()
	}
	return fields, true
}
