package servetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// StartTimeout bounds how long serve may take to log its addresses (and
// answer /readyz when asked to): a race-built binary on a busy 2-core
// machine starts in well under it.
const StartTimeout = 30 * time.Second

// envPrefix is where serve reads flags from the environment
// (docs/serve.md): the caller's own such variables are never passed on.
const envPrefix = "CORS_AUTHZ_"

// Options say how to start `cors-authz serve`.
type Options struct {
	// Bin is the binary; empty means Binary() (built once per process).
	Bin string
	// Args are serve's flags. Unless they (or Env) set them, Start adds
	// --grpc-addr 127.0.0.1:0 --admin-addr 127.0.0.1:0 --log-format json:
	// loopback ports the kernel picks, and the JSON log the addresses are
	// read from (waiting needs it).
	Args []string
	// Env holds KEY=VALUE pairs added to the process's environment, which
	// is the caller's without any CORS_AUTHZ_* variable.
	Env []string
	// Prefix runs the binary through a command, e.g. taskset -c 0.
	Prefix []string
	// Log, if not nil, also gets the process's output.
	Log io.Writer
	// NoWait: Start returns once the process runs, without waiting for
	// it to listen (WaitListening does that).
	NoWait bool
	// Ready: Start also waits until GET /readyz answers 200.
	Ready bool
}

// Server is a running `cors-authz serve`.
type Server struct {
	*Proc
	GRPCAddr  string // gRPC dial target: host:port, or unix:///path for a Unix socket
	AdminAddr string // host:port of the admin server

	httpc *http.Client
	mu    sync.Mutex
	conns []*grpc.ClientConn
}

// Start starts serve as o says and, unless o.NoWait, waits (bounded by
// ctx and StartTimeout) until it logs both listening addresses, and with
// o.Ready until /readyz answers 200. The caller stops it (Stop or Kill)
// and then calls Close; a test uses Run instead, which does both.
func Start(ctx context.Context, o Options) (*Server, error) {
	bin := o.Bin
	if bin == "" {
		var err error
		if bin, err = Binary(); err != nil {
			return nil, err
		}
	}
	argv := append(append(append([]string(nil), o.Prefix...), bin, "serve"), withDefaults(o.Args, o.Env)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(environ(os.Environ()), o.Env...)
	p, err := StartProc(cmd, o.Log)
	if err != nil {
		return nil, err
	}
	s := &Server{Proc: p, httpc: &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   10 * time.Second,
	}}
	if o.NoWait {
		return s, nil
	}
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	if err := s.wait(ctx, o); err != nil {
		_ = s.Kill()
		s.Close()
		return nil, err
	}
	return s, nil
}

// withDefaults adds the loopback addresses and the JSON log format to
// args, unless args or env set them.
func withDefaults(args, env []string) []string {
	out := append([]string(nil), args...)
	for _, d := range []struct{ flag, env, value string }{
		{"grpc-addr", "GRPC_ADDR", "127.0.0.1:0"},
		{"admin-addr", "ADMIN_ADDR", "127.0.0.1:0"},
		{"log-format", "LOG_FORMAT", "json"},
	} {
		if !hasFlag(args, d.flag) && !hasEnv(env, envPrefix+d.env) {
			out = append(out, "--"+d.flag, d.value)
		}
	}
	return out
}

// hasFlag reports whether args set the flag name, in any form the flag
// package accepts (-name, --name, with or without =value).
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// environ is env without CORS_AUTHZ_* variables, which serve would read
// as flags.
func environ(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, envPrefix) {
			out = append(out, kv)
		}
	}
	return out
}

// WaitListening waits until serve logs "grpc listening" and "admin
// listening", and records the addresses. It fails early if serve exits.
func (s *Server) WaitListening(ctx context.Context) error {
	for {
		g, gok := s.Log.Find("grpc listening")
		a, aok := s.Log.Find("admin listening")
		if gok && aok {
			s.GRPCAddr, _ = g["addr"].(string)
			if strings.HasPrefix(s.GRPCAddr, "/") {
				s.GRPCAddr = "unix://" + s.GRPCAddr
			}
			s.AdminAddr, _ = a["addr"].(string)
			return nil
		}
		select {
		case <-s.Done():
			return fmt.Errorf("servetest: serve exited %d before listening; log:\n%s", s.ExitCode(), s.Log)
		case <-ctx.Done():
			return fmt.Errorf("servetest: serve did not log its addresses: %w; log:\n%s", ctx.Err(), s.Log)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// WaitReady waits until GET /readyz answers 200.
func (s *Server) WaitReady(ctx context.Context) error {
	for {
		if code, _, err := s.Get("/readyz"); err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-s.Done():
			return fmt.Errorf("servetest: serve exited %d before /readyz answered 200; log:\n%s", s.ExitCode(), s.Log)
		case <-ctx.Done():
			return fmt.Errorf("servetest: /readyz never answered 200: %w; log:\n%s", ctx.Err(), s.Log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitLog waits at most timeout until the log holds at least n records
// with message msg, and reports whether it does.
func (s *Server) WaitLog(msg string, n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for s.Log.Count(msg) < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// Get fetches an admin path; err is a transport error (e.g. refused). It
// works after the process exited, against whatever listens there since.
func (s *Server) Get(path string) (code int, body string, err error) {
	resp, err := s.httpc.Get("http://" + s.AdminAddr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// get200 fetches an admin path that must answer 200.
func (s *Server) get200(path string) (string, error) {
	code, body, err := s.Get(path)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("GET %s = %d %q", path, code, body)
	}
	return body, err
}

// PolicyView is the part of GET /policy (docs/serve.md, Admin HTTP endpoints) tests read.
type PolicyView struct {
	Generation      uint64 `json:"generation"`
	SHA256          string `json:"sha256"`
	LastReloadError *struct {
		Message string `json:"message"`
		Issues  []struct {
			Line    int    `json:"line"`
			Message string `json:"message"`
		} `json:"issues"`
	} `json:"last_reload_error"`
}

// Policy reads GET /policy.
func (s *Server) Policy() (PolicyView, error) {
	var v PolicyView
	body, err := s.get200("/policy")
	if err == nil {
		err = json.Unmarshal([]byte(body), &v)
	}
	return v, err
}

// Metrics scrapes GET /metrics.
func (s *Server) Metrics() (Metrics, error) {
	body, err := s.get200("/metrics")
	return Metrics(body), err
}

// Dial returns a new gRPC client connection to the server (one HTTP/2
// connection each), closed by Close.
func (s *Server) Dial() (*grpc.ClientConn, error) {
	c, err := grpc.NewClient(s.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	return c, nil
}

// Close closes the connections Dial made and the admin HTTP client's; it
// does not stop the process.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.httpc.CloseIdleConnections()
}
