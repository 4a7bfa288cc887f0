package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/internal/logtest"
)

// TestMain checks that no test leaves a goroutine behind: every serve
// started by a test must have stopped its servers and its watcher.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// logLines collects serve's log output (JSON lines) for tests to read the
// bound addresses and the events they wait for.
type logLines = logtest.Lines

// serveProc is one serve run inside the test process.
type serveProc struct {
	t         *testing.T
	grpcAddr  string // as a gRPC target
	adminURL  string // http://host:port, "" when disabled
	logs      *logLines
	hup       chan os.Signal
	cancel    context.CancelFunc
	done      chan int // receives the exit code
	exitCode  int
	exited    bool
	conns     []*grpc.ClientConn
	httpc     *http.Client
	closeOnce sync.Once
}

// startServe runs serve with args (plus loopback listen addresses unless
// args set them) and waits until it logs its listening addresses. The
// cleanup stops it and fails the test if it does not exit 0.
func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	joined := strings.Join(args, " ")
	if !strings.Contains(joined, "--grpc-addr") {
		args = append(args, "--grpc-addr", "127.0.0.1:0")
	}
	if !strings.Contains(joined, "--admin-addr") {
		args = append(args, "--admin-addr", "127.0.0.1:0")
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &serveProc{
		t:      t,
		logs:   &logLines{},
		hup:    make(chan os.Signal, 1),
		cancel: cancel,
		done:   make(chan int, 1),
		httpc:  &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second},
	}
	noEnv := func(string) (string, bool) { return "", false }
	go func() { p.done <- serve(ctx, args, noEnv, p.hup, p.logs) }()
	t.Cleanup(func() {
		if code := p.stop(); code != 0 {
			t.Errorf("serve exited %d, want 0; logs:\n%s", code, p.logs)
		}
	})
	for range 1000 { // bounded: 10 s
		if rec, ok := p.logs.Find("grpc listening"); ok {
			p.grpcAddr = rec["addr"].(string)
			if strings.HasPrefix(p.grpcAddr, "/") {
				p.grpcAddr = "unix://" + p.grpcAddr
			}
			if rec, ok := p.logs.Find("admin listening"); ok {
				p.adminURL = "http://" + rec["addr"].(string)
				return p
			}
			if slices.Contains(args, "--admin-addr=") {
				return p // admin disabled
			}
		}
		select {
		case code := <-p.done:
			p.exited, p.exitCode = true, code
			t.Fatalf("serve exited %d before listening; logs:\n%s", code, p.logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not log its addresses; logs:\n%s", p.logs)
	return nil
}

// stop cancels serve's context (as SIGTERM does) and returns its exit
// code; the test's clients stay open until serve has stopped, so open
// streams are in flight during shutdown.
func (p *serveProc) stop() int {
	p.closeOnce.Do(func() {
		p.cancel()
		if !p.exited {
			select {
			case p.exitCode = <-p.done:
			case <-time.After(30 * time.Second):
				p.t.Fatalf("serve did not stop; logs:\n%s", p.logs)
			}
			p.exited = true
		}
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p.exitCode
}

// conn dials the gRPC listener (plaintext unless opts say otherwise).
func (p *serveProc) conn(opts ...grpc.DialOption) *grpc.ClientConn {
	p.t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	c, err := grpc.NewClient(p.grpcAddr, opts...)
	if err != nil {
		p.t.Fatal(err)
	}
	p.conns = append(p.conns, c)
	return c
}

// get fetches an admin path.
func (p *serveProc) get(path string) (int, string) {
	p.t.Helper()
	resp, err := p.httpc.Get(p.adminURL + path)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// metric returns the value of the first exposition line starting with
// prefix (a metric name with its labels), or "" if none.
func (p *serveProc) metric(prefix string) string {
	p.t.Helper()
	_, body := p.get("/metrics")
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), prefix+" "); ok {
			return rest
		}
	}
	return ""
}

// waitFor waits (bounded: 10 s in 10 ms steps) for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// envoyRequest is the CheckRequest Envoy sends for the request
// (checktest.Request): host api.example.com over https, extra as
// name, value pairs of request headers.
func envoyRequest(method, path, origin string, extra ...string) *authv3.CheckRequest {
	var opts []checktest.Option
	for i := 0; i+1 < len(extra); i += 2 {
		opts = append(opts, checktest.WithHeader(extra[i], extra[i+1]))
	}
	return checktest.Request(method, path, origin, opts...)
}

// checkAnswer is the part of a CheckResponse the tests compare.
type checkAnswer struct {
	status  int32 // gRPC code in CheckResponse.status
	http    int32 // denied_response status, 0 when forwarded
	headers map[string]string
}

// callCheck calls Check and returns the checkAnswer, asserting on the way what
// every response must satisfy: header names and values are visible ASCII
// or space, and Access-Control-Allow-Origin is never "*".
func callCheck(t *testing.T, c *grpc.ClientConn, req *authv3.CheckRequest) checkAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(c).Check(ctx, req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	a := checkAnswer{status: resp.GetStatus().GetCode(), headers: map[string]string{}}
	hdrs := resp.GetOkResponse().GetResponseHeadersToAdd()
	if d := resp.GetDeniedResponse(); d != nil {
		a.http = int32(d.GetStatus().GetCode())
		hdrs = d.GetHeaders()
	}
	for _, h := range hdrs {
		k, v := h.GetHeader().GetKey(), h.GetHeader().GetValue()
		for _, s := range []string{k, v} {
			for i := 0; i < len(s); i++ {
				if s[i] < 0x20 || s[i] > 0x7e {
					t.Fatalf("response header %q: %q has byte %#x outside visible ASCII", k, v, s[i])
				}
			}
		}
		if strings.EqualFold(k, "access-control-allow-origin") && v == "*" {
			t.Fatal("response carries Access-Control-Allow-Origin: *")
		}
		a.headers[strings.ToLower(k)] = v
	}
	return a
}

// acaoFor is the Access-Control-Allow-Origin the service answers for origin
// on GET /api/x ("" when none).
func acaoFor(t *testing.T, c *grpc.ClientConn, origin string) string {
	t.Helper()
	return callCheck(t, c, envoyRequest("GET", "/api/x", origin)).headers["access-control-allow-origin"]
}

// servePolicy returns a policy whose public-api class allows origin.
func servePolicy(origin string) string {
	return `version: 1
self_origins: [https://app.example.com]
classes:
  - name: public-api
    match: {path_prefixes: [/api/]}
    allow_origins: [` + origin + `]
    allow_methods: [GET, PUT]
    allow_headers: [X-Custom]
    allow_credentials: true
    max_age: 600
  - name: internal
    match: {path_prefixes: [/]}
`
}

const (
	servePartnerA = "https://a.partner.example"
	servePartnerB = "https://b.partner.example"
	// refusedPolicy is refused with errors on lines 5 and 6.
	refusedPolicy = `version: 1
classes:
  - name: public-api
    match: {path_prefixes: [/api/]}
    allow_origins: ["*"]
    allow_methods: [TRACE]
`
)

func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// tempPolicy writes content to a fresh policy.yaml and returns its path.
func tempPolicy(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	replaceFile(t, path, content)
	return path
}
