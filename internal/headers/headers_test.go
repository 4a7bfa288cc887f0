package headers

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	s := NewSet([]string{"Content-Type", "X-Request-Id", "Authorization"})
	star := NewSet([]string{"*"})
	tests := []struct {
		set  *Set
		acrh string
		want Result
		bad  string
	}{
		{&s, "", OK, ""},
		{&s, "content-type", OK, ""},
		{&s, "content-type,x-request-id", OK, ""},
		{&s, "X-Request-Id, Content-Type", OK, ""},
		{&s, " , content-type ,\t,, authorization ,", OK, ""},
		{&s, "content-type,x-foo", NotAllowed, "x-foo"},
		{&s, "x-" + strings.Repeat("a", 200), NotAllowed, "x-" + strings.Repeat("a", 200)},
		{&s, "content-type;x", Invalid, "content-type;x"},
		{&s, "content type", Invalid, "content type"},
		{&s, "content-type\r\nx", Invalid, "content-type\r\nx"},
		{&s, strings.Repeat("content-type,", 400), Invalid, ""},
		{&star, "x-anything,content-type", OK, ""},
		{&star, "authorization", NotAllowed, "authorization"},
		{&star, "AUTHORIZATION", NotAllowed, "AUTHORIZATION"},
	}
	for _, tt := range tests {
		got, bad := tt.set.Check(tt.acrh)
		if got != tt.want || bad != tt.bad {
			t.Errorf("Check(%.40q) = %v, %q; want %v, %q", tt.acrh, got, bad, tt.want, tt.bad)
		}
	}
}

func TestForbidden(t *testing.T) {
	for _, h := range []string{"cookie", "host", "origin", "sec-fetch-mode", "proxy-authorization", "content-length", "access-control-request-method"} {
		if !IsForbiddenRequestHeader(h) {
			t.Errorf("%s not forbidden", h)
		}
	}
	for _, h := range []string{"authorization", "content-type", "x-request-id"} {
		if IsForbiddenRequestHeader(h) {
			t.Errorf("%s forbidden", h)
		}
	}
}

// reference is a straightforward (allocating) reading of the same rules.
func reference(s *Set, acrh string) Result {
	if len(acrh) > MaxACRHLen {
		return Invalid
	}
	for _, e := range strings.Split(acrh, ",") {
		e = strings.Trim(e, " \t")
		if e == "" {
			continue
		}
		if !IsToken(e) {
			return Invalid
		}
		low := strings.ToLower(e)
		if low == "authorization" {
			if _, ok := s.names[low]; !ok {
				return NotAllowed
			}
			continue
		}
		if _, ok := s.names[low]; !ok && !s.Any {
			return NotAllowed
		}
	}
	return OK
}

// FuzzCheck compares Check with the reference reading.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"", "content-type", "a, b ,,c", "x-foo\t,authorization", "\xff", strings.Repeat("a,", 100)} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, acrh string, any bool) {
		names := []string{"content-type", "x-a", "authorization"}
		if any {
			names = append(names, "*")
		}
		s := NewSet(names)
		got, _ := s.Check(acrh)
		if want := reference(&s, acrh); got != want {
			t.Fatalf("Check(%q) = %v, reference says %v", acrh, got, want)
		}
	})
}

// TestSetAllows: one requested name against allow_headers, as the diff
// asks it (the former copy there ignored the 128-byte bound).
func TestSetAllows(t *testing.T) {
	long := "x-" + strings.Repeat("a", 200)
	listed := NewSet([]string{"Content-Type", "Authorization", long})
	star := NewSet([]string{"*"})
	tests := []struct {
		set  *Set
		name string
		want bool
	}{
		{&listed, "content-type", true},
		{&listed, "CONTENT-TYPE", true},
		{&listed, "authorization", true},
		{&listed, "x-other", false},
		{&listed, long, false}, // listed, but longer than any name a set holds
		{&star, "x-anything", true},
		{&star, long, true},
		{&star, "authorization", false},
		{&star, "Authorization", false},
	}
	for _, tt := range tests {
		if got := tt.set.Allows(tt.name); got != tt.want {
			t.Errorf("Allows(%.40q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
