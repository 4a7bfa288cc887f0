package envoyauth

import (
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// NewCodec returns the gRPC codec of a server pkg/check's Service is registered on,
// to install with grpc.ForceServerCodecV2(envoyauth.NewCodec()). It is gRPC's
// standard protobuf codec (name "proto"), except that a *PreEncoded reply
// is written from its stored bytes instead of being marshalled: the
// service's shared responses then cost no encoding per call.
//
// A *Decoded request (what pkg/check's handler decodes into) is read
// selectively: only the fields a CORS decision uses, with no message built
// (see Decoded).
//
// Every other message (a *CheckRequest, the health and reflection
// services' messages, responses built for one request) goes to the
// standard codec unchanged, so the codec is safe for every service on the
// server.
func NewCodec() encoding.CodecV2 {
	return codec{std: encoding.GetCodecV2(grpcproto.Name)}
}

type codec struct{ std encoding.CodecV2 }

// Marshal returns the stored encoding of a *PreEncoded (gRPC frees the
// returned slice's buffers after writing them; a mem.SliceBuffer's Free is
// a no-op, so the shared bytes are never recycled), and the standard
// codec's marshalling of anything else.
func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	if p, ok := v.(*PreEncoded); ok {
		if b := p.wire(); b != nil {
			return mem.BufferSlice{b}, nil
		}
	}
	return c.std.Marshal(v)
}

// Unmarshal decodes a *Decoded selectively (Decoded.Unmarshal: only what a
// CORS decision reads, without building the message), and anything else
// with the standard codec.
func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	d, ok := v.(*Decoded)
	if !ok {
		return c.std.Unmarshal(data, v)
	}
	// One buffer (the usual case) is read in place; Decoded keeps no
	// reference to it.
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return d.Unmarshal(buf.ReadOnlyData())
}

// Name is "proto": the codec replaces gRPC's protobuf codec on the server
// and speaks the same content-subtype.
func (c codec) Name() string { return grpcproto.Name }
