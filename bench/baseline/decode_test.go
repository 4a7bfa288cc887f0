package baseline

import (
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/bench/fixture"
	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// decodeSets are realistic requests (fixture.RealisticCheckRequest) by
// encoding and kind, as BenchmarkDecode's sub-benchmark names say them.
func decodeSets(t testing.TB) map[string][][]byte {
	sets := map[string][][]byte{}
	for _, raw := range []bool{false, true} {
		enc := "map"
		if raw {
			enc = "header_map"
		}
		for _, c := range []fixture.Case{fixture.Cases[0], fixture.Cases[2]} {
			kind := "actual"
			if c.Preflight {
				kind = "preflight"
			}
			for id := range 16 {
				b, err := proto.Marshal(fixture.RealisticCheckRequest(c, id, raw))
				if err != nil {
					t.Fatal(err)
				}
				sets[enc+"/"+kind] = append(sets[enc+"/"+kind], b)
			}
		}
	}
	return sets
}

// BenchmarkDecode: what the server does with a realistic CheckRequest's
// bytes before deciding: selective decoding into the request view
// (envoyauth.Decoded, what serve's codec does) against the standard way,
// proto.Unmarshal of the whole message then the request view.
func BenchmarkDecode(b *testing.B) {
	sets := decodeSets(b)
	for _, name := range []string{"map/actual", "map/preflight", "header_map/actual", "header_map/preflight"} {
		set := sets[name]
		b.Run(name+"/selective", func(b *testing.B) {
			b.ReportAllocs()
			var d envoyauth.Decoded
			var r policy.Request
			i := 0
			for b.Loop() {
				if err := d.Unmarshal(set[i%len(set)]); err != nil {
					b.Fatal(err)
				}
				d.Request(&r)
				i++
			}
		})
		b.Run(name+"/standard", func(b *testing.B) {
			b.ReportAllocs()
			var r policy.Request
			i := 0
			for b.Loop() {
				req := new(authv3.CheckRequest)
				if err := proto.Unmarshal(set[i%len(set)], req); err != nil {
					b.Fatal(err)
				}
				envoyauth.ReadRequest(req, &r)
				i++
			}
		})
	}
}

// TestDecodeSameView: both ways give the same view of every benchmarked
// request, so BenchmarkDecode compares equal work.
func TestDecodeSameView(t *testing.T) {
	for name, set := range decodeSets(t) {
		for i, b := range set {
			var d envoyauth.Decoded
			if err := d.Unmarshal(b); err != nil {
				t.Fatal(err)
			}
			var got, want policy.Request
			d.Request(&got)
			var req authv3.CheckRequest
			if err := proto.Unmarshal(b, &req); err != nil {
				t.Fatal(err)
			}
			envoyauth.ReadRequest(&req, &want)
			if got != want || got.Origin == "" || got.ClassHint != fixture.ClassName {
				t.Errorf("%s #%d: selective %+v, standard %+v", name, i, got, want)
			}
		}
	}
}
