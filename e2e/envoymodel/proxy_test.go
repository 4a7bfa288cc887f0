package envoymodel

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestResponseHeadersToAdd pins how OkHttpResponse.response_headers_to_add
// lands on the upstream response: append_action semantics, the deprecated
// append field, inline comma-joining, grouping order, and the route's
// response_headers_to_remove running first.
func TestResponseHeadersToAdd(t *testing.T) {
	tests := []struct {
		name     string
		path     string // "/api/v1/…" strips ACAO and ACAC first; "/x" strips ACAO only; "/healthz" has no check
		upstream http.Header
		add      []*corev3.HeaderValueOption
		want     map[string][]string // header → lines; nil slice means absent
	}{
		{
			name: "overwrite replaces the upstream's ACAO", path: "/nostrip",
			upstream: http.Header{"Access-Control-Allow-Origin": {"*"}},
			add:      []*corev3.HeaderValueOption{hvo("access-control-allow-origin", "http://a.test", overwriteOrAdd)},
			want:     map[string][]string{"Access-Control-Allow-Origin": {"http://a.test"}},
		},
		{
			name: "append onto an upstream ACAO comma-joins (inline header): the duplicate-ACAO hazard", path: "/nostrip",
			upstream: http.Header{"Access-Control-Allow-Origin": {"http://a.test"}},
			add:      []*corev3.HeaderValueOption{hvo("access-control-allow-origin", "http://a.test", appendOrAdd)},
			want:     map[string][]string{"Access-Control-Allow-Origin": {"http://a.test,http://a.test"}},
		},
		{
			name: "unset append_action defaults to APPEND_IF_EXISTS_OR_ADD", path: "/nostrip",
			upstream: http.Header{"Access-Control-Allow-Origin": {"*"}},
			add: []*corev3.HeaderValueOption{{
				Header: &corev3.HeaderValue{Key: "access-control-allow-origin", Value: "http://a.test"},
			}},
			want: map[string][]string{"Access-Control-Allow-Origin": {"*,http://a.test"}},
		},
		{
			name: "two ACAO lines from the upstream are one inline value", path: "/nostrip",
			upstream: http.Header{"Access-Control-Allow-Origin": {"http://x.test", "http://y.test"}},
			want:     map[string][]string{"Access-Control-Allow-Origin": {"http://x.test,http://y.test"}},
		},
		{
			name: "route removal runs before the append: hazard neutralised", path: "/api/v1/a",
			upstream: http.Header{"Access-Control-Allow-Origin": {"*"}, "Access-Control-Allow-Credentials": {"true"}},
			add:      []*corev3.HeaderValueOption{hvo("access-control-allow-origin", "http://a.test", appendOrAdd)},
			want: map[string][]string{
				"Access-Control-Allow-Origin":      {"http://a.test"},
				"Access-Control-Allow-Credentials": nil,
			},
		},
		{
			name: "route removal with no check still strips", path: "/x",
			upstream: http.Header{"Access-Control-Allow-Origin": {"*"}},
			want:     map[string][]string{"Access-Control-Allow-Origin": nil},
		},
		{
			name: "append on a non-inline header adds a second line", path: "/nostrip",
			upstream: http.Header{"Vary": {"Accept-Encoding"}},
			add:      []*corev3.HeaderValueOption{hvo("vary", "Origin", appendOrAdd)},
			want:     map[string][]string{"Vary": {"Accept-Encoding", "Origin"}},
		},
		{
			name: "append when absent adds", path: "/nostrip",
			add:  []*corev3.HeaderValueOption{hvo("vary", "Origin", appendOrAdd)},
			want: map[string][]string{"Vary": {"Origin"}},
		},
		{
			name: "deprecated append:false sets, append:true adds (and wins over append_action)", path: "/nostrip",
			upstream: http.Header{"X-A": {"up"}, "X-B": {"up"}},
			add: []*corev3.HeaderValueOption{
				hvoAppend("x-a", "authz", false),
				func() *corev3.HeaderValueOption {
					o := hvoAppend("x-b", "authz", true)
					o.AppendAction = overwriteOrAdd
					return o
				}(),
			},
			want: map[string][]string{"X-A": {"authz"}, "X-B": {"up", "authz"}},
		},
		{
			name: "ADD_IF_ABSENT keeps an existing value and adds a missing one", path: "/nostrip",
			upstream: http.Header{"X-A": {"up"}},
			add: []*corev3.HeaderValueOption{
				hvo("x-a", "authz", addIfAbsent), hvo("x-b", "authz", addIfAbsent),
			},
			want: map[string][]string{"X-A": {"up"}, "X-B": {"authz"}},
		},
		{
			name: "OVERWRITE_IF_EXISTS replaces an existing value and adds nothing", path: "/nostrip",
			upstream: http.Header{"X-A": {"up"}},
			add: []*corev3.HeaderValueOption{
				hvo("x-a", "authz", overwriteIfExists), hvo("x-b", "authz", overwriteIfExists),
			},
			want: map[string][]string{"X-A": {"authz"}, "X-B": nil},
		},
		{
			name: "groups run adds before sets whatever the order received", path: "/nostrip",
			add: []*corev3.HeaderValueOption{
				hvo("x-a", "set", overwriteOrAdd), hvo("x-a", "added", appendOrAdd),
			},
			want: map[string][]string{"X-A": {"set"}},
		},
		{
			name: "server header is Envoy's", path: "/nostrip",
			upstream: http.Header{"Server": {"app"}},
			want:     map[string][]string{"Server": {"envoy"}},
		},
	}
	var mu sync.Mutex
	var cur int
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := tests[cur].upstream
		mu.Unlock()
		for k, vs := range h {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(200)
	})
	authz := startFakeAuthz(t, func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		return okWith(tests[cur].add...), nil
	})
	routes := []Route{
		{Prefix: "/api/v1/", ResponseHeadersToRemove: []string{"access-control-allow-origin", "access-control-allow-credentials"}},
		{Prefix: "/nostrip"},
		{Prefix: "/", ResponseHeadersToRemove: []string{"access-control-allow-origin"}, DisableExtAuthz: true},
	}
	p := startProxy(t, Config{Routes: routes}, up, authz.addr)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			cur = i
			mu.Unlock()
			resp, _ := do(t, "GET", p.URL+tt.path, http.Header{"Origin": {"http://a.test"}})
			if resp.StatusCode != 200 {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			for k, want := range tt.want {
				got := resp.Header.Values(k)
				if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestDeniedResponse pins local replies built from a denial.
func TestDeniedResponse(t *testing.T) {
	acao := hvo("access-control-allow-origin", "http://a.test", overwriteOrAdd)
	tests := []struct {
		name       string
		resp       *authv3.CheckResponse
		method     string
		wantStatus int
		wantBody   string
		wantHdr    map[string][]string
		forwarded  bool
	}{
		{
			name:       "preflight answered 204 with CORS headers and an empty body",
			resp:       denied(codes.PermissionDenied, typev3.StatusCode_NoContent, "", acao, hvo("access-control-allow-methods", "PUT", overwriteOrAdd)),
			method:     "OPTIONS",
			wantStatus: 204,
			wantHdr: map[string][]string{
				"Access-Control-Allow-Origin":  {"http://a.test"},
				"Access-Control-Allow-Methods": {"PUT"},
				"Content-Type":                 nil,
			},
		},
		{
			name:       "route removal of ACAO does not touch the denied headers",
			resp:       denied(codes.PermissionDenied, typev3.StatusCode_NoContent, "", acao),
			method:     "OPTIONS",
			wantStatus: 204,
			wantHdr:    map[string][]string{"Access-Control-Allow-Origin": {"http://a.test"}},
		},
		{
			name:       "no denied_response: 403",
			resp:       &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.PermissionDenied)}},
			method:     "GET",
			wantStatus: 403,
			wantHdr:    map[string][]string{"Content-Type": nil},
		},
		{
			name:       "UNAUTHENTICATED without denied_response is still 403",
			resp:       &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.Unauthenticated)}},
			method:     "GET",
			wantStatus: 403,
		},
		{
			name:       "denied_response status 0 is 403",
			resp:       denied(codes.PermissionDenied, 0, ""),
			method:     "GET",
			wantStatus: 403,
		},
		{
			name:       "denied body gets text/plain",
			resp:       denied(codes.PermissionDenied, typev3.StatusCode_Forbidden, "cors: origin not allowed"),
			method:     "GET",
			wantStatus: 403,
			wantBody:   "cors: origin not allowed",
			wantHdr:    map[string][]string{"Content-Type": {"text/plain"}},
		},
		{
			name:       "denied headers with append:true are dropped; repeated set entries kept",
			resp:       denied(codes.PermissionDenied, typev3.StatusCode_Forbidden, "", hvoAppend("x-dropped", "v", true), hvo("set-cookie", "a=1", overwriteOrAdd), hvo("set-cookie", "b=2", overwriteOrAdd)),
			method:     "GET",
			wantStatus: 403,
			wantHdr:    map[string][]string{"X-Dropped": nil, "Set-Cookie": {"a=1", "b=2"}},
		},
		{
			name:       "a denied_response on an OK status is ignored: forwarded",
			resp:       denied(codes.OK, typev3.StatusCode_NoContent, "nope", acao),
			method:     "GET",
			wantStatus: 200,
			wantBody:   "upstream",
			wantHdr:    map[string][]string{"Access-Control-Allow-Origin": nil},
			forwarded:  true,
		},
		{
			name:       "a response with no status is OK",
			resp:       &authv3.CheckResponse{},
			method:     "GET",
			wantStatus: 200,
			wantBody:   "upstream",
			forwarded:  true,
		},
	}
	var mu sync.Mutex
	var cur int
	authz := startFakeAuthz(t, func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		return tests[cur].resp, nil
	})
	up := startUpstream(t, nil)
	p := startProxy(t, Config{}, up, authz.addr)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			cur = i
			mu.Unlock()
			before := len(up.requests())
			resp, body := do(t, tt.method, p.URL+"/api/v1/items", http.Header{
				"Origin": {"http://a.test"}, "Access-Control-Request-Method": {"PUT"},
			})
			if resp.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			for k, want := range tt.wantHdr {
				if got := resp.Header.Values(k); strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if forwarded := len(up.requests()) > before; forwarded != tt.forwarded {
				t.Errorf("reached upstream = %v, want %v", forwarded, tt.forwarded)
			}
		})
	}
}

// TestCheckErrors pins failure_mode_allow and status_on_error for a dead
// service, a slow one (timeout), a Go error from the service, and an
// error_response.
func TestCheckErrors(t *testing.T) {
	slow := func(ctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		select {
		case <-ctx.Done():
			// The server sees the propagated deadline too; answering OK
			// here could beat the client's own timer on a loaded machine.
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-time.After(5 * time.Second):
			return okWith(), nil
		}
	}
	goErr := func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		return nil, errors.New("boom")
	}
	errResp := fixed(&authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.Unavailable)},
		HttpResponse: &authv3.CheckResponse_ErrorResponse{ErrorResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode_ServiceUnavailable},
		}},
	})
	type service struct {
		name   string
		answer func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) // nil: dead
	}
	services := []service{{"dead", nil}, {"timeout", slow}, {"go error", goErr}}
	type errCase struct {
		svc         service
		cfg         Config
		wantStatus  int
		wantForward bool
		wantOutcome Outcome
	}
	var tests []errCase
	for _, s := range services {
		tests = append(tests,
			errCase{s, Config{FailureModeAllow: false}, 403, false, OutcomeError},
			errCase{s, Config{FailureModeAllow: true, FailureModeAllowHeaderAdd: true}, 200, true, OutcomeFailureMode},
		)
	}
	tests = append(tests,
		errCase{services[0], Config{StatusOnError: 503}, 503, false, OutcomeError},
		errCase{services[0], Config{StatusOnError: 600}, 403, false, OutcomeError},
		errCase{service{"error_response", errResp}, Config{}, 503, false, OutcomeError},
	)
	for _, tt := range tests {
		name := tt.svc.name + "/failure_mode_allow=" + map[bool]string{true: "true", false: "false"}[tt.cfg.FailureModeAllow]
		if tt.cfg.StatusOnError != 0 {
			name += "/status_on_error"
		}
		t.Run(name, func(t *testing.T) {
			addr := deadAddr(t)
			if tt.svc.answer != nil {
				addr = startFakeAuthz(t, tt.svc.answer).addr
			}
			up := startUpstream(t, nil)
			var events []CheckEvent
			var mu sync.Mutex
			cfg := tt.cfg
			cfg.Timeout = 100 * time.Millisecond
			cfg.OnCheck = func(ev CheckEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() }
			p := startProxy(t, cfg, up, addr)
			resp, _ := do(t, "GET", p.URL+"/api/v1/a", nil)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			seen := up.requests()
			if (len(seen) == 1) != tt.wantForward {
				t.Fatalf("upstream saw %d requests, want forwarded=%v", len(seen), tt.wantForward)
			}
			if tt.wantForward && seen[0].Header.Get("x-envoy-auth-failure-mode-allowed") != "true" {
				t.Error("forwarded without x-envoy-auth-failure-mode-allowed: true")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(events) != 1 || events[0].Outcome != tt.wantOutcome {
				t.Fatalf("events = %+v, want one with outcome %v", events, tt.wantOutcome)
			}
		})
	}
}

// TestRequestMutationsAndRouting pins the OK path's request header
// mutations and the routing rules around the check.
func TestRequestMutationsAndRouting(t *testing.T) {
	authz := startFakeAuthz(t, fixed(&authv3.CheckResponse{
		Status: okStatus(),
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers: []*corev3.HeaderValueOption{
				hvoAppend("x-set", "authz", false),
				{Header: &corev3.HeaderValue{Key: "x-unset-append", Value: "authz"}},
				hvoAppend("x-append", "authz", true),
				hvoAppend("x-append-absent", "authz", true),
			},
			HeadersToRemove: []string{"x-remove", ":path", "host"},
		}},
	}))
	up := startUpstream(t, nil)
	p := startProxy(t, Config{}, up, authz.addr)

	t.Run("request header mutations", func(t *testing.T) {
		do(t, "GET", p.URL+"/api/v1/a", http.Header{
			"X-Set": {"client"}, "X-Unset-Append": {"client"}, "X-Append": {"client"}, "X-Remove": {"client"},
		})
		seen := up.requests()
		if len(seen) != 1 {
			t.Fatalf("upstream saw %d requests, want 1", len(seen))
		}
		h := seen[0].Header
		for k, want := range map[string]string{
			"X-Set": "authz", "X-Unset-Append": "authz", "X-Append": "client,authz", "X-Append-Absent": "", "X-Remove": "",
		} {
			if got := strings.Join(h.Values(k), "|"); got != want {
				t.Errorf("upstream %s = %q, want %q", k, got, want)
			}
		}
		if seen[0].URL.Path != "/api/v1/a" || seen[0].Host != strings.TrimPrefix(p.URL, "http://") {
			t.Errorf("upstream path/host = %q/%q: pseudo-headers and host must survive removal", seen[0].URL.Path, seen[0].Host)
		}
	})
	t.Run("upstream sees the normalised path", func(t *testing.T) {
		before := len(up.requests())
		do(t, "GET", p.URL+"/api//v1/./b/../c?q=%2F", nil)
		seen := up.requests()[before:]
		if len(seen) != 1 || seen[0].RequestURI != "/api/v1/c?q=%2F" {
			t.Fatalf("upstream saw %v, want one request for /api/v1/c?q=%%2F", seen)
		}
	})
	t.Run("disabled route: no check", func(t *testing.T) {
		before := len(authz.requests())
		resp, _ := do(t, "GET", p.URL+"/healthz", nil)
		if resp.StatusCode != 200 || len(authz.requests()) != before {
			t.Errorf("status %d, checks %d: want 200 and no check", resp.StatusCode, len(authz.requests())-before)
		}
	})
	t.Run("no route: 404 and no check", func(t *testing.T) {
		q := startProxy(t, Config{Routes: []Route{{Prefix: "/only/"}, {Path: "/exact"}}}, up, authz.addr)
		for _, path := range []string{"/elsewhere", "/exact/more", "/only"} {
			before := len(authz.requests())
			resp, _ := do(t, "GET", q.URL+path, nil)
			if resp.StatusCode != 404 || len(authz.requests()) != before {
				t.Errorf("%s: status %d, checks %d: want 404 and no check", path, resp.StatusCode, len(authz.requests())-before)
			}
		}
		for _, path := range []string{"/exact", "/exact?q=1", "/only/x"} {
			if resp, _ := do(t, "GET", q.URL+path, nil); resp.StatusCode != 200 {
				t.Errorf("%s: status %d, want 200 (route matched)", path, resp.StatusCode)
			}
		}
	})
	t.Run("escaped slash rejected with 400 before any check", func(t *testing.T) {
		q := startProxy(t, Config{Path: &PathOptions{NormalizePath: true, EscapedSlashes: RejectRequest}}, up, authz.addr)
		before := len(authz.requests())
		resp, _ := do(t, "GET", q.URL+"/api%2Fv1/a", nil)
		if resp.StatusCode != 400 || len(authz.requests()) != before {
			t.Errorf("status %d, checks %d: want 400 and no check", resp.StatusCode, len(authz.requests())-before)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no upstream", Config{AuthzTarget: "127.0.0.1:1"}},
		{"upstream not http", Config{Upstream: "ftp://x", AuthzTarget: "127.0.0.1:1"}},
		{"no target", Config{Upstream: "http://127.0.0.1:1"}},
		{"relative prefix", Config{Upstream: "http://127.0.0.1:1", AuthzTarget: "127.0.0.1:1", Routes: []Route{{Prefix: "api"}}}},
		{"prefix and path", Config{Upstream: "http://127.0.0.1:1", AuthzTarget: "127.0.0.1:1", Routes: []Route{{Prefix: "/a", Path: "/a"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := New(tt.cfg); err == nil {
				_ = p.Close()
				t.Fatal("New succeeded, want an error")
			}
		})
	}
}
