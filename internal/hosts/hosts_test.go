package hosts

import (
	"errors"
	"testing"
)

func TestNormalise(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"API.Example.com", "api.example.com", nil},
		{"*.Example.com:8443", "*.example.com:8443", nil},
		{"localhost:8080", "localhost:8080", nil},
		{"[::1]", "[::1]", nil},
		{"[::1]:8080", "[::1]:8080", nil},
		{"a_b.example", "a_b.example", nil},
		{"[::1", "", ErrIPv6},
		{"[1.2.3.4]", "", ErrIPv6},
		{"[zz]:80", "", ErrIPv6},
		{"a.example:8x", "", ErrPort},
		{"a.example:", "a.example:", nil}, // an empty port is "any port"
		{"*", "", ErrHost},
		{"*.", "", ErrHost},
		{"a.*.example", "", ErrHost},
		{"a.example.", "a.example", nil}, // one trailing dot dropped (issue 11 item 3)
		{"*.A.example.:8443", "*.a.example:8443", nil},
		{"a.example..", "", ErrName},
		{"a..example", "", ErrName},
		{".a.example", "", ErrName},
		{".", "", ErrHost},
		{"*.*.example", "", ErrHost},
		{"", "", ErrHost},
		{"a b", "", ErrName},
		{"bücher.example", "", ErrName},
	}
	for _, tt := range tests {
		got, err := Normalise(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("Normalise(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParse(t *testing.T) {
	tests := map[string]Pattern{
		"api.example.com":      {Name: "api.example.com"},
		"*.example.com":        {Name: ".example.com", Wildcard: true},
		"*.example.com:8443":   {Name: ".example.com", Port: "8443", Wildcard: true},
		"localhost:8080":       {Name: "localhost", Port: "8080"},
		"[::1]":                {Name: "[::1]"},
		"[::1]:8080":           {Name: "[::1]", Port: "8080"},
		"[2001:db8::1]:8443":   {Name: "[2001:db8::1]", Port: "8443"},
		"[broken":              {Name: "[broken"}, // never normalised; no panic
		"API.example.com:9090": {Name: "api.example.com", Port: "9090"},
	}
	for in, want := range tests {
		if got := Parse(in); got != want {
			t.Errorf("Parse(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestSplitHostPort(t *testing.T) {
	tests := []struct{ in, host, port string }{
		{"a.example", "a.example", ""},
		{"a.example:8443", "a.example", "8443"},
		{"[::1]", "[::1]", ""},
		{"[::1]:8080", "[::1]", "8080"},
		{"[::1", "[::1", ""},
		{"", "", ""},
		// One trailing dot: the same DNS name (issue 11 item 3).
		{"a.example.", "a.example", ""},
		{"a.example.:443", "a.example", "443"},
		{"a.example..", "a.example.", ""},
		{".", "", ""},
	}
	for _, tt := range tests {
		if h, p := SplitHostPort(tt.in); h != tt.host || p != tt.port {
			t.Errorf("SplitHostPort(%q) = %q, %q; want %q, %q", tt.in, h, p, tt.host, tt.port)
		}
	}
}

func TestMatchAny(t *testing.T) {
	ps := ParseAll([]string{"api.example.com", "*.api.example.com", "localhost:8080", "[::1]:9000"})
	tests := map[string]bool{
		"api.example.com": true, "API.Example.COM": true, "api.example.com:8443": true,
		"x.api.example.com": true, "x.y.api.example.com": true, "X.API.example.com:1": true,
		"xapi.example.com": false, "example.com": false, ".api.example.com": false,
		"localhost:8080": true, "localhost": false, "localhost:8081": false,
		"[::1]:9000": true, "[::1]": false, "": false,
		// A trailing dot names the same host (issue 11 item 3).
		"api.example.com.": true, "api.example.com.:443": true, "API.EXAMPLE.COM.": true, "x.api.example.com.": true,
		"localhost.:8080": true, "api.example.com..": false, "api.example.com.x": false, ".": false,
	}
	for authority, want := range tests {
		if got := MatchAny(ps, authority); got != want {
			t.Errorf("MatchAny(%q) = %v, want %v", authority, got, want)
		}
	}
	if MatchAny(nil, "a.example") {
		t.Error("an empty list matched")
	}
}

// TestMatchAnyPort: an :authority without a port is on the default port
// given (the request scheme's, RFC 9110 §4.2.2, §4.2.3); one with a port
// is matched on that port.
func TestMatchAnyPort(t *testing.T) {
	ps := ParseAll([]string{"admin.example.com:443", "*.admin.example.com:443", "any.example.com"})
	tests := []struct {
		authority, defaultPort string
		want                   bool
	}{
		{"admin.example.com:443", "443", true},
		{"admin.example.com", "443", true},
		{"admin.example.com.", "443", true},
		{"x.admin.example.com", "443", true},
		{"admin.example.com", "80", false},
		{"admin.example.com", "", false},
		{"admin.example.com:8443", "443", false},
		{"admin.example.com:443", "80", true},
		{"any.example.com", "", true},
		{"any.example.com:1", "443", true},
		{"other.example.com", "443", false},
	}
	for _, tt := range tests {
		if got := MatchAnyPort(ps, tt.authority, tt.defaultPort); got != tt.want {
			t.Errorf("MatchAnyPort(%q, %q) = %v, want %v", tt.authority, tt.defaultPort, got, tt.want)
		}
	}
}

// TestOverlapsCovers: the set relations between two entries, including
// the entries where the diff's former copy of the host rules disagreed
// with the matcher (a wildcard never matches its own dot-prefixed
// suffix).
func TestOverlapsCovers(t *testing.T) {
	tests := []struct {
		a, b            string
		overlap, covers bool
	}{
		{"a.example", "a.example", true, true},
		{"a.example", "b.example", false, false},
		{"*.a.example", "x.a.example", true, true},
		{"*.a.example", "a.example", false, false},
		{"*.a.example", "xa.example", false, false},
		{"*.a.example", "*.eu.a.example", true, true},
		{"*.eu.a.example", "*.a.example", true, false},
		{"*.a.example", "*.a.example", true, true},
		{"*.a.example", "*.b.example", false, false},
		{"a.example", "*.a.example", false, false},
		{"a.example:8443", "a.example", true, false},
		{"a.example", "a.example:8443", true, true},
		{"a.example:1", "a.example:2", false, false},
		{"*.a.example:1", "x.a.example:2", false, false},
		{"[::1]", "[::1]:8080", true, true},
		// Drift cases: the diff's copy said "overlaps" and "covers".
		{"*.a.example", ".a.example", false, false},
		{"*..a.example", ".a.example", false, false},
	}
	for _, tt := range tests {
		a, b := Parse(tt.a), Parse(tt.b)
		if got := a.Overlaps(b); got != tt.overlap {
			t.Errorf("%s overlaps %s = %v, want %v", tt.a, tt.b, got, tt.overlap)
		}
		if got := b.Overlaps(a); got != tt.overlap {
			t.Errorf("%s overlaps %s = %v, want %v", tt.b, tt.a, got, tt.overlap)
		}
		if got := a.Covers(b); got != tt.covers {
			t.Errorf("%s covers %s = %v, want %v", tt.a, tt.b, got, tt.covers)
		}
	}
}

// FuzzNormalise: Normalise never panics and is idempotent; on accepted
// entries, Overlaps and Covers agree with Match: a host both entries
// match means they overlap, and a host the covered entry matches is
// matched by the covering one.
func FuzzNormalise(f *testing.F) {
	f.Add("*.a.example", "x.a.example:8443", "y.x.a.example", "8443")
	f.Add("[::1]:80", "[::1]", "[::1]", "80")
	f.Add("*.a.example", ".a.example", ".a.example", "")
	f.Add("A.example:", "a.example", "A.EXAMPLE", "1")
	f.Fuzz(func(t *testing.T, x, y, host, port string) {
		nx, errx := Normalise(x)
		ny, erry := Normalise(y)
		if errx == nil {
			if again, err := Normalise(nx); err != nil || again != nx {
				t.Fatalf("Normalise(%q) = %q, which normalises to %q, %v", x, nx, again, err)
			}
		}
		if errx != nil || erry != nil {
			return
		}
		a, b := Parse(nx), Parse(ny)
		ma, mb := a.Match(host, port), b.Match(host, port)
		if ma && mb && !a.Overlaps(b) {
			t.Fatalf("%q and %q both match %q port %q but do not overlap", nx, ny, host, port)
		}
		if mb && !ma && a.Covers(b) {
			t.Fatalf("%q covers %q, yet only the latter matches %q port %q", nx, ny, host, port)
		}
	})
}
