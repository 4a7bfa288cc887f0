package envoyauth

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestHeaderValueFieldNumbers: the decoder's names for HeaderValue's
// fields are the generated message's.
func TestHeaderValueFieldNumbers(t *testing.T) {
	fields := (&corev3.HeaderValue{}).ProtoReflect().Descriptor().Fields()
	for name, want := range map[string]protowire.Number{"key": hvKey, "value": hvValue, "raw_value": hvRawValue} {
		fd := fields.ByName(protoreflect.Name(name))
		if fd == nil {
			t.Fatalf("HeaderValue has no field %q", name)
		}
		if got := protowire.Number(fd.Number()); got != want {
			t.Errorf("HeaderValue.%s is field %d, the decoder reads %d", name, got, want)
		}
	}
}
