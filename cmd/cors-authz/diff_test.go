package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const def = "../../pkg/policy/default.yaml"
	orig, err := os.ReadFile(def)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(name, old, new string) string {
		t.Helper()
		if !strings.Contains(string(orig), old) {
			t.Fatalf("default policy lacks %q", old)
		}
		return write(name, strings.Replace(string(orig), old, new, 1))
	}
	widened := edit("widened.yaml", "      - https://partner.example.org\n", "      - https://partner.example.org\n      - https://new.example.net\n")
	narrowed := edit("narrowed.yaml", "    allow_credentials: true\n", "")
	reformatted := write("reformatted.yaml", "# comment only\n"+string(orig))

	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		noStdout []string
	}{
		{"same file", []string{"diff", def, def}, 0, []string{"no changes\n"}, nil, []string{"WIDENS"}},
		{"same file, --exit-code", []string{"diff", "--exit-code", def, def}, 0, []string{"no changes"}, nil, nil},
		{"formatting only, --exit-code", []string{"diff", "--exit-code", def, reformatted}, 0, []string{"differ only in formatting"}, nil, nil},
		{"widened", []string{"diff", def, widened}, 0,
			[]string{"--- " + def, "+++ " + widened, "class public-api\n  + WIDENS   allow_origins: added https://new.example.net\n", "ACCESS WIDENS"}, nil, nil},
		{"widened, --exit-code", []string{"diff", "--exit-code", def, widened}, 3, []string{"+ WIDENS"}, nil, nil},
		{"the other way round narrows", []string{"diff", "--exit-code", widened, def}, 4,
			[]string{"- narrows  allow_origins: removed https://new.example.net"}, nil, []string{"WIDENS"}},
		{"credentials off narrows", []string{"diff", "--exit-code", def, narrowed}, 4, []string{"allow_credentials: true → false"}, nil, nil},
		{"invalid new file", []string{"diff", "--exit-code", def, "testdata/bad.yaml"}, 1, nil,
			[]string{`testdata/bad.yaml:4:21: classes[0].allow_origins[0]: "*"`, "testdata/bad.yaml: refused, 2 error(s)"}, nil},
		{"both files invalid or missing: every error", []string{"diff", "testdata/missing.yaml", "testdata/bad.yaml"}, 1, nil,
			[]string{"no such file", "testdata/bad.yaml: refused"}, nil},
		{"one argument", []string{"diff", def}, 2, nil, []string{"usage: cors-authz diff"}, nil},
		{"unknown flag", []string{"diff", "--nope", def, def}, 2, nil, []string{"flag provided but not defined"}, nil},
		{"help", []string{"diff", "-h"}, 0, nil, []string{"Exit status", "-exit-code"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.code, out, errs)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errs)
				}
			}
			for _, s := range tt.noStdout {
				if strings.Contains(out, s) {
					t.Errorf("stdout has %q:\n%s", s, out)
				}
			}
		})
	}
}

func TestDiffJSON(t *testing.T) {
	dir := t.TempDir()
	newFile := filepath.Join(dir, "new.yaml")
	if err := os.WriteFile(newFile, []byte(`version: 1
self_origins: [https://app.example.com]
classes:
  - name: public-api
    match: {path_prefixes: [/api/v1/], paths: [/api/v1]}
    allow_origins: [https://partner.example.org, "https://*.tenant.example.com"]
    allow_methods: [GET, POST, PUT, PATCH, DELETE]
    allow_headers: ["*", Authorization]
    expose_headers: [X-Request-Id]
    allow_credentials: true
    max_age: 10m
  - name: internal
    match: {path_prefixes: [/]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI("diff", "--json", "--exit-code", "../../pkg/policy/default.yaml", newFile)
	if code != 3 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Old, New struct {
			Source, SHA256 string
			Classes        int
		}
		Changes []struct{ Class, Field, Op, Value, Effect string }
		Summary struct{ Changes, Widens, Narrows, Neutral int }
		Widens  bool
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !r.Widens || r.Old.Classes != 2 || r.New.Source != newFile || len(r.New.SHA256) != 64 {
		t.Errorf("report = %+v", r)
	}
	// "*" widens; the headers it now covers are neutral removals.
	want := map[string]string{"*": "widens", "content-type": "neutral", "x-request-id": "neutral"}
	for _, ch := range r.Changes {
		if ch.Class != "public-api" || ch.Field != "allow_headers" {
			t.Errorf("unexpected change %+v", ch)
			continue
		}
		if want[ch.Value] != ch.Effect {
			t.Errorf("%s %s: effect %s, want %s", ch.Op, ch.Value, ch.Effect, want[ch.Value])
		}
		delete(want, ch.Value)
	}
	if len(want) != 0 || r.Summary.Changes != 3 || r.Summary.Widens != 1 || r.Summary.Neutral != 2 {
		t.Errorf("missing %v; summary %+v", want, r.Summary)
	}
}
