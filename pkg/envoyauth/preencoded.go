package envoyauth

import (
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// PreEncoded is a shared, immutable CheckResponse together with its wire
// encoding, marshalled once when the response is built. The service keeps
// one next to every response it shares between requests (the verdict
// cache's entries, the per-class static responses), and its gRPC handler
// returns it instead of the response, so the codec (NewCodec) writes the
// stored bytes instead of marshalling the same message again on every call.
//
// A PreEncoded is a proto.Message that reflects as its response: a codec
// that does not know the type (a server without NewCodec, a binary logger)
// marshals the response itself and gets the same bytes, just not for free.
//
// Use PreEncode (or Init); the zero value is not usable.
type PreEncoded struct {
	resp *authv3.CheckResponse
	buf  mem.Buffer // mem.SliceBuffer of resp's encoding; nil if it could not be encoded
}

// marshalOptions encode the shared responses. Deterministic: the bytes are
// the same for every build of an equal response (map-free messages encode
// deterministically anyway; this says it).
var marshalOptions = proto.MarshalOptions{Deterministic: true}

// PreEncode returns resp with its wire encoding. resp must not be modified
// afterwards. If resp cannot be marshalled (a string field that is not
// valid UTF-8, which Envoy never sends), the PreEncoded has no bytes and
// the codec marshals resp per call, failing as it would have without
// pre-encoding.
func PreEncode(resp *authv3.CheckResponse) *PreEncoded {
	p := new(PreEncoded)
	p.Init(resp)
	return p
}

// Init is PreEncode in place: it sets p to resp with its wire encoding, for
// a PreEncoded embedded by value in a longer-lived struct (the service's
// cache entries and static answers, one allocation each). resp must not be
// modified afterwards, nor p re-initialised once shared.
func (p *PreEncoded) Init(resp *authv3.CheckResponse) {
	p.resp = resp
	if b, err := marshalOptions.Marshal(resp); err == nil {
		p.buf = mem.SliceBuffer(b)
	}
}

// InitWithMetadata is Init for resp carrying m as its dynamic_metadata
// (it sets resp.DynamicMetadata). resp must be new: not yet shared nor
// carrying metadata. The encoding is resp's without the metadata with m's
// stored field spliced in where a marshal of the whole response puts it
// (after status, before the ok/denied oneof), so the bytes are the same
// without marshalling the metadata again. Which position that is, is the
// protobuf runtime's business: TestMetadataInBothEncodings compares the
// two, and a response this splice does not cover is marshalled whole.
func (p *PreEncoded) InitWithMetadata(resp *authv3.CheckResponse, m *DecisionMetadata) {
	p.resp = resp
	resp.DynamicMetadata = nil
	b, err := marshalOptions.Marshal(resp)
	resp.DynamicMetadata = m.md
	if err != nil {
		return
	}
	// The status field comes first (field 1); the metadata follows it.
	at := 0
	if num, typ, n := protowire.ConsumeTag(b); n > 0 && num == statusField {
		if l := protowire.ConsumeFieldValue(num, typ, b[n:]); l >= 0 {
			at = n + l
		}
	}
	if m.field == nil || at == 0 || resp.GetErrorResponse() != nil {
		if b, err = marshalOptions.Marshal(resp); err == nil {
			p.buf = mem.SliceBuffer(b)
		}
		return
	}
	out := make([]byte, 0, len(b)+len(m.field))
	out = append(append(append(out, b[:at]...), m.field...), b[at:]...)
	p.buf = mem.SliceBuffer(out)
}

// statusField is CheckResponse.status's field number.
var statusField = (&authv3.CheckResponse{}).ProtoReflect().Descriptor().Fields().ByName("status").Number()

// Response returns the response p holds. It must not be modified.
func (p *PreEncoded) Response() *authv3.CheckResponse { return p.resp }

// ProtoReflect returns the reflection view of p's response, which makes p a
// proto.Message that marshals (and compares) as the response.
func (p *PreEncoded) ProtoReflect() protoreflect.Message { return p.resp.ProtoReflect() }

// Encoded returns p's stored encoding, nil if it has none. The bytes are
// shared and must not be modified.
func (p *PreEncoded) Encoded() []byte {
	if p.buf == nil {
		return nil
	}
	return p.buf.ReadOnlyData()
}

// wire returns p's encoding as the codec writes it, nil if it has none.
func (p *PreEncoded) wire() mem.Buffer { return p.buf }
