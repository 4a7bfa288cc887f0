package envoymodel

//lint:file-ignore SA1019 Envoy still honours the deprecated HeaderValueOption.append flag, so this file must read (or set) it.

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"go.uber.org/goleak"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeAuthz is an in-process ext_authz server that answers with a
// scripted function and records every CheckRequest.
type fakeAuthz struct {
	authv3.UnimplementedAuthorizationServer
	addr   string
	answer func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error)

	mu   sync.Mutex
	reqs []*authv3.CheckRequest
}

func (f *fakeAuthz) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	return f.answer(ctx, req)
}

func (f *fakeAuthz) requests() []*authv3.CheckRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*authv3.CheckRequest(nil), f.reqs...)
}

func startFakeAuthz(t *testing.T, answer func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error)) *fakeAuthz {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAuthz{addr: ln.Addr().String(), answer: answer}
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, f)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return f
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// upstream is a fake application that records what reached it.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []*http.Request
	// respond writes the response; nil means 200 "upstream".
	respond func(w http.ResponseWriter, r *http.Request)
}

func startUpstream(t *testing.T, respond func(w http.ResponseWriter, r *http.Request)) *upstream {
	t.Helper()
	u := &upstream{respond: respond}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, r.Clone(context.Background()))
		u.mu.Unlock()
		if u.respond != nil {
			u.respond(w, r)
			return
		}
		_, _ = io.WriteString(w, "upstream")
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.seen...)
}

// startProxy starts a proxy with cfg, filling in the upstream and target.
func startProxy(t *testing.T, cfg Config, up *upstream, authzAddr string) *Server {
	t.Helper()
	cfg.Upstream = up.URL
	cfg.AuthzTarget = authzAddr
	if cfg.Routes == nil {
		cfg.Routes = testRoutes
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close proxy: %v", err)
		}
	})
	return s
}

var testRoutes = []Route{
	{
		Prefix:            "/api/v1/",
		ContextExtensions: map[string]string{"cors_class": "public-api"},
		ResponseHeadersToRemove: []string{
			"access-control-allow-origin", "access-control-allow-credentials",
		},
	},
	{Prefix: "/healthz", DisableExtAuthz: true},
	{
		Prefix:                  "/",
		ContextExtensions:       map[string]string{"cors_class": "internal"},
		ResponseHeadersToRemove: []string{"access-control-allow-origin"},
	},
}

// do sends one request through the proxy with a fresh client (no
// connection reuse, so each case is independent).
func do(t *testing.T, method, url string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// Helpers building CheckResponses.

func okStatus() *rpcstatus.Status { return &rpcstatus.Status{Code: int32(codes.OK)} }

func hvo(k, v string, a corev3.HeaderValueOption_HeaderAppendAction) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}, AppendAction: a}
}

func hvoAppend(k, v string, appendFlag bool) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}, Append: wrapperspb.Bool(appendFlag)}
}

const (
	appendOrAdd       = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
	overwriteOrAdd    = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
	addIfAbsent       = corev3.HeaderValueOption_ADD_IF_ABSENT
	overwriteIfExists = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS
)

func okWith(respAdd ...*corev3.HeaderValueOption) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: okStatus(),
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			ResponseHeadersToAdd: respAdd,
		}},
	}
}

func denied(code codes.Code, status typev3.StatusCode, body string, hdrs ...*corev3.HeaderValueOption) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: status},
			Headers: hdrs,
			Body:    body,
		}},
	}
}

func fixed(resp *authv3.CheckResponse) func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) { return resp, nil }
}
