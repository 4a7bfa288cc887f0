package diff

import (
	"slices"
	"strings"
	"testing"
)

// TestBeyond: what one class's allow_methods and allow_headers let
// through that another's do not, by the enforcement path's rules.
func TestBeyond(t *testing.T) {
	long := "x-" + strings.Repeat("a", 200)
	tests := []struct {
		name string
		fn   func(a, b []string) []string
		a, b []string
		want []string
	}{
		{"methods: listed only in a", methodsBeyond, []string{"PUT", "DELETE", "PUT"}, []string{"DELETE"}, []string{"PUT"}},
		{"methods: safelisted are always allowed", methodsBeyond, []string{"GET", "POST", "HEAD"}, nil, nil},
		{"methods are case-sensitive", methodsBeyond, []string{"purge"}, []string{"PURGE"}, []string{"purge"}},
		{"headers: case-insensitive", headersBeyond, []string{"X-A", "x-b"}, []string{"x-a"}, []string{"x-b"}},
		{"headers: star covers all but Authorization", headersBeyond, []string{"X-A", "Authorization"}, []string{"*"}, []string{"authorization"}},
		{"headers: star beyond a list", headersBeyond, []string{"*"}, []string{"X-A"}, []string{`"*"`}},
		{"headers: star in both", headersBeyond, []string{"*"}, []string{"*"}, nil},
		// Drift: the copy reported a name no preflight can ask for.
		{"headers: a name too long to match grants nothing", headersBeyond, []string{long}, nil, nil},
		{"headers: star allows a long name", headersBeyond, []string{"*"}, []string{long}, []string{`"*"`}},
	}
	for _, tt := range tests {
		if got := tt.fn(tt.a, tt.b); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
