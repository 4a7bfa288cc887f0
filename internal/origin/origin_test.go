package origin

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	valid := map[string]Origin{
		"https://example.com":             {"https", "example.com", ""},
		"http://localhost:3000":           {"http", "localhost", "3000"},
		"https://[::1]:8443":              {"https", "[::1]", "8443"},
		"chrome-extension://abcdef":       {"chrome-extension", "abcdef", ""},
		"capacitor://localhost":           {"capacitor", "localhost", ""},
		"https://a_b.example.com":         {"https", "a_b.example.com", ""},
		"https://10.0.0.1":                {"https", "10.0.0.1", ""},
		"https://example.com:65535":       {"https", "example.com", "65535"},
		"ws://example.com:443":            {"ws", "example.com", "443"},
		"https://xn--bcher-kva.example":   {"https", "xn--bcher-kva.example", ""},
		"web+app://x":                     {"web+app", "x", ""},
		"https://a.b.c.d.e.f.example.com": {"https", "a.b.c.d.e.f.example.com", ""},
	}
	for s, want := range valid {
		got, ok := Parse(s)
		if !ok || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", s, got, ok, want)
		}
	}
	invalid := []string{"", "null", "*", "https://", "https:/x", "://x", "x", "https://example.com/", "https://example.com/a",
		"https://EXAMPLE.com", "HTTPS://example.com", "https://example.com:443", "http://example.com:80", "https://example.com:",
		"https://example.com:0", "https://example.com:080", "https://example.com:65536", "https://example.com:1a",
		"https://u@example.com", "https://exa mple.com", "https://example.com ", "https://example.com\r\n", "https://example.com\x00",
		"https://example.com,https://a.com", "https://.example.com", "https://example..com", "https://example.com.",
		"https://[::1", "https://[]", "https://[::1]x", "https://[::g]", "1https://x", "https://ex\xc3\xa4mple.com",
		"https://" + strings.Repeat("a", MaxLen)}
	for _, s := range invalid {
		if o, ok := Parse(s); ok {
			t.Errorf("Parse(%q) = %+v, want invalid", s, o)
		}
	}
}

func TestSetContains(t *testing.T) {
	var s Set
	for _, e := range []string{"https://example.org", "https://*.example.com", "https://*.ports.example:8443", "http://localhost:3000"} {
		p, _, err := ParsePattern(e)
		if err != nil {
			t.Fatal(err)
		}
		s.Add(p)
	}
	cases := map[string]bool{
		"https://example.org": true, "https://a.example.com": true, "https://a.b.example.com": true,
		"https://x.ports.example:8443": true, "http://localhost:3000": true,
		"https://example.com": false, "https://evilexample.com": false, "https://x.example.com.evil.net": false,
		"http://x.example.com": false, "https://x.example.com:8443": false, "https://x.ports.example": false,
		"https://ports.example:8443": false, "http://localhost:3001": false, "https://sub.example.org": false,
		"https://[::1]": false,
	}
	for raw, want := range cases {
		o, ok := Parse(raw)
		if !ok {
			t.Fatalf("Parse(%q) failed", raw)
		}
		if got := s.Contains(raw, o); got != want {
			t.Errorf("Contains(%q) = %v, want %v", raw, got, want)
		}
	}
}

func TestParsePatternSecure(t *testing.T) {
	cases := map[string]bool{"https://a.example": true, "http://a.example": false, "http://localhost:3000": true,
		"http://127.0.0.1:8080": true, "http://[::1]": true, "http://app.localhost": true, "http://10.0.0.1": false,
		"chrome-extension://abc": true, "http://*.example.com": false}
	for s, want := range cases {
		p, _, err := ParsePattern(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if p.IsSecure() != want {
			t.Errorf("IsSecure(%s) = %v", s, !want)
		}
	}
}

// FuzzParse: Parse never panics and accepts only values it would
// serialize back identically.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"https://example.com", "http://localhost:3000", "https://[::1]:8443", "null", "https://a.b:443", "x://y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, ok := Parse(s)
		if !ok {
			return
		}
		re := o.Scheme + "://" + o.Host
		if o.Port != "" {
			re += ":" + o.Port
		}
		if re != s {
			t.Fatalf("Parse(%q) accepted but serializes as %q", s, re)
		}
		rest := s[len(o.Scheme)+3:]
		for i := 0; i < len(rest); i++ {
			if c := rest[i]; c <= ' ' || c > '~' || c == ',' || c == '/' || c == '@' || (c >= 'A' && c <= 'Z') {
				t.Fatalf("Parse(%q) accepted byte %q", s, c)
			}
		}
	})
}

// FuzzParsePattern: ParsePattern never panics, is idempotent, and every
// exact pattern it accepts is an origin a browser could send.
func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"https://example.com", "HTTPS://Example.COM:443", "https://*.example.com", "https://bücher.example",
		"https://[::1]", "http://127.0.0.1:80", "*", "null", "file://", "https://*.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, notes, err := ParsePattern(s)
		if err != nil {
			return
		}
		canon := p.String()
		if len(notes) == 0 && canon != s {
			t.Fatalf("ParsePattern(%q) changed it to %q without a note", s, canon)
		}
		q, notes, err := ParsePattern(canon)
		if err != nil || q != p || len(notes) != 0 {
			t.Fatalf("ParsePattern(%q) = %q, which re-parses as %+v, %v, %v", s, canon, q, notes, err)
		}
		if !p.Wildcard {
			if _, ok := Parse(canon); !ok {
				t.Fatalf("exact pattern %q (from %q) is not a parseable origin", canon, s)
			}
		}
	})
}

// TestSetCovering: which entry allows every origin another entry allows
// (moved from the diff's copy of the allowlist rules).
func TestSetCovering(t *testing.T) {
	tests := []struct {
		q, p string
		want bool
	}{
		{"https://a.example", "https://a.example", true},
		{"https://a.example", "http://a.example", false},
		{"https://*.a.example", "https://x.a.example", true},
		{"https://*.a.example", "https://x.y.a.example", true},
		{"https://*.a.example", "https://a.example", false},
		{"https://*.a.example", "https://xa.example", false},
		{"https://*.a.example", "https://*.x.a.example", true},
		{"https://*.x.a.example", "https://*.a.example", false},
		{"https://*.a.example", "https://x.a.example:8443", false},
		{"https://*.a.example:8443", "https://x.a.example:8443", true},
		{"http://*.a.example", "https://x.a.example", false},
		{"https://[::1]:8443", "https://[::1]:8443", true},
		{"https://[::1]", "https://[::1]:8443", false},
		{"chrome-extension://abc", "chrome-extension://abc", true},
		{"https://a.example", "https://*.a.example", false},
		{"https://*.a.example", "https://*.a.example", true},
	}
	for _, tt := range tests {
		q, _, err := ParsePattern(tt.q)
		if err != nil {
			t.Fatalf("%s: %v", tt.q, err)
		}
		p, _, err := ParsePattern(tt.p)
		if err != nil {
			t.Fatalf("%s: %v", tt.p, err)
		}
		s := NewSet([]Pattern{q})
		by, got := s.Covering(p.String(), p)
		if got != tt.want || got && by != q.String() {
			t.Errorf("%s covers %s = %v (by %v), want %v", tt.q, tt.p, got, by, tt.want)
		}
	}
}

// FuzzSetCovering: Covering agrees with Contains. When an entry covers an
// exact pattern, the set allows that origin; when it covers a wildcard,
// the set allows an origin one label below the wildcard's suffix; and the
// covering entry is one of the set's.
func FuzzSetCovering(f *testing.F) {
	f.Add("https://*.a.example", "https://x.a.example")
	f.Add("https://*.a.example", "https://*.b.a.example")
	f.Add("https://*.a.example:8443", "https://a.example:8443")
	f.Add("http://[::1]", "http://[::1]")
	f.Fuzz(func(t *testing.T, entry, probe string) {
		q, _, err := ParsePattern(entry)
		if err != nil {
			return
		}
		p, _, err := ParsePattern(probe)
		if err != nil {
			return
		}
		s := NewSet([]Pattern{q})
		raw := p.String()
		by, ok := s.Covering(raw, p)
		if !ok {
			return
		}
		if by != q.String() {
			t.Fatalf("Covering(%q) = %q, not the set's entry %q", probe, by, q)
		}
		if p.Wildcard {
			raw = p.Scheme + "://x." + p.Host
			if p.Port != "" {
				raw += ":" + p.Port
			}
		}
		if o, valid := Parse(raw); valid && !s.Contains(raw, o) {
			t.Fatalf("%q covers %q, yet does not contain %q", entry, probe, raw)
		}
	})
}
