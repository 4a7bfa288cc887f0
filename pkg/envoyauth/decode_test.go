package envoyauth_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/pkg/envoyauth"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// standardView is what the service read before selective decoding:
// proto.Unmarshal, then ReadRequest.
func standardView(b []byte) (r policy.Request, ok bool, err error) {
	var req authv3.CheckRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		return r, false, err
	}
	ok = envoyauth.ReadRequest(&req, &r)
	return r, ok, nil
}

// assertSameAsStandard: Decoded.Unmarshal fails exactly when
// proto.Unmarshal does, and otherwise gives ReadRequest's view.
func assertSameAsStandard(t testing.TB, b []byte) (policy.Request, bool, error) {
	t.Helper()
	want, wantOK, wantErr := standardView(b)
	var d envoyauth.Decoded
	err := d.Unmarshal(b)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("Decoded.Unmarshal error %v, proto.Unmarshal error %v\ninput %x", err, wantErr, head(b))
	}
	var got policy.Request
	ok := d.Request(&got)
	if err == nil && (ok != wantOK || got != want) {
		t.Fatalf("Decoded view %v %+v\nstandard     %v %+v\ninput %x", ok, got, wantOK, want, head(b))
	}
	return got, ok, err
}

// head is b, cut for a failure message.
func head(b []byte) []byte {
	if len(b) > 256 {
		return b[:256]
	}
	return b
}

// Wire-building shorthands.
func tag(b []byte, num protowire.Number, typ protowire.Type) []byte {
	return protowire.AppendTag(b, num, typ)
}
func str(b []byte, num protowire.Number, s string) []byte {
	return protowire.AppendString(tag(b, num, protowire.BytesType), s)
}
func msg(b []byte, num protowire.Number, parts ...[]byte) []byte {
	var m []byte
	for _, p := range parts {
		m = append(m, p...)
	}
	return protowire.AppendBytes(tag(b, num, protowire.BytesType), m)
}
func entry(num protowire.Number, k, v string) []byte {
	return msg(nil, num, str(nil, 1, k), str(nil, 2, v))
}
func varint(b []byte, num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(tag(b, num, protowire.VarintType), v)
}

// CheckRequest{attributes{request{http{...}}}} and friends. Field numbers:
// CheckRequest.attributes 1; AttributeContext.request 4,
// context_extensions 10, source 1; Request.http 2; HttpRequest.method 2,
// headers 3, path 4, host 5, scheme 6, header_map 13, id 1; HeaderMap.headers
// 1; HeaderValue key 1, value 2, raw_value 3.
func httpReq(parts ...[]byte) []byte { return msg(nil, 1, msg(nil, 4, msg(nil, 2, parts...))) }
func hv(k, raw string) []byte {
	return msg(nil, 1, str(nil, 1, k), protowire.AppendBytes(tag(nil, 3, protowire.BytesType), []byte(raw)))
}

func TestDecodedWireCases(t *testing.T) {
	const o = "https://a.example"
	tests := []struct {
		name    string
		b       []byte
		wantErr bool
		ok      bool
		want    policy.Request
	}{
		{"empty message", nil, false, false, policy.Request{}},
		{"http present, empty", httpReq(), false, true, policy.Request{}},
		{"request line and Origin (map)", httpReq(str(nil, 2, "GET"), str(nil, 4, "/p"), str(nil, 5, "h"), str(nil, 6, "https"), entry(3, "origin", o)),
			false, true, policy.Request{Method: "GET", Path: "/p", Host: "h", Scheme: "https", Origin: o, HasOrigin: true}},
		{"last one wins for scalars", httpReq(str(nil, 2, "GET"), str(nil, 2, "PUT"), str(nil, 4, "/a"), str(nil, 4, "/b")),
			false, true, policy.Request{Method: "PUT", Path: "/b"}},
		{"out of order: headers before the request line", httpReq(entry(3, "origin", o), str(nil, 6, "https"), str(nil, 2, "GET")),
			false, true, policy.Request{Method: "GET", Scheme: "https", Origin: o, HasOrigin: true}},
		{"repeated http and attributes merge",
			append(httpReq(str(nil, 2, "GET")), append(httpReq(entry(3, "origin", o)), msg(nil, 1, msg(nil, 10, str(nil, 1, "cors_class"), str(nil, 2, "api")))...)...),
			false, true, policy.Request{Method: "GET", Origin: o, HasOrigin: true, ClassHint: "api"}},
		{"unknown fields at every level", append(varint(nil, 99, 1), msg(nil, 1, varint(nil, 77, 5), msg(nil, 4, str(nil, 50, "x"), msg(nil, 2,
			varint(nil, 40, 1), msg(nil, 3, varint(nil, 9, 1), str(nil, 1, "origin"), str(nil, 2, o)))))...),
			false, true, policy.Request{Origin: o, HasOrigin: true}},
		{"wrong wire type for a known field is an unknown field", httpReq(varint(nil, 2, 7), str(nil, 4, "/p"), varint(nil, 3, 1)),
			false, true, policy.Request{Path: "/p"}},
		{"map entry without key", httpReq(msg(nil, 3, str(nil, 2, "v"))), false, true, policy.Request{}},
		{"map entry without value: an empty Origin", httpReq(msg(nil, 3, str(nil, 1, "origin"))),
			false, true, policy.Request{HasOrigin: true}},
		{"map entry fields repeated and reversed", httpReq(msg(nil, 3, str(nil, 2, "x"), str(nil, 1, "cookie"), str(nil, 1, "origin"), str(nil, 2, o))),
			false, true, policy.Request{Origin: o, HasOrigin: true}},
		{"same map key twice: the last entry wins", httpReq(entry(3, "origin", "https://first.example"), entry(3, "origin", o)),
			false, true, policy.Request{Origin: o, HasOrigin: true}},
		{"map keys are exact", httpReq(entry(3, "Origin", o)), false, true, policy.Request{}},
		{"an entry of any key selects the map encoding", httpReq(entry(3, "x", "y"), msg(nil, 13, hv("origin", o))),
			false, true, policy.Request{}},
		{"header_map: lines joined, any case, value fallback", httpReq(msg(nil, 13, hv("Origin", o), msg(nil, 1, str(nil, 1, "ORIGIN"), str(nil, 2, "https://b.example")))),
			false, true, policy.Request{Origin: o + ",https://b.example", HasOrigin: true}},
		{"header_map: raw bytes that are not UTF-8 are kept", httpReq(msg(nil, 13, hv("origin", "\xff\xfe"))),
			false, true, policy.Request{Origin: "\xff\xfe", HasOrigin: true}},
		{"header_map lines across two header_map fields", httpReq(msg(nil, 13, hv("origin", "a")), str(nil, 2, "GET"), msg(nil, 13, hv("origin", "b"))),
			false, true, policy.Request{Method: "GET", Origin: "a,b", HasOrigin: true}},
		{"pseudo-headers fill empty request-line fields", httpReq(str(nil, 2, ""), entry(3, ":method", "DELETE"), entry(3, ":path", "/q")),
			false, true, policy.Request{Method: "DELETE", Path: "/q"}},
		{"cors_class: last entry wins, even empty", msg(nil, 1, msg(nil, 10, str(nil, 1, "cors_class"), str(nil, 2, "a")), msg(nil, 10, str(nil, 1, "cors_class")),
			msg(nil, 4, msg(nil, 2))), false, true, policy.Request{}},
		{"invalid UTF-8 in a skipped map value", httpReq(entry(3, "user-agent", "\xff")), true, false, policy.Request{}},
		{"invalid UTF-8 in a skipped map key", httpReq(entry(3, "\xff", "x")), true, false, policy.Request{}},
		{"invalid UTF-8 in a peer principal", msg(nil, 1, msg(nil, 1, str(nil, 4, "\xc3"))), true, false, policy.Request{}},
		{"valid non-ASCII UTF-8 in a peer principal", append(msg(nil, 1, msg(nil, 1, str(nil, 4, "spiffe://\u00e9t\u00e9"))), httpReq(str(nil, 2, "GET"))...),
			false, true, policy.Request{Method: "GET"}},
		{"invalid UTF-8 in a metadata Struct string, deep in an ASCII-looking subtree",
			msg(nil, 1, msg(nil, 11, msg(nil, 1, str(nil, 1, "f"), msg(nil, 2, msg(nil, 1, str(nil, 1, "k"), msg(nil, 2, str(nil, 3, "ok\x80"))))))),
			true, false, policy.Request{}},
		{"invalid UTF-8 in a metadata Struct key", msg(nil, 1, msg(nil, 11, msg(nil, 1, str(nil, 1, "f"), msg(nil, 2, msg(nil, 1, str(nil, 1, "k\xff"), msg(nil, 2)))))),
			true, false, policy.Request{}},
		{"invalid UTF-8 in a peer label value", msg(nil, 1, msg(nil, 2, entry(3, "app", "\xe2\x82"))), true, false, policy.Request{}},
		{"invalid UTF-8 in a long header value (two-byte length)", httpReq(entry(3, "cookie", strings.Repeat("a", 300)+"\xc3(")), true, false, policy.Request{}},
		{"headers entry under a non-minimal tag and length", httpReq(append([]byte{0x9a, 0x00, 0x80 | byte(len(entry(3, "origin", o))-2), 0x80, 0x00}, entry(3, "origin", o)[2:]...)),
			false, true, policy.Request{Origin: o, HasOrigin: true}},
		{"header_map line under a three-byte length", httpReq(msg(nil, 13, append([]byte{0x0a, 0x80 | byte(len(hv("origin", o))-2), 0x80, 0x00}, hv("origin", o)[2:]...))),
			false, true, policy.Request{Origin: o, HasOrigin: true}},
		{"headers entry length past the message", httpReq([]byte{0x1a, 0x05, 0x0a}), true, false, policy.Request{}},
		{"invalid UTF-8 in a header_map key", httpReq(msg(nil, 13, hv("\xff", "x"))), true, false, policy.Request{}},
		{"invalid UTF-8 in an unknown field is fine", httpReq(str(nil, 99, "\xff"), str(nil, 2, "GET")), false, true, policy.Request{Method: "GET"}},
		{"truncated length", append(tag(nil, 1, protowire.BytesType), 0x05, 0x0a), true, false, policy.Request{}},
		{"truncated varint", []byte{0x08, 0x80}, true, false, policy.Request{}},
		{"field number 0", []byte{0x00, 0x00}, true, false, policy.Request{}},
		{"reserved wire type", []byte{0x0e}, true, false, policy.Request{}},
		{"end group at the top", []byte{0x0c}, true, false, policy.Request{}},
		{"unknown group, well formed", append([]byte{0x1b, 0x08, 0x01, 0x1c}, httpReq(str(nil, 2, "GET"))...), false, true, policy.Request{Method: "GET"}},
		{"unknown group, unterminated", []byte{0x1b, 0x08, 0x01}, true, false, policy.Request{}},
		{"group wire type on a message field", []byte{0x0b, 0x0c}, false, false, policy.Request{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := assertSameAsStandard(t, tt.b)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (ok != tt.ok || got != tt.want) {
				t.Errorf("view %v %+v\nwant %v %+v", ok, got, tt.ok, tt.want)
			}
		})
	}
}

func TestDecodedRecursionLimit(t *testing.T) {
	build := func(depth int) []byte {
		// Value{list_value: ListValue{values: [Value{...}]}}, depth times.
		// val is a Value's content.
		val := []byte{}
		for range depth {
			list := msg(nil, 1, val) // ListValue{values: [Value{val}]}
			val = msg(nil, 6, list)  // Value{list_value: ListValue{...}}
		}
		st := msg(nil, 1, str(nil, 1, "v"), msg(nil, 2, val)) // Struct.fields entry
		md := msg(nil, 1, str(nil, 1, "k"), msg(nil, 2, st))  // Metadata.filter_metadata entry
		return append(msg(nil, 1, msg(nil, 11, md)), httpReq(str(nil, 2, "GET"))...)
	}
	refused := 0
	for _, depth := range []int{1, 100, 4995, 4996, 4997, 4998, 6000} {
		_, _, err := assertSameAsStandard(t, build(depth))
		if err != nil {
			refused++
		}
	}
	if refused == 0 {
		t.Error("no nesting depth was refused: the limit is not exercised")
	}
}

// realisticRequests are requests shaped as Envoy sends them, both
// encodings, actual and preflight.
func realisticRequests(n int) [][]byte {
	var out [][]byte
	for i := range n {
		for _, raw := range []bool{false, true} {
			for _, pre := range []bool{false, true} {
				method := "GET"
				var opts []checktest.Option
				if raw {
					opts = append(opts, checktest.Raw())
				}
				if pre {
					method = "OPTIONS"
					opts = append(opts, checktest.Preflight("PUT", "authorization,content-type"))
				}
				if i%3 == 0 {
					opts = append(opts, checktest.Class("public-api"))
				}
				b, err := proto.Marshal(checktest.RealisticRequest(method, "/api/v1/orders?page=2", "https://reports.example.org", i, opts...))
				if err != nil {
					panic(err)
				}
				out = append(out, b)
			}
		}
	}
	return out
}

func TestDecodedRealistic(t *testing.T) {
	for i, b := range realisticRequests(8) {
		got, ok, err := assertSameAsStandard(t, b)
		if err != nil || !ok || got.Origin != "https://reports.example.org" || got.Host != checktest.DefaultHost {
			t.Fatalf("request %d: %v %v %+v", i, err, ok, got)
		}
	}
}

// TestDecodedTruncated: every prefix of a realistic request.
func TestDecodedTruncated(t *testing.T) {
	reqs := realisticRequests(1)
	for _, b := range reqs[:2] {
		for n := range len(b) {
			assertSameAsStandard(t, b[:n])
		}
	}
}

// TestDecodedStringsOwned: the view does not point into the input, which
// gRPC recycles after decoding.
func TestDecodedStringsOwned(t *testing.T) {
	for _, b := range realisticRequests(2) {
		var d envoyauth.Decoded
		if err := d.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		var before policy.Request
		d.Request(&before)
		for i := range b {
			b[i] = 'X'
		}
		var after policy.Request
		d.Request(&after)
		if before != after || after.Origin != "https://reports.example.org" {
			t.Fatalf("view changed with the input buffer: %+v -> %+v", before, after)
		}
	}
	long := "https://" + fmt.Sprintf("%0500d", 7) + ".example"
	b := httpReq(str(nil, 4, "/p"), entry(3, "origin", long))
	var d envoyauth.Decoded
	if err := d.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'X'
	}
	var r policy.Request
	d.Request(&r)
	if r.Origin != long || r.Path != "/p" {
		t.Fatalf("a value past the inline buffer changed with the input: %+v", r)
	}
}

// TestDecodedThroughProtoReflect: a codec that does not know Decoded
// decodes the whole message into it; the view is the same.
func TestDecodedThroughProtoReflect(t *testing.T) {
	for _, b := range realisticRequests(1) {
		var d envoyauth.Decoded
		if err := proto.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		var got policy.Request
		ok := d.Request(&got)
		want, wantOK, _ := standardView(b)
		if ok != wantOK || got != want {
			t.Fatalf("view %+v, want %+v", got, want)
		}
	}
}

// TestDecodedReflectedAfterUnmarshal: reading a selectively decoded
// Decoded through reflection (a gRPC stats handler sizing or logging the
// payload it is handed after decoding) does not change its view (it made
// every request look like one without HTTP attributes); Unmarshal after a
// proto.Unmarshal replaces the view.
func TestDecodedReflectedAfterUnmarshal(t *testing.T) {
	reqs := realisticRequests(2)
	for i, b := range reqs {
		want, wantOK, _ := standardView(b)
		var d envoyauth.Decoded
		if err := d.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		_ = proto.Size(&d)
		var got policy.Request
		if ok := d.Request(&got); ok != wantOK || got != want {
			t.Fatalf("request %d: view after proto.Size %v %+v, want %v %+v", i, ok, got, wantOK, want)
		}

		var full envoyauth.Decoded
		if err := proto.Unmarshal(reqs[(i+1)%len(reqs)], &full); err != nil {
			t.Fatal(err)
		}
		if err := full.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		if ok := full.Request(&got); ok != wantOK || got != want {
			t.Fatalf("request %d: view after proto.Unmarshal then Unmarshal %v %+v, want %v %+v", i, ok, got, wantOK, want)
		}
	}
}

func TestDecodedAllocs(t *testing.T) {
	for i, b := range realisticRequests(1) {
		var d envoyauth.Decoded
		if n := testing.AllocsPerRun(100, func() { _ = d.Unmarshal(b) }); n != 0 {
			t.Errorf("request %d: %v allocs per Unmarshal, want 0", i, n)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	reqs := realisticRequests(16)
	names := []string{"map/actual", "map/preflight", "header_map/actual", "header_map/preflight"}
	for k, name := range names {
		var set [][]byte
		for i := k; i < len(reqs); i += 4 {
			set = append(set, reqs[i])
		}
		size := 0
		for _, r := range set {
			size += len(r)
		}
		b.Run("selective/"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(size/len(set)), "bytes/req")
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
		b.Run("standard/"+name, func(b *testing.B) {
			b.ReportAllocs()
			var r policy.Request
			i := 0
			for b.Loop() {
				var req authv3.CheckRequest
				if err := proto.Unmarshal(set[i%len(set)], &req); err != nil {
					b.Fatal(err)
				}
				envoyauth.ReadRequest(&req, &r)
				i++
			}
		})
	}
}

// FuzzDecoded is the differential target: over arbitrary bytes and mutated
// realistic requests (both encodings, actual and preflight), Decoded fails
// exactly when proto.Unmarshal does and otherwise gives ReadRequest's view
// of the message it builds.
func FuzzDecoded(f *testing.F) {
	for _, b := range realisticRequests(3) {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add(httpReq(str(nil, 2, "GET"), entry(3, "origin", "https://a.example"), msg(nil, 13, hv("Origin", "https://b.example"))))
	f.Add(append(httpReq(entry(3, ":method", "PUT")), msg(nil, 1, msg(nil, 10, str(nil, 1, "cors_class"), str(nil, 2, "api")))...))
	f.Fuzz(func(t *testing.T, b []byte) {
		assertSameAsStandard(t, b)
	})
}

// TestDecodedMutated: deterministic mutations of realistic requests (byte
// changes, truncations, duplicated and dropped spans) decode as
// proto.Unmarshal and ReadRequest do; the fuzz target explores further.
func TestDecodedMutated(t *testing.T) {
	reqs := realisticRequests(2)
	r := rand.New(rand.NewPCG(14, 10))
	for i := range 5000 {
		b := append([]byte(nil), reqs[i%len(reqs)]...)
		switch i % 4 {
		case 0: // change bytes
			for range 1 + r.IntN(4) {
				b[r.IntN(len(b))] = byte(r.IntN(256))
			}
		case 1: // truncate
			b = b[:r.IntN(len(b))]
		case 2: // duplicate a span (repeated fields, broken lengths)
			lo := r.IntN(len(b))
			hi := lo + r.IntN(len(b)-lo)
			b = append(b[:hi:hi], b[lo:]...)
		case 3: // drop a span
			lo := r.IntN(len(b))
			hi := lo + r.IntN(len(b)-lo)
			b = append(b[:lo:lo], b[hi:]...)
		}
		assertSameAsStandard(t, b)
	}
}
