package origin

import "testing"

func mustPattern(t *testing.T, s string) Pattern {
	t.Helper()
	p, _, err := ParsePattern(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMapLookup: exact entries win over wildcards, the longest wildcard
// suffix wins over shorter ones, and the matching rules are Set's.
func TestMapLookup(t *testing.T) {
	var m Map[string]
	for _, e := range []string{"https://a.example.com", "https://*.example.com", "https://*.b.example.com", "https://*.example.com:8443", "https://[::1]"} {
		m.Put(mustPattern(t, e), e)
	}
	var set Set
	for _, e := range []string{"https://a.example.com", "https://*.example.com", "https://*.b.example.com", "https://*.example.com:8443", "https://[::1]"} {
		set.Add(mustPattern(t, e))
	}
	tests := []struct{ origin, want string }{
		{"https://a.example.com", "https://a.example.com"},
		{"https://x.a.example.com", "https://*.example.com"},
		{"https://c.example.com", "https://*.example.com"},
		{"https://x.b.example.com", "https://*.b.example.com"},
		{"https://y.x.b.example.com", "https://*.b.example.com"},
		{"https://b.example.com", "https://*.example.com"},
		{"https://c.example.com:8443", "https://*.example.com:8443"},
		{"https://example.com", ""},
		{"http://c.example.com", ""},
		{"https://[::1]", "https://[::1]"},
		{"https://[::2]", ""},
	}
	for _, tt := range tests {
		o, ok := Parse(tt.origin)
		if !ok {
			t.Fatalf("Parse(%q)", tt.origin)
		}
		got, found := m.Lookup(tt.origin, o)
		if got != tt.want || found != (tt.want != "") || set.Contains(tt.origin, o) != found {
			t.Errorf("Lookup(%q) = %q, %v; want %q (Set.Contains %v)", tt.origin, got, found, tt.want, set.Contains(tt.origin, o))
		}
	}
	if m.Len() != 5 || !m.HasWildcards() {
		t.Errorf("Len %d HasWildcards %v", m.Len(), m.HasWildcards())
	}
}

func TestMapCovering(t *testing.T) {
	var m Map[string]
	for _, e := range []string{"https://*.example.com", "https://*.b.example.com", "https://x.b.example.com"} {
		m.Put(mustPattern(t, e), e)
	}
	tests := []struct{ pattern, want string }{
		{"https://x.b.example.com", "https://*.b.example.com"},
		{"https://*.b.example.com", "https://*.example.com"},
		{"https://*.c.b.example.com", "https://*.b.example.com"},
		{"https://*.example.com", ""},
		{"https://b.example.com", "https://*.example.com"},
		{"https://other.org", ""},
		{"http://x.b.example.com", ""},
	}
	for _, tt := range tests {
		got, at, ok := m.Covering(mustPattern(t, tt.pattern))
		if got != tt.want || ok != (tt.want != "") || ok && at.String() != tt.want {
			t.Errorf("Covering(%q) = %q at %v, %v; want %q", tt.pattern, got, at, ok, tt.want)
		}
	}
}

func TestMapCloneAndDelete(t *testing.T) {
	m := NewMap[int](2, 1)
	m.PutExact("https://a.example", 1)
	m.Put(mustPattern(t, "https://*.example"), 2)
	c := m.Clone()
	c.DeleteExact("https://a.example")
	c.PutExact("https://b.example", 3)
	if v, ok := m.GetExact("https://a.example"); !ok || v != 1 {
		t.Errorf("the original lost an entry: %v %v", v, ok)
	}
	if _, ok := m.GetExact("https://b.example"); ok || m.Len() != 2 || c.Len() != 2 {
		t.Errorf("clone and original share entries: %d %d", m.Len(), c.Len())
	}
	if v, ok := c.Get(mustPattern(t, "https://*.example")); !ok || v != 2 {
		t.Errorf("clone wildcard %v %v", v, ok)
	}
}
