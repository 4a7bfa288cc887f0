package diff

import (
	"slices"
	"strings"
	"testing"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

const dirBase = `version: 1
classes:
  - name: partners
    match: {path_prefixes: [/api/]}
    allow_origins: [https://own.example.org]
    allow_methods: [GET]
    allow_credentials: true
    delegate:
      origin_domains: [example.org]
      allow_methods: [PUT, DELETE]
      max_origins: 10
  - name: internal
    match: {path_prefixes: [/]}
`

// dirPolicy builds a merged policy from a base and fragments by name.
func dirPolicy(t *testing.T, dir, base string, frags map[string]string) *policy.Policy {
	t.Helper()
	b := parse(t, dir+"/policy.yaml", base)
	var fs []*policy.Fragment
	for name, src := range frags {
		f, _, err := policy.ParseFragment(b, dir+"/"+name, []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	p, err := b.WithFragments(fs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ext(origins, methods string) string {
	s := "version: 1\nextend:\n  - class: partners\n    allow_origins: [" + origins + "]\n"
	if methods != "" {
		s += "    allow_methods: [" + methods + "]\n"
	}
	return s
}

func TestDirs(t *testing.T) {
	a := ext("https://a.example.org", "PUT")
	tests := []struct {
		name       string
		oldBase    string
		old        map[string]string
		newBase    string
		new        map[string]string
		files      map[string]string   // file → status, for every file reported
		want       map[string][]string // file → keys of its changes
		widenFiles []string
	}{
		{"the same", dirBase, map[string]string{"a.yaml": a}, dirBase, map[string]string{"a.yaml": a},
			map[string]string{"policy.yaml": FileUnchanged, "a.yaml": FileUnchanged}, map[string][]string{}, nil},
		{"a fragment grants a new origin and method", dirBase, map[string]string{"a.yaml": a},
			dirBase, map[string]string{"a.yaml": ext("https://a.example.org, https://b.example.org", "PUT, DELETE")},
			map[string]string{"policy.yaml": FileUnchanged, "a.yaml": FileChanged},
			map[string][]string{"a.yaml": {"widens partners allow_origins added https://b.example.org", "widens partners allow_methods added DELETE"}},
			[]string{"a.yaml"}},
		{"a fragment added, another removed", dirBase, map[string]string{"a.yaml": a},
			dirBase, map[string]string{"b.yaml": ext("https://b.example.org", "")},
			map[string]string{"policy.yaml": FileUnchanged, "a.yaml": FileRemoved, "b.yaml": FileAdded},
			map[string][]string{
				"a.yaml": {"narrows partners allow_origins removed https://a.example.org", "narrows partners allow_methods removed PUT"},
				"b.yaml": {"widens partners allow_origins added https://b.example.org"},
			}, []string{"b.yaml"}},
		{"a fragment only narrows", dirBase, map[string]string{"a.yaml": a}, dirBase, map[string]string{"a.yaml": ext("https://a.example.org", "")},
			map[string]string{"policy.yaml": FileUnchanged, "a.yaml": FileChanged},
			map[string][]string{"a.yaml": {"narrows partners allow_methods removed PUT"}}, nil},
		{"guardrails loosened and tightened", dirBase, nil,
			strings.NewReplacer("[PUT, DELETE]", "[PUT, PATCH]", "max_origins: 10", "max_origins: 20\n      allow_wildcards: true", "[example.org]", "[example.org, example.net]").Replace(dirBase), nil,
			map[string]string{"policy.yaml": FileChanged},
			map[string][]string{"policy.yaml": {
				"widens partners delegate.origin_domains added example.net",
				"widens partners delegate.allow_methods added PATCH",
				"narrows partners delegate.allow_methods removed DELETE",
				"widens partners delegate.allow_wildcards changed false>true",
				"widens partners delegate.max_origins changed 10>20",
			}}, []string{"policy.yaml"}},
		{"delegation ended", dirBase, nil, strings.Replace(dirBase, "    delegate:\n      origin_domains: [example.org]\n      allow_methods: [PUT, DELETE]\n      max_origins: 10\n", "", 1), nil,
			map[string]string{"policy.yaml": FileChanged},
			map[string][]string{"policy.yaml": {"narrows partners delegate removed "}}, nil},
		{"a base change is reported once, in the base", dirBase, map[string]string{"a.yaml": a},
			strings.Replace(dirBase, "allow_credentials: true", "allow_credentials: false", 1), map[string]string{"a.yaml": a},
			map[string]string{"policy.yaml": FileChanged, "a.yaml": FileUnchanged},
			map[string][]string{"policy.yaml": {"narrows partners allow_credentials changed true>false"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Dirs(dirPolicy(t, "old", tt.oldBase, tt.old), dirPolicy(t, "new", tt.newBase, tt.new))
			var widen []string
			if len(r.Files) != len(tt.files) {
				t.Errorf("%d files reported, want %d", len(r.Files), len(tt.files))
			}
			for _, f := range r.Files {
				if f.Status != tt.files[f.File] {
					t.Errorf("%s: status %s, want %s", f.File, f.Status, tt.files[f.File])
				}
				var got []string
				for _, ch := range f.Changes {
					got = append(got, key(ch))
				}
				if !slices.Equal(got, tt.want[f.File]) {
					t.Errorf("%s: changes\n  %s\nwant\n  %s", f.File, strings.Join(got, "\n  "), strings.Join(tt.want[f.File], "\n  "))
				}
				if f.Widens {
					widen = append(widen, f.File)
				}
			}
			if !slices.Equal(widen, tt.widenFiles) || r.Widens != (len(tt.widenFiles) > 0) {
				t.Errorf("widening files %v (report %v), want %v", widen, r.Widens, tt.widenFiles)
			}
			text := r.Text()
			for _, f := range tt.widenFiles {
				if !strings.Contains(text, "=== "+f+" ") || !strings.Contains(text, "ACCESS WIDENS in") {
					t.Errorf("text does not mark %s:\n%s", f, text)
				}
			}
			if r.Changed() != (len(tt.want) > 0 || slices.ContainsFunc(r.Files, func(f FileReport) bool { return f.Status == FileAdded || f.Status == FileRemoved })) {
				t.Errorf("Changed() = %v", r.Changed())
			}
		})
	}
}
