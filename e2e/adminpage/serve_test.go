package adminpage

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// chromiumPath finds the browser: $CHROMIUM, then the Debian package's
// binary, then other common names.
func chromiumPath() (string, bool) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, true
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// requireChromium skips the test when no browser is installed, except in
// CI (CI=true), where a missing browser is a failure.
func requireChromium(t *testing.T) string {
	t.Helper()
	if p, ok := chromiumPath(); ok {
		return p
	}
	msg := "chromium not found (install it with: apt-get update && apt-get install -y chromium; or set CHROMIUM=/path)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + ": the browser tests are required in CI")
	}
	t.Skip(msg)
	return ""
}

// server is a running `cors-authz serve` on loopback ports. (The shared
// harness starts serve with --config only; this test also needs
// --shadow-config.)
type server struct {
	grpcAddr, adminAddr string

	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	logs []string
}

// startServer runs `bin serve args...` on loopback ports and waits until
// /readyz answers 200.
func startServer(ctx context.Context, bin string, args ...string) (*server, error) {
	args = append([]string{"serve", "--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-format", "json"}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	addrs := make(chan [2]string, 1)
	go func() {
		defer close(s.done)
		var grpcAddr, adminAddr string
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.logs = append(s.logs, line)
			s.mu.Unlock()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			switch rec.Msg {
			case "grpc listening":
				grpcAddr = rec.Addr
			case "admin listening":
				adminAddr = rec.Addr
				addrs <- [2]string{grpcAddr, adminAddr} // logged last, once
			}
		}
		_ = cmd.Wait()
	}()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case a := <-addrs:
		s.grpcAddr, s.adminAddr = a[0], a[1]
	case <-s.done:
		return nil, fmt.Errorf("cors-authz exited before listening:\n%s", s.Logs())
	case <-ctx.Done():
		s.Stop()
		return nil, fmt.Errorf("cors-authz did not log its addresses:\n%s", s.Logs())
	}
	client := &http.Client{Timeout: time.Second}
	for {
		if resp, err := client.Get("http://" + s.adminAddr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		select {
		case <-ctx.Done():
			s.Stop()
			return nil, fmt.Errorf("cors-authz never got ready:\n%s", s.Logs())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Logs returns the process's stderr so far.
func (s *server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.logs, "\n")
}

// Stop sends SIGTERM, waits up to 10 s, then kills.
func (s *server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}
