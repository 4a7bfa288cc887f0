package envoyauth

import (
	"encoding/binary"
	"errors"
	"strings"
	"unicode/utf8"
	"unsafe"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Decoded is a CheckRequest read for a CORS decision: the request view
// ReadRequest would give, decoded straight from the wire (Unmarshal)
// without building the message. The server codec (NewCodec) fills it when
// the Check handler asks for one; pkg/check's handler does.
//
// Unmarshal reads only what the decision uses (the request-line fields of
// attributes.request.http, the origin, access-control-request-* and
// pseudo-headers in either header encoding, context_extensions'
// cors_class) and walks everything else without keeping it, yet it accepts
// and refuses exactly the inputs proto.Unmarshal accepts and refuses
// (malformed wire data, invalid UTF-8 in any string field, nesting past the
// recursion limit), and its view is exactly ReadRequest's of the message
// proto.Unmarshal builds: the differential fuzz target (FuzzDecoded) holds
// it to that.
//
// The view's strings live in the Decoded value itself (a small inline
// buffer; longer values get their own allocation), so decoding a realistic
// request allocates nothing beyond the Decoded, and keeping a view string
// keeps its Decoded alive. Unmarshal reuses that buffer: a view read
// before it must not be used after it.
//
// A Decoded is also a proto.Message that reflects as a full CheckRequest:
// a codec that does not know the type (a server without NewCodec) decodes
// the whole message into it with proto.Unmarshal, and Request reads that
// message with ReadRequest. Either way the view is the same. After
// Unmarshal the message is not built: ProtoReflect then reflects an empty
// CheckRequest (what a gRPC stats handler handed the payload sees), and
// reading it leaves the view as Unmarshal made it. A Decoded is filled
// once, one way or the other, as gRPC does with each request.
type Decoded struct {
	view      policy.Request
	ok        bool
	selective bool                 // the view is Unmarshal's
	full      *authv3.CheckRequest // set when reflected (ProtoReflect)

	used  int
	arena [arenaSize]byte
}

// arenaSize is the inline room for a view's strings: method, scheme, host,
// path, origin, the access-control-request-* values and the class of a
// typical request fit.
const arenaSize = 320

// Request fills r with the request view and reports whether the request
// carried attributes.request.http, as ReadRequest does.
func (d *Decoded) Request(r *policy.Request) bool {
	if !d.selective && d.full != nil {
		return ReadRequest(d.full, r)
	}
	*r = d.view
	return d.ok
}

// ProtoReflect makes a Decoded a proto.Message: the reflection of a full
// CheckRequest that proto.Unmarshal fills (see Decoded).
func (d *Decoded) ProtoReflect() protoreflect.Message {
	if d.full == nil {
		d.full = new(authv3.CheckRequest)
	}
	return d.full.ProtoReflect()
}

// Errors of Unmarshal: proto.Unmarshal fails on the same inputs.
var (
	errDecode      = errors.New("envoyauth: malformed CheckRequest")
	errInvalidUTF8 = errors.New("envoyauth: CheckRequest string field is not valid UTF-8")
	errDepth       = errors.New("envoyauth: CheckRequest nested too deeply")
)

// Unmarshal decodes b, a serialised CheckRequest, replacing d's content.
// b is not retained. It fails exactly when proto.Unmarshal(b, &req) does.
func (d *Decoded) Unmarshal(b []byte) error {
	d.full, d.used, d.ok, d.view, d.selective = nil, 0, false, policy.Request{}, true
	w := wireFields{scan: len(b)}
	if err := w.message(b, tblCheckRequest, protowire.DefaultRecursionLimit); err != nil {
		return err
	}
	if !w.hasHTTP {
		return nil
	}
	f := &w.raw
	if w.hasMap {
		f = &w.mapped
	}
	f.method, f.scheme, f.host, f.path, f.class = w.method, w.scheme, w.host, w.path, w.class
	f.assemble(&d.view)
	d.ok = true
	// The view's strings may point into b: copy them into d.
	v := &d.view
	for _, s := range [...]*string{&v.Method, &v.Scheme, &v.Host, &v.Path, &v.Origin, &v.ACRM, &v.ACRH, &v.ACRPN, &v.ClassHint} {
		*s = d.keep(*s, b)
	}
	return nil
}

// keep returns s, copied into d's arena (or a fresh allocation when it is
// full) if s points into b.
func (d *Decoded) keep(s string, b []byte) string {
	if len(s) == 0 || len(b) == 0 {
		return s
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if p < lo || p >= lo+uintptr(len(b)) {
		return s // not from b (a joined header_map value)
	}
	if len(s) > len(d.arena)-d.used {
		return strings.Clone(s)
	}
	n := copy(d.arena[d.used:], s)
	out := unsafe.String(&d.arena[d.used], n)
	d.used += n
	return out
}

// alias returns the bytes v as a string without copying. The string is
// only used while the buffer it points into is alive (Unmarshal copies out
// what it keeps).
func alias(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(v), len(v))
}

// wireFields collects the fields a decision reads while Unmarshal walks the
// wire: the request line, the class, and the headers of each encoding
// (fields of the same kind as ReadRequest's, so assembly is shared).
type wireFields struct {
	hasHTTP, hasMap            bool
	method, scheme, host, path string
	class                      string
	mapped, raw                fields

	// scan is how many more bytes asciiSpan may read: at most the
	// input's length in all, so that nesting cannot make it quadratic.
	scan int
}

// asciiSpan reports whether the message b, off the view's path, is all
// ASCII, when the scan budget allows reading it. Every byte of such a
// message is below 0x80, so every string in it, at any depth, is valid
// UTF-8 and the walk checks only its structure: one pass over the bytes
// instead of a check per string.
func (w *wireFields) asciiSpan(b []byte) bool {
	if len(b) > w.scan {
		return false
	}
	w.scan -= len(b)
	return isASCII(b)
}

// The messages of a CheckRequest, as tables for the walk: for each field
// number, what proto.Unmarshal does with it, and which of them the view
// reads. Built from the generated descriptors (init), so every string
// field is validated as the generated code validates it.
type (
	fieldKind uint8
	fieldInfo struct {
		kind fieldKind
		sub  *msgTable // message kinds: the message, or the map value's
		hook hook      // what the view reads from this field
	}
	msgTable struct {
		fields []fieldInfo // by field number; kindUnknown past the end
	}
	hook uint8
)

const (
	kindUnknown    fieldKind = iota // not a field of the message
	kindScalar                      // numbers, bools, enums, bytes: structure only
	kindString                      // UTF-8 validated
	kindMessage                     // singular or repeated message
	kindMapString                   // map<string, string>
	kindMapMessage                  // map<string, message>
)

const (
	hookNone          hook = iota
	hookAttributes         // CheckRequest.attributes
	hookRequest            // AttributeContext.request
	hookContextExt         // AttributeContext.context_extensions
	hookHTTP               // AttributeContext.Request.http
	hookMethod             // HttpRequest.method
	hookPath               // HttpRequest.path
	hookHost               // HttpRequest.host
	hookScheme             // HttpRequest.scheme
	hookHeaders            // HttpRequest.headers
	hookHeaderMap          // HttpRequest.header_map
	hookHeaderMapLine      // HeaderMap.headers
)

var tblCheckRequest = buildTables()

// buildTables derives the walk tables from the CheckRequest descriptor and
// marks the fields the view reads.
func buildTables() *msgTable {
	tables := map[protoreflect.FullName]*msgTable{}
	var build func(md protoreflect.MessageDescriptor) *msgTable
	build = func(md protoreflect.MessageDescriptor) *msgTable {
		if t, ok := tables[md.FullName()]; ok {
			return t
		}
		t := &msgTable{}
		tables[md.FullName()] = t
		fs := md.Fields()
		for i := range fs.Len() {
			fd := fs.Get(i)
			var fi fieldInfo
			switch {
			case fd.IsMap():
				switch {
				case fd.MapKey().Kind() == protoreflect.StringKind && fd.MapValue().Kind() == protoreflect.StringKind:
					fi.kind = kindMapString
				case fd.MapKey().Kind() == protoreflect.StringKind && fd.MapValue().Kind() == protoreflect.MessageKind:
					fi.kind, fi.sub = kindMapMessage, build(fd.MapValue().Message())
				default:
					panic("envoyauth: unexpected map field " + string(fd.FullName()))
				}
			case fd.Kind() == protoreflect.MessageKind:
				fi.kind, fi.sub = kindMessage, build(fd.Message())
			case fd.Kind() == protoreflect.GroupKind:
				panic("envoyauth: unexpected group field " + string(fd.FullName()))
			case fd.Kind() == protoreflect.StringKind:
				if fd.ParentFile().Syntax() != protoreflect.Proto3 {
					panic("envoyauth: unexpected proto2 string field " + string(fd.FullName()))
				}
				fi.kind = kindString
			default:
				if fd.IsList() {
					// Packed repeated scalars would need their
					// elements checked; CheckRequest has none.
					panic("envoyauth: unexpected repeated scalar field " + string(fd.FullName()))
				}
				fi.kind = kindScalar
			}
			fi.hook = hooks[fd.FullName()]
			n := int(fd.Number())
			for len(t.fields) <= n {
				t.fields = append(t.fields, fieldInfo{})
			}
			t.fields[n] = fi
		}
		return t
	}
	t := build((*authv3.CheckRequest)(nil).ProtoReflect().Descriptor())
	if len(hooks) != len(hooksFound(tables)) {
		panic("envoyauth: a field the view reads is missing from CheckRequest")
	}
	return t
}

var hooks = map[protoreflect.FullName]hook{
	"envoy.service.auth.v3.CheckRequest.attributes":                 hookAttributes,
	"envoy.service.auth.v3.AttributeContext.request":                hookRequest,
	"envoy.service.auth.v3.AttributeContext.context_extensions":     hookContextExt,
	"envoy.service.auth.v3.AttributeContext.Request.http":           hookHTTP,
	"envoy.service.auth.v3.AttributeContext.HttpRequest.method":     hookMethod,
	"envoy.service.auth.v3.AttributeContext.HttpRequest.path":       hookPath,
	"envoy.service.auth.v3.AttributeContext.HttpRequest.host":       hookHost,
	"envoy.service.auth.v3.AttributeContext.HttpRequest.scheme":     hookScheme,
	"envoy.service.auth.v3.AttributeContext.HttpRequest.headers":    hookHeaders,
	"envoy.service.auth.v3.AttributeContext.HttpRequest.header_map": hookHeaderMap,
	"envoy.config.core.v3.HeaderMap.headers":                        hookHeaderMapLine,
}

func hooksFound(tables map[protoreflect.FullName]*msgTable) map[hook]bool {
	found := map[hook]bool{}
	for _, t := range tables {
		for _, fi := range t.fields {
			if fi.hook != hookNone {
				found[fi.hook] = true
			}
		}
	}
	return found
}

// ctx is where in the view's path a message sits: which hooks apply to
// its fields. Messages off the path (peers, metadata...) are only checked.
type ctx uint8

const (
	ctxOff ctx = iota
	ctxCheckRequest
	ctxAttributes
	ctxRequest
	ctxHTTP
	ctxHeaderMap // its lines are read by headerValue
)

// message walks one message's fields. depth is the recursion budget as
// proto.Unmarshal counts it (every message and every map field takes one).
func (w *wireFields) message(b []byte, t *msgTable, depth int) error {
	return w.walk(b, t, depth, ctxCheckRequest, false)
}

// walk reads the fields of message b (table t, at path position c). ascii
// says b is known to be all ASCII: its strings need no UTF-8 check.
//
// Nearly every field of a CheckRequest is length-delimited, with a
// one-byte tag and a length under 16 KiB: walk decodes those inline and
// hands the value to value (the headers, one field each, straight to
// their readers); field reads any other field, or any other encoding.
func (w *wireFields) walk(b []byte, t *msgTable, depth int, c ctx, ascii bool) error {
	if depth--; depth < 0 {
		return errDepth
	}
	var err error
	for len(b) > 0 {
		if tg := b[0]; tg >= 1<<3 && tg < 0x80 && tg&7 == byte(protowire.BytesType) && int(tg>>3) < len(t.fields) {
			if n, l := len2(b[1:]); l > 0 {
				if n > len(b)-1-l {
					return errDecode // the length runs past the message
				}
				v := b[1+l : 1+l+n]
				b = b[1+l+n:]
				switch fi := &t.fields[tg>>3]; {
				case fi.kind == kindUnknown || fi.kind == kindScalar:
					// Nothing to check in bytes.
				case fi.kind == kindString && fi.hook == hookNone:
					if !ascii && !isASCII(v) && !utf8.Valid(v) {
						return errInvalidUTF8
					}
				case c == ctxHTTP && fi.hook == hookHeaders:
					err = w.headersEntry(v, fi, depth)
				case c == ctxHeaderMap && fi.hook == hookHeaderMapLine:
					err = w.headerValue(v, fi.sub, depth)
				default:
					err = w.value(v, fi, depth, c, ascii)
				}
				if err != nil {
					return err
				}
				continue
			}
		}
		if b, err = w.field(b, t, depth, c, ascii); err != nil {
			return err
		}
	}
	return nil
}

// field reads the field at the start of b, of a message of table t at path
// position c whose own depth is already counted, and returns the bytes
// after it.
func (w *wireFields) field(b []byte, t *msgTable, depth int, c ctx, ascii bool) ([]byte, error) {
	num, typ, n := consumeTag(b)
	if n < 0 || num > protowire.MaxValidNumber {
		return nil, errDecode
	}
	b = b[n:]
	if typ == protowire.EndGroupType {
		return nil, errDecode // no group is open in a proto3 message
	}
	fi := &noField
	if int(num) < len(t.fields) {
		fi = &t.fields[num]
	}
	if fi.kind == kindUnknown || fi.kind == kindScalar || typ != protowire.BytesType {
		if fi.kind == kindMapString || fi.kind == kindMapMessage {
			// proto.Unmarshal counts a map field before its wire type.
			if depth-1 < 0 {
				return nil, errDepth
			}
		}
		// Unknown fields, scalars, and fields of the wrong wire type
		// (kept as unknown fields): structure only.
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, errDecode
		}
		return b[n:], nil
	}
	v, n := consumeBytes(b)
	if n < 0 {
		return nil, errDecode
	}
	return b[n:], w.value(v, fi, depth, c, ascii)
}

// value reads v, the content of length-delimited field fi (a string, a
// message or a map entry) of a message at path position c whose depth is
// counted, and records it when the view reads it.
func (w *wireFields) value(v []byte, fi *fieldInfo, depth int, c ctx, ascii bool) error {
	switch fi.kind {
	case kindString:
		if !ascii && !isASCII(v) && !utf8.Valid(v) {
			return errInvalidUTF8
		}
		if c == ctxHTTP {
			switch fi.hook {
			case hookMethod:
				w.method = alias(v)
			case hookPath:
				w.path = alias(v)
			case hookHost:
				w.host = alias(v)
			case hookScheme:
				w.scheme = alias(v)
			}
		}
	case kindMessage:
		sub := ctxOff
		switch {
		case c == ctxCheckRequest && fi.hook == hookAttributes:
			sub = ctxAttributes
		case c == ctxAttributes && fi.hook == hookRequest:
			sub = ctxRequest
		case c == ctxRequest && fi.hook == hookHTTP:
			sub = ctxHTTP
			w.hasHTTP = true
		case c == ctxHTTP && fi.hook == hookHeaderMap:
			sub = ctxHeaderMap
		case c == ctxHeaderMap && fi.hook == hookHeaderMapLine:
			return w.headerValue(v, fi.sub, depth)
		}
		return w.walk(v, fi.sub, depth, sub, sub == ctxOff && (ascii || w.asciiSpan(v)))
	case kindMapString, kindMapMessage:
		if c == ctxHTTP && fi.hook == hookHeaders {
			return w.headersEntry(v, fi, depth)
		}
		if depth-1 < 0 {
			return errDepth // the map field's own level
		}
		return w.mapEntry(v, fi, c, depth-1, ascii)
	}
	return nil
}

// headersEntry reads one entry of the HttpRequest headers map (field fi;
// depth is the HttpRequest's budget). The usual entry, key then value with
// one-byte tags and short lengths, is read in place; any other shape goes
// through mapEntry.
func (w *wireFields) headersEntry(e []byte, fi *fieldInfo, depth int) error {
	if depth-1 < 0 {
		return errDepth // the map field's own level, as in value
	}
	key, val, whole, ok := stringEntry(e)
	if !ok {
		return w.mapEntry(e, fi, ctxHTTP, depth-1, false)
	}
	if !entryUTF8(e, key, val, whole) {
		return errInvalidUTF8
	}
	w.hasMap = true
	if i := mapSlot(key); i >= 0 {
		w.mapped.hdr[i], w.mapped.seen[i] = alias(val), true
	}
	return nil
}

// Field numbers of config.core.v3.HeaderValue, the header_map line
// (TestHeaderValueFieldNumbers pins them to the generated descriptor).
const (
	hvKey      protowire.Number = 1
	hvValue    protowire.Number = 2
	hvRawValue protowire.Number = 3
)

// headerValue walks one header_map line (a HeaderValue) and records it.
func (w *wireFields) headerValue(b []byte, t *msgTable, depth int) error {
	if depth--; depth < 0 {
		return errDepth
	}
	var key, value, raw []byte
	if k, r, ok := rawLine(b); ok {
		// The usual line: key and raw_value. raw_value is bytes, so only
		// the key is checked.
		if !(isASCII(k) || utf8.Valid(k)) {
			return errInvalidUTF8
		}
		key, raw, b = k, r, nil
	}
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return errDecode
		}
		b = b[n:]
		if typ == protowire.EndGroupType {
			return errDecode
		}
		fi := &noField
		if int(num) < len(t.fields) {
			fi = &t.fields[num]
		}
		if typ != protowire.BytesType || fi.kind == kindUnknown {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return errDecode
			}
			b = b[n:]
			continue
		}
		v, n := consumeBytes(b)
		if n < 0 {
			return errDecode
		}
		b = b[n:]
		switch fi.kind {
		case kindString:
			if !(isASCII(v) || utf8.Valid(v)) {
				return errInvalidUTF8
			}
			switch num {
			case hvKey:
				key = v
			case hvValue:
				value = v
			}
		case kindScalar:
			if num == hvRawValue {
				raw = v
			}
		}
	}
	val := raw
	if len(val) == 0 {
		val = value
	}
	if !slotLen(len(key)) {
		return nil // not a header the view reads
	}
	if i := w.raw.slot(alias(key)); i >= 0 {
		w.raw.line(i, alias(val))
	}
	return nil
}

// mapEntry walks one map entry (key 1, value 2; missing ones are empty;
// last one wins) and records the entries the view reads. depth is the
// budget left after the map field took its own; ascii says b is all ASCII.
func (w *wireFields) mapEntry(b []byte, fi *fieldInfo, c ctx, depth int, ascii bool) error {
	var key, val []byte
	// The usual entry, key then value (a message value has the same
	// shape), is read in one step; the loop reads any other.
	if k, v, whole, ok := stringEntry(b); ok {
		switch {
		case fi.kind == kindMapString:
			if !ascii && !entryUTF8(b, k, v, whole) {
				return errInvalidUTF8
			}
			val = v
		case !ascii && !isASCII(k) && !utf8.Valid(k):
			return errInvalidUTF8
		default:
			if err := w.walk(v, fi.sub, depth, ctxOff, ascii || w.asciiSpan(v)); err != nil {
				return err
			}
		}
		key, b = k, nil
	}
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return errDecode
		}
		b = b[n:]
		if (num == 1 || num == 2) && typ == protowire.BytesType {
			v, n := consumeBytes(b)
			if n < 0 {
				return errDecode
			}
			b = b[n:]
			if !ascii && (num == 1 || fi.kind == kindMapString) {
				if !(isASCII(v) || utf8.Valid(v)) {
					return errInvalidUTF8
				}
			}
			if num == 1 {
				key = v
				continue
			}
			if fi.kind == kindMapMessage {
				if err := w.walk(v, fi.sub, depth, ctxOff, ascii || w.asciiSpan(v)); err != nil {
					return err
				}
				continue
			}
			val = v
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return errDecode
		}
		b = b[n:]
	}
	switch {
	case c == ctxHTTP && fi.hook == hookHeaders:
		w.hasMap = true
		if i := mapSlot(key); i >= 0 {
			w.mapped.hdr[i], w.mapped.seen[i] = alias(val), true
		}
	case c == ctxAttributes && fi.hook == hookContextExt:
		if string(key) == ClassHintKey {
			w.class = alias(val)
		}
	}
	return nil
}

// mapSlot returns the slot of a headers-map key (exact: Envoy lower-cases
// the map's keys), or -1. Most keys are told apart by their length alone,
// here, without a call.
func mapSlot(key []byte) int {
	if !slotLen(len(key)) {
		return -1
	}
	return exactSlot(key)
}

// exactSlot is mapSlot for a key of a slot's length.
func exactSlot(key []byte) int {
	i, j := slotCandidates(len(key))
	if i >= 0 && alias(key) == slotNames[i] {
		return i
	}
	if j >= 0 && alias(key) == slotNames[j] {
		return j
	}
	return -1
}

// noField is the fieldInfo of field numbers a message does not define.
var noField fieldInfo

// consumeTag is protowire.ConsumeTag with the one-byte case (every field
// of a CheckRequest) first.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	if len(b) > 0 && b[0]-8 < 0x80-8 {
		return protowire.Number(b[0] >> 3), protowire.Type(b[0] & 7), 1
	}
	return consumeTagSlow(b)
}

//go:noinline
func consumeTagSlow(b []byte) (protowire.Number, protowire.Type, int) { return protowire.ConsumeTag(b) }

// ascii8 has the high bit of each byte of a word: a word holds only ASCII
// bytes when it has none of them.
const ascii8 = 0x8080808080808080

// isASCII reports whether every byte of b is below 0x80. A string field
// is checked as isASCII(v) || utf8.Valid(v): nearly every string of a
// CheckRequest is ASCII, and most are short (header names, tokens), so
// this check costs less than utf8.Valid's own setup. It reads b in
// little-endian words, the last one (or the two halves of a short b)
// overlapping the previous, so that no byte needs a loop of its own.
func isASCII(b []byte) bool {
	n := len(b)
	switch {
	case n >= 8:
		// Two words a round: the loads are independent.
		or, or2 := binary.LittleEndian.Uint64(b[n-8:]), uint64(0)
		for len(b) > 16 {
			or |= binary.LittleEndian.Uint64(b)
			or2 |= binary.LittleEndian.Uint64(b[8:])
			b = b[16:]
		}
		if len(b) > 8 {
			or |= binary.LittleEndian.Uint64(b)
		}
		return (or|or2)&ascii8 == 0
	case n >= 4:
		return (binary.LittleEndian.Uint32(b)|binary.LittleEndian.Uint32(b[n-4:]))&0x80808080 == 0
	case n >= 2:
		return (binary.LittleEndian.Uint16(b)|binary.LittleEndian.Uint16(b[n-2:]))&0x8080 == 0
	case n == 1:
		return b[0] < 0x80
	}
	return true
}

// consumeBytes is protowire.ConsumeBytes with the one-byte length case
// first.
func consumeBytes(b []byte) ([]byte, int) {
	if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) {
		return b[1 : 1+int(b[0])], 1 + int(b[0])
	}
	return consumeBytesSlow(b)
}

//go:noinline
func consumeBytesSlow(b []byte) ([]byte, int) { return protowire.ConsumeBytes(b) }

// entryUTF8 reports whether the key and value of entry e (as stringEntry
// returns them) are valid UTF-8. With whole, every byte of e that is not
// key or value is below 0x80, so one ASCII check covers the entry.
func entryUTF8(e, key, val []byte, whole bool) bool {
	if whole && isASCII(e) || !whole && isASCII(key) && isASCII(val) {
		return true
	}
	return utf8.Valid(key) && utf8.Valid(val)
}

// len2 decodes the length at the start of b when its varint takes one or
// two bytes (lengths under 16 KiB), returning it and its size; l is 0 for
// any other varint (protowire decodes those).
func len2(b []byte) (n, l int) {
	if len(b) > 0 && b[0] < 0x80 {
		return int(b[0]), 1
	}
	if len(b) > 1 && b[1] < 0x80 {
		return int(b[0]&0x7f) | int(b[1])<<7, 2
	}
	return 0, 0
}

// stringEntry parses the usual map<string, string> entry: key (field 1)
// then value (field 2), one-byte tags, a key under 128 bytes, a value
// under 16 KiB, nothing else. whole says the value's length took one
// byte, so every byte of e that is not key or value is below 0x80; ok is
// false for any other shape (mapEntry reads it).
func stringEntry(e []byte) (key, val []byte, whole, ok bool) {
	if len(e) < 4 || e[0] != 1<<3|byte(protowire.BytesType) || e[1] >= 0x80 {
		return nil, nil, false, false
	}
	k := 2 + int(e[1])
	if k >= len(e) || e[k] != 2<<3|byte(protowire.BytesType) {
		return nil, nil, false, false
	}
	n, l := len2(e[k+1:])
	if l == 0 || k+1+l+n != len(e) {
		return nil, nil, false, false
	}
	return e[2:k], e[k+1+l:], l == 1, true
}

// rawLine parses the usual header_map line (a HeaderValue as Envoy writes
// it): key (hvKey, under 128 bytes) then raw_value (hvRawValue, under
// 16 KiB), one-byte tags, nothing else; ok is false for any other shape.
func rawLine(e []byte) (key, raw []byte, ok bool) {
	if len(e) < 4 || e[0] != byte(hvKey)<<3|byte(protowire.BytesType) || e[1] >= 0x80 {
		return nil, nil, false
	}
	k := 2 + int(e[1])
	if k >= len(e) || e[k] != byte(hvRawValue)<<3|byte(protowire.BytesType) {
		return nil, nil, false
	}
	n, l := len2(e[k+1:])
	if l == 0 || k+1+l+n != len(e) {
		return nil, nil, false
	}
	return e[2:k], e[k+1+l:], true
}
