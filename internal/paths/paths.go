// Package paths puts a request path into the one spelling a policy's path
// rules are matched against, so that "/api/v1/../admin" is classified as
// the "/admin" it names, whichever proxy (or none) normalised it before.
//
// The normal form is RFC 3986 §6.2.2 syntax-based normalisation of the
// path without its query: percent-encoded unreserved characters decoded
// and other escapes in upper-case hex (§6.2.2.1, §6.2.2.2), runs of '/'
// merged (as Envoy's merge_slashes does), and "." and ".." segments,
// including their percent-encoded spellings, removed (§5.2.4).
//
// Some paths mean different resources to different servers: a backslash
// (a separator on some servers), a percent-encoded '/' or '\' (%2F, %5C:
// a separator on servers that decode before routing), a '%' that starts
// no escape, a ".." after an empty segment ("/a//../b"), and a segment that
// is "." or ".." once its ";" parameters are dropped ("..;", a separator
// on servers that strip path parameters), a '#' (no part of a
// request-target) and a target that is not origin-form ("http://h/admin").
// Normalise reports them as ambiguous and leaves them as they are.
package paths

import "strings"

// Normalise returns the normal form of p's path (the query dropped) and
// whether p is ambiguous. It does not allocate when the path is already in
// normal form, which is nearly always.
func Normalise(p string) (norm string, ambiguous bool) {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	// A '#' is no part of a request-target (RFC 9112 §3.2, RFC 3986
	// §3.3): Envoy strips it before the check, but a server that keeps it
	// as a character resolves the dot segments after it
	// ("/api/v1/x#/../../admin" is "/admin"), so it stays in the path and
	// makes it ambiguous. So does a target that is not origin-form (an
	// absolute-form "http://host/admin", RFC 9112 §3.2.2, or "api/x"),
	// which a server routes on the path inside while no path rule, all of
	// which start with '/', can match it; "*" (OPTIONS *) and no path at
	// all are not.
	ambiguous = strings.IndexByte(p, '#') >= 0 || (p != "" && p != "*" && p[0] != '/')
	if !needsWork(p) {
		return p, ambiguous
	}
	dec, amb := decode(p)
	ambiguous = ambiguous || amb
	if !strings.HasPrefix(dec, "/") {
		// Not origin-form: only the escapes are made canonical.
		return dec, ambiguous
	}
	norm, params := removeDotSegments(dec)
	return norm, ambiguous || params
}

// needsWork reports whether p may differ from its normal form or be
// ambiguous: it has a '%', a '\', an empty segment ("//") or a segment
// starting with '.'.
func needsWork(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '%', '\\':
			return true
		case '/':
			if i+1 < len(p) && (p[i+1] == '/' || p[i+1] == '.') {
				return true
			}
		}
	}
	return false
}

// decode decodes percent-encoded unreserved characters (RFC 3986 §2.3)
// and upper-cases the hex digits of every other escape. It reports a '\',
// an escaped '/' or '\' and a '%' that starts no escape as ambiguous;
// those stay as written.
func decode(p string) (string, bool) {
	var b strings.Builder
	b.Grow(len(p))
	ambiguous := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' {
			ambiguous = true
		}
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			// Not an escape (RFC 3986 §2.1): servers differ on what
			// it means, and decoding what follows can forge one
			// ("%7%30" becomes "%70").
			ambiguous = true
			b.WriteByte(c)
			continue
		}
		d := unhex(p[i+1])<<4 | unhex(p[i+2])
		i += 2
		switch {
		case isUnreserved(d):
			b.WriteByte(d)
		default:
			if d == '/' || d == '\\' {
				ambiguous = true
			}
			b.WriteByte('%')
			b.WriteByte(upperHex[d>>4])
			b.WriteByte(upperHex[d&15])
		}
	}
	return b.String(), ambiguous
}

// removeDotSegments applies RFC 3986 §5.2.4 to an absolute path, never
// climbing above the root, then merges runs of '/' (the order Envoy's
// normalize_path and merge_slashes use). A trailing "/", "/." or "/.."
// leaves a trailing '/'. It reports as ambiguous a ".." that removes an
// empty segment ("/a//../b" is "/a/b" to a server that keeps empty
// segments and "/b" to one that merges slashes first) and a segment that
// is "." or ".." followed by ';' parameters, which it keeps as written.
func removeDotSegments(p string) (string, bool) {
	out := make([]byte, 0, len(p))
	ambiguous := false
	for i := 0; i < len(p); {
		j := strings.IndexByte(p[i+1:], '/')
		if j < 0 {
			j = len(p)
		} else {
			j += i + 1
		}
		seg, last := p[i+1:j], j == len(p)
		switch seg {
		case ".":
			if last {
				out = append(out, '/')
			}
		case "..":
			if k := lastSlash(out); k >= 0 {
				if k == len(out)-1 {
					ambiguous = true
				}
				out = out[:k]
			}
			if last {
				out = append(out, '/')
			}
		default:
			if name, _, ok := strings.Cut(seg, ";"); ok && (name == "." || name == "..") {
				ambiguous = true
			}
			out = append(out, '/')
			out = append(out, seg...)
		}
		i = j
	}
	if len(out) == 0 {
		return "/", ambiguous
	}
	return string(mergeSlashes(out)), ambiguous
}

// mergeSlashes collapses runs of '/' in b, in place.
func mergeSlashes(b []byte) []byte {
	n := 0
	var prev byte
	for _, c := range b {
		if c == '/' && prev == '/' {
			continue
		}
		prev = c
		b[n] = c
		n++
	}
	return b[:n]
}

func lastSlash(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '/' {
			return i
		}
	}
	return -1
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

const upperHex = "0123456789ABCDEF"

// isUnreserved: RFC 3986 §2.3 unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~".
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
