package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/cors-authz/cors-authz/internal/buildinfo"
	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// policyInfo reads /policy.
type policyInfo struct {
	Generation      uint64 `json:"generation"`
	SHA256          string `json:"sha256"`
	Source          string `json:"source"`
	LastReloadError *struct {
		Message string `json:"message"`
		Issues  []struct {
			Line int `json:"line"`
		} `json:"issues"`
	} `json:"last_reload_error"`
}

func (p *serveProc) policy() policyInfo {
	p.t.Helper()
	code, body := p.get("/policy")
	if code != 200 {
		p.t.Fatalf("/policy = %d %s", code, body)
	}
	var v policyInfo
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		p.t.Fatal(err)
	}
	return v
}

// The service answers Envoy-shaped Checks with the decisions of its policy,
// and reports itself healthy and ready.
func TestServeAnswersChecks(t *testing.T) {
	p := startServe(t, "--config", tempPolicy(t, servePolicy(servePartnerA)))
	c := p.conn()
	tests := []struct {
		name    string
		req     func() checkAnswer
		status  int32
		http    int32
		headers map[string]string // "" value: must be absent
	}{
		{"allowed actual", func() checkAnswer { return callCheck(t, c, envoyRequest("GET", "/api/x?q=1", servePartnerA)) },
			0, 0, map[string]string{"access-control-allow-origin": servePartnerA, "access-control-allow-credentials": "true", "vary": "Origin"}},
		{"unlisted origin", func() checkAnswer { return callCheck(t, c, envoyRequest("GET", "/api/x", servePartnerB)) },
			0, 0, map[string]string{"access-control-allow-origin": ""}},
		{"preflight allowed", func() checkAnswer {
			return callCheck(t, c, envoyRequest("OPTIONS", "/api/x", servePartnerA, "access-control-request-method", "PUT", "access-control-request-headers", "x-custom"))
		}, int32(codes.PermissionDenied), 204, map[string]string{"access-control-allow-origin": servePartnerA, "access-control-allow-methods": "GET, PUT", "access-control-max-age": "600"}},
		{"preflight refused", func() checkAnswer {
			return callCheck(t, c, envoyRequest("OPTIONS", "/api/x", servePartnerB, "access-control-request-method", "PUT"))
		}, int32(codes.PermissionDenied), 403, map[string]string{"access-control-allow-origin": ""}},
		{"internal class", func() checkAnswer { return callCheck(t, c, envoyRequest("GET", "/admin", servePartnerA)) },
			0, 0, map[string]string{"access-control-allow-origin": ""}},
		{"no origin", func() checkAnswer { return callCheck(t, c, envoyRequest("GET", "/api/x", "")) },
			0, 0, map[string]string{"access-control-allow-origin": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.req()
			if a.status != tt.status || a.http != tt.http {
				t.Fatalf("status %d/http %d, want %d/%d (%v)", a.status, a.http, tt.status, tt.http, a.headers)
			}
			for k, want := range tt.headers {
				got, ok := a.headers[k]
				if want == "" && ok {
					t.Errorf("%s = %q, want absent", k, got)
				}
				if want != "" && !strings.EqualFold(got, want) {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}

	hc := healthpb.NewHealthClient(c)
	for _, svc := range []string{"", authzServiceName} {
		resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health %q = %v, %v; want SERVING", svc, resp.GetStatus(), err)
		}
	}
	if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("health of an unknown service: %v, want NotFound", err)
	}
	// Reflection is off unless asked for.
	stream, err := reflectionpb.NewServerReflectionClient(c).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	if _, err := stream.Recv(); status.Code(err) != codes.Unimplemented {
		t.Errorf("reflection without --grpc-reflection: %v, want Unimplemented", err)
	}

	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
		if code, body := p.get(path); code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d %q", path, code, body)
		}
	}
	if v := p.policy(); v.Generation != 1 || v.SHA256 == "" || !strings.HasSuffix(v.Source, "policy.yaml") || v.LastReloadError != nil {
		t.Errorf("/policy = %+v", v)
	}
	if got := p.metric(`cors_authz_checks_total{class="public-api",verdict="allowed"}`); got != "1" {
		t.Errorf("checks_total{public-api,allowed} = %q, want 1", got)
	}
	if p.metric("process_cpu_seconds_total") == "" || p.metric("go_goroutines") == "" {
		t.Error("/metrics lacks the Go and process collectors")
	}
	// The policy and the build are identified.
	if got := p.metric(`cors_authz_policy_info{role="enforced",sha256="` + p.policy().SHA256 + `"}`); got != "1" {
		t.Errorf("policy_info{enforced, /policy's sha256} = %q, want 1", got)
	}
	info := buildinfo.Read(version)
	if got := p.metric(`cors_authz_build_info{goversion="` + info.GoVersion + `",revision="` + info.Revision + `",version="` + info.Version + `"}`); got != "1" {
		t.Errorf("build_info = %q, want 1", got)
	}
	// The refused origin is logged at the default level, with its reason.
	rec, ok := p.logs.Find("check: origin refused")
	if !ok || rec["origin"] != servePartnerB || rec["reason"] != "origin_not_allowed" || rec["class"] != "public-api" {
		t.Errorf("refused-origin record %v", rec)
	}
}

// Without --config the embedded example policy serves, and says so.
func TestServeEmbeddedPolicy(t *testing.T) {
	p := startServe(t, "--cache-size", "0")
	if _, ok := p.logs.Find("no --config: serving the embedded example policy"); !ok {
		t.Error("no log line about the embedded policy")
	}
	c := p.conn()
	a := callCheck(t, c, envoyRequest("GET", "/api/v1/users", "https://partner.example.org"))
	if a.headers["access-control-allow-origin"] != "https://partner.example.org" {
		t.Errorf("embedded policy: partner not allowed: %+v", a)
	}
	if v := p.policy(); v.Generation != 1 || !strings.Contains(v.Source, "embedded") {
		t.Errorf("/policy = %+v", v)
	}
}

// Changing the file changes verdicts live; a refused file leaves the last
// good policy serving, ready, with the failure visible; the next good file
// recovers.
func TestServeLiveReload(t *testing.T) {
	path := tempPolicy(t, servePolicy(servePartnerA))
	p := startServe(t, "--config", path, "--reload-debounce", "20ms")
	c := p.conn()
	if got := acaoFor(t, c, servePartnerA); got != servePartnerA {
		t.Fatalf("before reload: ACAO %q", got)
	}

	replaceFile(t, path, servePolicy(servePartnerB))
	waitFor(t, "partner B allowed", func() bool { return acaoFor(t, c, servePartnerB) == servePartnerB })
	if got := acaoFor(t, c, servePartnerA); got != "" {
		t.Errorf("after reload partner A still gets ACAO %q (stale cache?)", got)
	}
	if v := p.policy(); v.Generation != 2 {
		t.Errorf("generation = %d, want 2", v.Generation)
	}

	replaceFile(t, path, refusedPolicy)
	waitFor(t, "the refusal", func() bool { return p.policy().LastReloadError != nil })
	if got := acaoFor(t, c, servePartnerB); got != servePartnerB {
		t.Errorf("after a refused reload: ACAO %q, want the last good policy's", got)
	}
	v := p.policy()
	if v.Generation != 2 || len(v.LastReloadError.Issues) != 2 || v.LastReloadError.Issues[0].Line != 5 {
		t.Errorf("/policy after refusal = %+v (error %+v)", v, v.LastReloadError)
	}
	if code, _ := p.get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d after a refused reload, want 200", code)
	}
	if got := p.metric(`cors_authz_policy_reloads_total{result="failure"}`); got != "1" {
		t.Errorf("reloads{failure} = %q, want 1", got)
	}
	if got := p.metric("cors_authz_policy_last_reload_failed"); got != "1" {
		t.Errorf("last_reload_failed = %q, want 1", got)
	}
	if !strings.Contains(p.logs.String(), path+":5:") {
		t.Error("the refused file's errors are not logged with file:line")
	}

	replaceFile(t, path, servePolicy(servePartnerA))
	waitFor(t, "recovery", func() bool { return acaoFor(t, c, servePartnerA) == servePartnerA })
	if got := p.metric("cors_authz_policy_last_reload_failed"); got != "0" {
		t.Errorf("last_reload_failed = %q after recovery, want 0", got)
	}
	if got := p.metric(`cors_authz_policy_reloads_total{result="success"}`); got != "3" {
		t.Errorf("reloads{success} = %q, want 3 (start, B, A)", got)
	}
}

// A Kubernetes ConfigMap volume: policy.yaml -> ..data/policy.yaml, and an
// update swaps the ..data symlink.
func TestServeConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	swap := func(version, content string) {
		ts := filepath.Join(dir, ".."+version)
		if err := os.Mkdir(ts, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ts, "policy.yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		old, _ := os.Readlink(filepath.Join(dir, "..data"))
		if err := os.Symlink(".."+version, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		if old != "" {
			os.RemoveAll(filepath.Join(dir, old))
		}
	}
	swap("2026_03_01_10_00_00.1", servePolicy(servePartnerA))
	if err := os.Symlink("..data/policy.yaml", filepath.Join(dir, "policy.yaml")); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, "--config", filepath.Join(dir, "policy.yaml"), "--reload-debounce", "20ms")
	c := p.conn()
	if got := acaoFor(t, c, servePartnerA); got != servePartnerA {
		t.Fatalf("ACAO %q", got)
	}
	first := p.policy().SHA256
	swap("2026_03_01_10_05_00.2", servePolicy(servePartnerB))
	waitFor(t, "the swapped policy", func() bool { return acaoFor(t, c, servePartnerB) == servePartnerB })
	v := p.policy()
	if v.Generation != 2 {
		t.Errorf("generation %d, want 2", v.Generation)
	}
	// cors_authz_policy_info names the new sha256 only.
	if got := p.metric(`cors_authz_policy_info{role="enforced",sha256="` + v.SHA256 + `"}`); got != "1" {
		t.Errorf("policy_info of the new policy = %q, want 1", got)
	}
	if got := p.metric(`cors_authz_policy_info{role="enforced",sha256="` + first + `"}`); got != "" {
		t.Errorf("policy_info of the replaced policy = %q, want no series", got)
	}
}

// SIGHUP reloads at once; file events are held back by a long debounce so
// only the signal can cause the reload.
func TestServeSIGHUP(t *testing.T) {
	path := tempPolicy(t, servePolicy(servePartnerA))
	p := startServe(t, "--config", path, "--reload-debounce", "1h")
	c := p.conn()
	replaceFile(t, path, servePolicy(servePartnerB))
	if got := acaoFor(t, c, servePartnerB); got != "" {
		t.Fatalf("reloaded before SIGHUP: ACAO %q", got)
	}
	p.hup <- syscall.SIGHUP
	waitFor(t, "the SIGHUP reload", func() bool { return acaoFor(t, c, servePartnerB) == servePartnerB })
	// The watcher logs the load just after handing the policy over.
	waitFor(t, "the SIGHUP reload's log", func() bool {
		rec, ok := p.logs.Find("policy loaded")
		return ok && rec["trigger"] == "signal hangup"
	})
}

// On shutdown health turns NOT_SERVING (Watch streams see it, then end)
// while the server still answers; /readyz fails during the drain delay;
// serve exits 0.
func TestServeShutdownHealth(t *testing.T) {
	p := startServe(t, "--drain-delay", "2s")
	c := p.conn()
	watch, err := healthpb.NewHealthClient(c).Watch(context.Background(), &healthpb.HealthCheckRequest{Service: authzServiceName})
	if err != nil {
		t.Fatal(err)
	}
	first, err := watch.Recv()
	if err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first health = %v, %v; want SERVING", first.GetStatus(), err)
	}
	unknown, err := healthpb.NewHealthClient(c).Watch(context.Background(), &healthpb.HealthCheckRequest{Service: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := unknown.Recv(); err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
		t.Fatalf("watch of an unknown service = %v, %v; want SERVICE_UNKNOWN", first.GetStatus(), err)
	}
	if code, _ := p.get("/readyz"); code != 200 {
		t.Fatalf("/readyz = %d before shutdown", code)
	}

	p.cancel() // what SIGTERM does
	next, err := watch.Recv()
	if err != nil || next.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health after shutdown began = %v, %v; want NOT_SERVING", next.GetStatus(), err)
	}
	// NOT_SERVING came before the listener closed: the drain delay holds
	// it open, and Checks are still answered.
	a := callCheck(t, c, envoyRequest("GET", "/api/v1/x", "https://partner.example.org"))
	if got := a.headers["access-control-allow-origin"]; got != "https://partner.example.org" {
		t.Fatalf("Check during drain: ACAO %q", got)
	}
	if code, body := p.get("/readyz"); code != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("/readyz during drain = %d %q, want 503", code, body)
	}
	if _, err := watch.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("watch stream after NOT_SERVING: %v, want a clean end (EOF)", err)
	}
	if last, err := unknown.Recv(); err != nil || last.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("unknown-service watch at shutdown = %v, %v; want NOT_SERVING", last.GetStatus(), err)
	}
	if _, err := unknown.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("unknown-service watch after NOT_SERVING: %v, want EOF", err)
	}
	if code := p.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, step := range []string{"shutdown requested", "shutdown: health NOT_SERVING, /readyz failing",
		"shutdown: draining before closing the listener", "shutdown: gRPC server stopped; in-flight Checks finished",
		"shutdown: admin server stopped", "stopped"} {
		if _, ok := p.logs.Find(step); !ok {
			t.Errorf("no log %q", step)
		}
	}
}

// An RPC that outlives --shutdown-timeout (here an open reflection stream)
// is cut, and serve still exits 0.
func TestServeShutdownTimeout(t *testing.T) {
	p := startServe(t, "--grpc-reflection", "--shutdown-timeout", "200ms", "--admin-addr=")
	c := p.conn()
	stream, err := reflectionpb.NewServerReflectionClient(c).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"envoy.service.auth.v3.Authorization", "grpc.health.v1.Health"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("reflection lists %v, want %s", names, want)
		}
	}
	if code := p.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, ok := p.logs.Find("shutdown: in-flight Checks still running at --shutdown-timeout; closing connections"); !ok {
		t.Errorf("no forced-stop log; logs:\n%s", p.logs)
	}
	if _, err := stream.Recv(); err == nil {
		t.Error("stream still open after shutdown")
	}
}

// A sidecar can use a Unix socket; it is removed on exit.
func TestServeUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "authz.sock")
	p := startServe(t, "--grpc-addr", "unix://"+sock, "--admin-addr=")
	if got := acaoFor(t, p.conn(), "https://partner.example.org"); got != "" {
		t.Errorf("ACAO %q for /api/x on the embedded policy", got)
	}
	if code := p.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}

// /readyz needs a policy and a serving listener, and fails from the start
// of shutdown on.
func TestServerReady(t *testing.T) {
	pol, _, err := policy.Parse("p.yaml", []byte(servePolicy(servePartnerA)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                      string
		loaded, serving, stopping bool
		want                      string // "" = ready
	}{
		{"starting", false, false, false, "no policy loaded"},
		{"loaded, not listening", true, false, false, "gRPC listener not serving"},
		{"listening, no policy", false, true, false, "no policy loaded"},
		{"ready", true, true, false, ""},
		{"shutting down", true, true, true, "shutting down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &server{checks: check.New(check.Options{})}
			if tt.loaded {
				s.checks.SetPolicy(pol)
			}
			s.serving.Store(tt.serving)
			s.stopping.Store(tt.stopping)
			err := s.ready()
			if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && got != tt.want) {
				t.Errorf("ready() = %v, want %q", err, tt.want)
			}
		})
	}
}

// SIGHUP on the embedded policy is logged and ignored.
func TestServeSIGHUPEmbedded(t *testing.T) {
	p := startServe(t, "--admin-addr=")
	p.hup <- syscall.SIGHUP
	waitFor(t, "the ignored-SIGHUP log", func() bool {
		_, ok := p.logs.Find("SIGHUP ignored: serving the embedded policy, which has no file to reload")
		return ok
	})
}

// A socket file left by a killed process is replaced; a live one is not.
func TestListenUnixStaleSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "authz.sock")
	old, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := listen("unix://" + sock); err == nil || !strings.Contains(err.Error(), "another process is serving") {
		t.Fatalf("listen on a live socket: %v", err)
	}
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	old.Close() // the file stays, as after kill -9
	if _, err := os.Stat(sock); err != nil {
		t.Fatal(err)
	}
	ln, err := listen("unix:" + sock)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	ln.Close()
	if _, err := listen("unix://"); err == nil {
		t.Error("listen on an empty socket path succeeded")
	}
}

// serveCmd, as main runs it, reloads on a real SIGHUP sent to the process.
func TestServeCmdRealSIGHUP(t *testing.T) {
	path := tempPolicy(t, servePolicy(servePartnerA))
	logs := &logLines{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- serveCmd(ctx, []string{"--config", path, "--grpc-addr", "127.0.0.1:0", "--admin-addr=", "--reload-debounce", "1h"}, nil, logs)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serveCmd exited %d; logs:\n%s", code, logs)
		}
	}()
	waitFor(t, "listening", func() bool { _, ok := logs.Find("grpc listening"); return ok })
	replaceFile(t, path, servePolicy(servePartnerB))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the SIGHUP reload", func() bool { return logs.Count("policy loaded") == 2 })
	if rec, _ := logs.Find("policy loaded"); rec["trigger"] != "signal hangup" {
		t.Errorf("reload trigger = %v, want signal hangup", rec["trigger"])
	}
}
