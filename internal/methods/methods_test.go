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
	if !Safelisted("GET") || Safelisted("get") || Safelisted("PUT") {
		t.Error("Safelisted wrong")
	}
}

// TestNormalisation: Fetch §2.2.1 "normalize" upper-cases DELETE, GET,
// HEAD, OPTIONS, POST and PUT only; every other method is sent as written.
func TestNormalisation(t *testing.T) {
	tests := []struct {
		m             string
		misspelled    bool
		up            string
		sentAsWritten bool
	}{
		{"get", true, "GET", false},
		{"Post", true, "POST", false},
		{"delete", true, "DELETE", false},
		{"options", true, "OPTIONS", false},
		{"hEAD", true, "HEAD", false},
		{"put", true, "PUT", false},
		{"GET", false, "GET", false},
		{"PATCH", false, "PATCH", false},
		{"patch", false, "PATCH", true}, // fetch(url, {method: "patch"}) sends "patch"
		{"Patch", false, "PATCH", true},
		{"PROPFIND", false, "PROPFIND", false},
		{"propfind", false, "PROPFIND", true},
		{"X-1", false, "X-1", false},
	}
	for _, tt := range tests {
		up, bad := Misspelled(tt.m)
		if bad != tt.misspelled || (bad && up != tt.up) {
			t.Errorf("Misspelled(%q) = %q, %v; want %q, %v", tt.m, up, bad, tt.up, tt.misspelled)
		}
		if got := SentAsWritten(tt.m); got != tt.sentAsWritten {
			t.Errorf("SentAsWritten(%q) = %v, want %v", tt.m, got, tt.sentAsWritten)
		}
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
