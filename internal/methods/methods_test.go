package methods

import (
	"strings"
	"testing"
)

func TestMethods(t *testing.T) {
	for _, m := range []string{"CONNECT", "trace", "Track"} {
		if !Forbidden(m) {
			t.Errorf("%s not forbidden", m)
		}
	}
	if Forbidden("PATCH") {
		t.Error("PATCH forbidden")
	}
	if up, bad := Misspelled("patch"); !bad || up != "PATCH" {
		t.Errorf("Misspelled(patch) = %q, %v", up, bad)
	}
	for _, m := range []string{"PATCH", "PROPFIND", "propfind"} {
		if _, bad := Misspelled(m); bad {
			t.Errorf("Misspelled(%s) = true", m)
		}
	}
	if !Safelisted("GET") || Safelisted("get") || Safelisted("PUT") {
		t.Error("Safelisted wrong")
	}
}

func TestSetAllows(t *testing.T) {
	s := NewSet([]string{"PUT", "PURGE", "PUT", "patch"})
	if got := strings.Join(s.List(), ", "); got != "PUT, PURGE, patch" {
		t.Errorf("List = %q", got)
	}
	tests := map[string]bool{
		"PUT": true, "PURGE": true, "patch": true, // listed, as written
		"GET": true, "HEAD": true, "POST": true, // safelisted
		"put": false, "PATCH": false, "DELETE": false, "get": false, "": false,
	}
	for m, want := range tests {
		if got := s.Allows(m); got != want {
			t.Errorf("Allows(%q) = %v, want %v", m, got, want)
		}
	}
	var empty Set
	if !empty.Allows("GET") || empty.Allows("PUT") {
		t.Error("the zero Set must allow exactly the safelisted methods")
	}
}
