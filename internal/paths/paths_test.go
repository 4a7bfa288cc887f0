package paths

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestNormalise(t *testing.T) {
	tests := []struct {
		in, want  string
		ambiguous bool
	}{
		{"/api/v1/users", "/api/v1/users", false},
		{"/api/v1/users?q=/../admin", "/api/v1/users", false},
		// '#' is not part of a request-target (RFC 9112 §3.2; Envoy strips
		// it first): a server that keeps it as a character resolves the
		// dot segments after it ("/api/v1/x#/../../admin" is "/admin").
		{"/api/v1/users#x", "/api/v1/users#x", true},
		{"/api/v1/x#/../../admin", "/api/admin", true},
		{"/api/v1/users?q=a#b", "/api/v1/users", false},
		{"/", "/", false},
		{"", "", false},
		{"*", "*", false},
		// Absolute-form (RFC 9112 §3.2.2) and other non-origin-form
		// targets: a server routes on the path inside, which no path rule
		// sees.
		{"http://api.example.com/admin/x", "http://api.example.com/admin/x", true},
		{"api/v1/x", "api/v1/x", true},
		// RFC 3986 §5.2.4 dot segments.
		{"/api/v1/../admin", "/api/admin", false},
		{"/api/v1/../../admin", "/admin", false},
		{"/api/v1/./x", "/api/v1/x", false},
		{"/api/v1/.", "/api/v1/", false},
		{"/api/v1/..", "/api/", false},
		{"/api/v1/x/", "/api/v1/x/", false},
		{"/..", "/", false},
		{"/../../../admin", "/admin", false},
		{"/./", "/", false},
		{"/a/b/c/./../../g", "/a/g", false},
		{"/mid/content=5/../6", "/mid/6", false},
		{"/api/v1/.hidden", "/api/v1/.hidden", false},
		{"/api/v1/...", "/api/v1/...", false},
		{"/api/v1/..x", "/api/v1/..x", false},
		// Percent-encoded dots are dot segments.
		{"/api/v1/%2e%2e/admin", "/api/admin", false},
		{"/api/v1/%2E%2E/%2e%2E/admin", "/admin", false},
		{"/api/v1/.%2e/admin", "/api/admin", false},
		{"/api/v1/%2e./admin", "/api/admin", false},
		{"/api/v1/%2e/x", "/api/v1/x", false},
		// Other unreserved escapes decoded, the rest in upper-case hex.
		{"/%61pi/v1/%7euser", "/api/v1/~user", false},
		{"/api/v1/caf%c3%a9", "/api/v1/caf%C3%A9", false},
		{"/api/v1/100%25", "/api/v1/100%25", false},
		{"/api/v1/%252e%252e/admin", "/api/v1/%252e%252e/admin", false},
		{"/api/v1/%zz/x%", "/api/v1/%zz/x%", true},
		{"/api/v1/x%2", "/api/v1/x%2", true},
		{"/a%7%30i/v1", "/a%70i/v1", true}, // decoding forged an escape
		// Merged slashes.
		{"//admin", "/admin", false},
		{"/api//v1///x", "/api/v1/x", false},
		{"/api/v1//", "/api/v1/", false},
		// Ambiguous: the meaning depends on the server's decoding.
		{"/api/v1/..%2Fadmin", "/api/v1/..%2Fadmin", true},
		{"/api/v1/..%2fadmin", "/api/v1/..%2Fadmin", true},
		{"/api/v1/a%2Fb", "/api/v1/a%2Fb", true},
		{"/api/v1/..%5Cadmin", "/api/v1/..%5Cadmin", true},
		{"/api/v1/..%5cadmin", "/api/v1/..%5Cadmin", true},
		{`/api/v1/..\admin`, `/api/v1/..\admin`, true},
		{`/api/v1\..\..\admin`, `/api/v1\..\..\admin`, true},
		{"/api/v1/..;/admin", "/api/v1/..;/admin", true},
		{"/api/v1/.;x/admin", "/api/v1/.;x/admin", true},
		{"/api/v1/%2e%2e;/admin", "/api/v1/..;/admin", true},
		{"/api/v1//../admin", "/api/v1/admin", true}, // "/api/v1/admin" or "/api/admin"
		{"/api/v1/x;a=b", "/api/v1/x;a=b", false},
	}
	for _, tt := range tests {
		got, amb := Normalise(tt.in)
		if got != tt.want || amb != tt.ambiguous {
			t.Errorf("Normalise(%q) = %q, %v; want %q, %v", tt.in, got, amb, tt.want, tt.ambiguous)
		}
	}
}

// TestNormaliseNoAlloc: a path already in normal form costs no allocation
// (Classify runs on every Check, before the verdict cache).
func TestNormaliseNoAlloc(t *testing.T) {
	for _, p := range []string{"/api/v1/users", "/api/v1/users?x=1&y=/../z", "/", "/a.b/c.d/e."} {
		if n := testing.AllocsPerRun(100, func() { Normalise(p) }); n != 0 {
			t.Errorf("Normalise(%q): %v allocations", p, n)
		}
	}
}

var escape = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)

// reference is RFC 3986 §6.2.2 normalisation written as the RFC states
// it, independently of Normalise: escapes first, then the §5.2.4
// remove_dot_segments loop (rules A to E, string by string), then runs of
// '/' merged.
func reference(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	p = escape.ReplaceAllStringFunc(p, func(e string) string {
		n, _ := strconv.ParseUint(e[1:], 16, 8)
		if c := byte(n); isUnreserved(c) {
			return string(c)
		}
		return strings.ToUpper(e)
	})
	if !strings.HasPrefix(p, "/") {
		return p
	}
	in, out := p, ""
	pop := func() {
		if i := strings.LastIndex(out, "/"); i >= 0 {
			out = out[:i]
		} else {
			out = ""
		}
	}
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"): // A
			in = in[3:]
		case strings.HasPrefix(in, "./"): // A
			in = in[2:]
		case strings.HasPrefix(in, "/./"): // B
			in = in[2:]
		case in == "/.": // B
			in = "/"
		case strings.HasPrefix(in, "/../"): // C
			in = in[3:]
			pop()
		case in == "/..": // C
			in = "/"
			pop()
		case in == "." || in == "..": // D
			in = ""
		default: // E
			j := strings.IndexByte(in[1:], '/')
			if j < 0 {
				out, in = out+in, ""
			} else {
				out, in = out+in[:j+1], in[j+1:]
			}
		}
	}
	return regexp.MustCompile(`/+`).ReplaceAllString(out, "/")
}

var ambiguousInput = regexp.MustCompile(`(?i)\\|#|%2f|%5c|%($|.$|[^0-9a-f]|.[^0-9a-f])`)

// FuzzNormalise: Normalise never panics; an unambiguous path's normal form
// is the RFC's; a path with '\', '#', %2F, %5C or a bare '%', or not in
// origin-form, is ambiguous; the normal form
// of an origin-form path keeps no dot segment, empty segment or escaped
// unreserved character, and normalising it again changes nothing.
func FuzzNormalise(f *testing.F) {
	for _, s := range []string{"/api/v1/../admin", "/api/v1/%2e%2e/admin", "/api/v1/..%2Fadmin", `/api/v1/..\admin`,
		"/api/v1/./x", "//a//../b", "/a/..;/b", "/%41%2e%2E/x?y", "/a/b/c/./../../g", "x/../y", "/%", "/.%2e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		norm, amb := Normalise(p)
		cut := p
		if i := strings.IndexByte(cut, '?'); i >= 0 {
			cut = cut[:i]
		}
		if ambiguousInput.MatchString(cut) && !amb {
			t.Fatalf("Normalise(%q) = %q not ambiguous", p, norm)
		}
		if cut != "" && cut != "*" && !strings.HasPrefix(cut, "/") && !amb {
			t.Fatalf("Normalise(%q) = %q: a target not in origin-form is not ambiguous", p, norm)
		}
		if !amb {
			if want := reference(p); norm != want {
				t.Fatalf("Normalise(%q) = %q, RFC 3986 gives %q", p, norm, want)
			}
		}
		if again, amb2 := Normalise(norm); !amb && (again != norm || amb2) {
			t.Fatalf("Normalise(%q) = %q; again: %q, %v", p, norm, again, amb2)
		}
		if !strings.HasPrefix(cut, "/") {
			return
		}
		if !strings.HasPrefix(norm, "/") || strings.Contains(norm, "//") {
			t.Fatalf("Normalise(%q) = %q", p, norm)
		}
		for _, seg := range strings.Split(norm, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("Normalise(%q) = %q keeps a dot segment", p, norm)
			}
		}
		if amb {
			return // a bare '%' may forge an escape ("%%370" is "%70")
		}
		for _, e := range escape.FindAllString(norm, -1) {
			n, _ := strconv.ParseUint(e[1:], 16, 8)
			if isUnreserved(byte(n)) || e != strings.ToUpper(e) {
				t.Fatalf("Normalise(%q) = %q keeps escape %s", p, norm, e)
			}
		}
	})
}
