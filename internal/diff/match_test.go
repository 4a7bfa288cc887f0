package diff

import (
	"testing"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

func TestMatchOverlapAndCovers(t *testing.T) {
	type m = policy.MatchSpec
	tests := []struct {
		name             string
		a, b             m
		overlap, aCovers bool
	}{
		{"both match everything", m{}, m{}, true, true},
		{"catch-all prefix covers everything", m{PathPrefixes: []string{"/"}}, m{Hosts: []string{"a.example"}, Paths: []string{"/x"}}, true, true},
		{"specific does not cover everything", m{PathPrefixes: []string{"/api/"}}, m{}, true, false},
		{"nested prefixes", m{PathPrefixes: []string{"/api/"}}, m{PathPrefixes: []string{"/api/v1/"}}, true, true},
		{"nested prefixes reversed", m{PathPrefixes: []string{"/api/v1/"}}, m{PathPrefixes: []string{"/api/"}}, true, false},
		{"disjoint prefixes", m{PathPrefixes: []string{"/api/"}}, m{PathPrefixes: []string{"/upload/"}}, false, false},
		{"exact path under a prefix", m{PathPrefixes: []string{"/api/"}}, m{Paths: []string{"/api/x"}}, true, true},
		{"exact path outside a prefix", m{PathPrefixes: []string{"/api/"}}, m{Paths: []string{"/api"}}, false, false},
		{"exact paths", m{Paths: []string{"/a", "/b"}}, m{Paths: []string{"/b"}}, true, true},
		{"prefix not covered by exact paths", m{Paths: []string{"/a/"}}, m{PathPrefixes: []string{"/a/"}}, true, false},
		{"any host covers a host", m{PathPrefixes: []string{"/"}}, m{Hosts: []string{"a.example"}}, true, true},
		{"a host does not cover any host", m{Hosts: []string{"a.example"}}, m{}, true, false},
		{"different hosts", m{Hosts: []string{"a.example"}}, m{Hosts: []string{"b.example"}}, false, false},
		{"wildcard host covers a subdomain", m{Hosts: []string{"*.a.example"}}, m{Hosts: []string{"x.a.example"}}, true, true},
		{"wildcard host excludes its apex", m{Hosts: []string{"*.a.example"}}, m{Hosts: []string{"a.example"}}, false, false},
		{"wildcard host excludes its dot-prefixed suffix (drift: the copy said yes)", m{Hosts: []string{"*.a.example"}}, m{Hosts: []string{".a.example"}}, false, false},
		{"nested wildcards", m{Hosts: []string{"*.a.example"}}, m{Hosts: []string{"*.eu.a.example"}}, true, true},
		{"nested wildcards reversed", m{Hosts: []string{"*.eu.a.example"}}, m{Hosts: []string{"*.a.example"}}, true, false},
		{"host with a port: only that port", m{Hosts: []string{"a.example:8443"}}, m{Hosts: []string{"a.example"}}, true, false},
		{"host without a port: every port", m{Hosts: []string{"a.example"}}, m{Hosts: []string{"a.example:8443"}}, true, true},
		{"different ports", m{Hosts: []string{"a.example:1"}}, m{Hosts: []string{"a.example:2"}}, false, false},
		{"IPv6 literal with a port", m{Hosts: []string{"[::1]"}}, m{Hosts: []string{"[::1]:8080"}}, true, true},
		{"hosts overlap but paths do not", m{Hosts: []string{"a.example"}, PathPrefixes: []string{"/x/"}}, m{Hosts: []string{"a.example"}, PathPrefixes: []string{"/y/"}}, false, false},
		{"paths overlap but hosts do not", m{Hosts: []string{"a.example"}, PathPrefixes: []string{"/x/"}}, m{Hosts: []string{"b.example"}, PathPrefixes: []string{"/x/"}}, false, false},
	}
	for _, tt := range tests {
		if got := matchOverlap(tt.a, tt.b); got != tt.overlap {
			t.Errorf("%s: overlap = %v, want %v", tt.name, got, tt.overlap)
		}
		if got := matchOverlap(tt.b, tt.a); got != tt.overlap {
			t.Errorf("%s: overlap (reversed) = %v, want %v", tt.name, got, tt.overlap)
		}
		if got := matchCovers(tt.a, tt.b); got != tt.aCovers {
			t.Errorf("%s: covers = %v, want %v", tt.name, got, tt.aCovers)
		}
	}
}
