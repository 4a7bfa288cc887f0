package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"github.com/cors-authz/cors-authz/internal/buildinfo"
	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// cliCase is one run of the command and what it must print and exit with.
type cliCase struct {
	name     string
	args     []string
	code     int
	contains []string // in stdout or stderr
	lacks    []string // in neither
}

// runCLICases runs each case as a subtest.
func runCLICases(t *testing.T, tests []cliCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(tt.args...)
			checkCLI(t, code, out, errs, tt.code, tt.contains, tt.lacks)
		})
	}
}

// checkCLI reports, for one run of the command, an exit code other than
// want, and each of contains that the output (stdout then stderr) lacks
// and each of lacks that it has.
func checkCLI(t *testing.T, code int, out, errs string, want int, contains, lacks []string) {
	t.Helper()
	if code != want {
		t.Errorf("exit %d, want %d\n%s%s", code, want, out, errs)
	}
	for _, c := range contains {
		if !strings.Contains(out+errs, c) {
			t.Errorf("output lacks %q:\n%s%s", c, out, errs)
		}
	}
	for _, c := range lacks {
		if strings.Contains(out+errs, c) {
			t.Errorf("output has %q:\n%s%s", c, out, errs)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		contains []string
	}{
		{[]string{"validate", "../../pkg/policy/default.yaml"}, 0, []string{"ok, 2 class(es)"}},
		{[]string{"validate", "testdata/bad.yaml"}, 1, []string{
			`testdata/bad.yaml:4:21: classes[0].allow_origins[0]: "*"`,
			`testdata/bad.yaml:4:26: classes[0].allow_origins[1]: "https://*.com": wildcard on a public suffix`,
			"testdata/bad.yaml:5:14: classes[0].max_age", // the warning is printed too
			"refused, 2 error(s)"}},
		{[]string{"validate", "testdata/missing.yaml"}, 1, []string{"no such file"}},
		{[]string{"validate"}, 2, []string{"usage"}},
		{[]string{"nope"}, 2, []string{`unknown command "nope"`}},
	}
	for _, tt := range tests {
		code, out, errs := runCLI(tt.args...)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", tt.args, code, tt.code, out, errs)
		}
		for _, c := range tt.contains {
			if !strings.Contains(out+errs, c) {
				t.Errorf("%v: output lacks %q:\n%s%s", tt.args, c, out, errs)
			}
		}
	}
}

func TestExplain(t *testing.T) {
	code, out, errs := runCLI("explain", "--method", "OPTIONS", "--path", "/api/v1/users", "--host", "api.example.com",
		"--origin", "https://partner.example.org", "--header", "Access-Control-Request-Method: PUT",
		"--header", "access-control-request-headers: content-type", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var e struct {
		Class, Kind, Reason, Envoy_action string
		HTTPStatus                        int `json:"http_status"`
		Headers                           []struct{ Name, Value, Append_action string }
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	if e.Class != "public-api" || e.Kind != "preflight" || e.Reason != "preflight_allowed" || e.HTTPStatus != 204 {
		t.Errorf("explain = %+v", e)
	}
	if len(e.Headers) == 0 || e.Headers[0].Name != "access-control-allow-origin" || e.Headers[0].Value != "https://partner.example.org" ||
		e.Headers[0].Append_action != "OVERWRITE_IF_EXISTS_OR_ADD" {
		t.Errorf("headers = %+v", e.Headers)
	}

	// An unlisted origin, in text form: forwarded with Vary only.
	code, out, _ = runCLI("explain", "--path", "/api/v1/x", "--origin", "https://evil.example")
	if code != 0 || !strings.Contains(out, "denied (origin_not_allowed)") || !strings.Contains(out, "vary: Origin    [APPEND_IF_EXISTS_OR_ADD]") ||
		strings.Contains(out, "access-control-allow-origin") {
		t.Errorf("unlisted origin:\n%s", out)
	}
	if code, _, errs := runCLI("explain", "--config", "testdata/bad.yaml"); code != 1 || !strings.Contains(errs, "refused") {
		t.Errorf("bad config: exit %d %s", code, errs)
	}
	if code, _, _ := runCLI("explain", "--header", "no-colon"); code != 2 {
		t.Errorf("bad header: exit %d", code)
	}
}

func TestCheckCommand(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc := check.New(check.Options{})
	svc.SetPolicy(policy.Default())
	g := grpc.NewServer()
	svc.Register(g)
	go g.Serve(lis)
	defer g.Stop()
	addr := lis.Addr().String()

	tests := []struct {
		args []string
		want []string
		not  string
	}{
		{[]string{"--path", "/api/v1/users", "--origin", "https://partner.example.org"},
			[]string{"OK: Envoy forwards", "access-control-allow-origin: https://partner.example.org  [OVERWRITE_IF_EXISTS_OR_ADD]", "vary: Origin  [APPEND_IF_EXISTS_OR_ADD]"}, ""},
		{[]string{"--method", "OPTIONS", "--path", "/api/v1/users", "--origin", "https://partner.example.org", "--header", "Access-Control-Request-Method: PUT"},
			[]string{"PermissionDenied: Envoy answers HTTP 204 itself", "access-control-allow-methods: GET, POST, PUT, PATCH, DELETE"}, ""},
		{[]string{"--path", "/api/v1/users", "--origin", "https://evil.example.net"},
			[]string{"OK: Envoy forwards", "vary: Origin"}, "access-control-allow-origin"},
		{[]string{"--method", "OPTIONS", "--path", "/", "--origin", "https://partner.example.org", "--header", "Access-Control-Request-Method: PUT"},
			[]string{"PermissionDenied: Envoy answers HTTP 403 itself"}, "access-control"},
	}
	for _, tt := range tests {
		code, out, errs := runCLI(append([]string{"check", "--addr", addr}, tt.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tt.args, code, errs)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tt.args, w, out)
			}
		}
		if tt.not != "" && strings.Contains(out, tt.not) {
			t.Errorf("%v: output has %q:\n%s", tt.args, tt.not, out)
		}
	}
}

// version prints the version stamped at link time (main.version) and the
// build's revision and Go version, as cors_authz_build_info exports them.
func TestVersion(t *testing.T) {
	info := buildinfo.Read(version)
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"version"}, 0, "cors-authz " + version + "\nrevision: " + info.Revision + "\ngo: " + info.GoVersion + "\n", ""},
		{[]string{"version", "-h"}, 0, "", "usage: cors-authz version"},
		{[]string{"version", "--json"}, 2, "", `unexpected argument "--json"`},
	}
	for _, tt := range tests {
		code, out, errs := runCLI(tt.args...)
		if code != tt.code || out != tt.stdout || !strings.Contains(errs, tt.stderr) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, out, errs, tt.code, tt.stdout, tt.stderr)
		}
	}
	if !strings.HasPrefix(info.GoVersion, "go") || info.Revision == "" {
		t.Errorf("build info %+v", info)
	}
	// The usage lists every command main dispatches.
	_, _, usageText := runCLI("help")
	for name := range commands() {
		if !strings.Contains(usageText, "\n  "+name+" ") {
			t.Errorf("usage does not list %q:\n%s", name, usageText)
		}
	}
}
