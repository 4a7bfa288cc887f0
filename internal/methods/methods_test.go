package methods

import "testing"

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
