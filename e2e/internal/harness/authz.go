// Package harness starts the pieces an end-to-end CORS test needs: the
// real cors-authz binary with a policy file, a fake application, and page
// servers for the browser's origins, and headless Chromium. It is shared
// by e2e/browser, e2e/adminpage and e2e/realenvoy and used only by tests.
package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cors-authz/cors-authz/internal/atomicfile"
)

// RepoRoot is the root of the cors-authz repository (the parent of e2e/).
func RepoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("harness: cannot locate source file")
	}
	// file is <root>/e2e/internal/harness/authz.go
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", "..")), nil
}

// BuildServer builds the cors-authz binary from the repository into dir
// and returns its path.
func BuildServer(ctx context.Context, dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "cors-authz")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/cors-authz")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("harness: go build ./cmd/cors-authz: %v\n%s", err, out)
	}
	return bin, nil
}

// Authz is a running `cors-authz serve` process.
type Authz struct {
	GRPCAddr  string // host:port of the ext_authz gRPC listener
	AdminAddr string // host:port of the admin HTTP listener
	PID       int

	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	logs []string // stderr lines, for failure messages
}

// StartAuthz runs `bin serve --config policy extra...` on loopback ports
// (extra are further serve flags, e.g. "--shadow-config", path), waits
// until it logs its addresses and /readyz answers 200, and returns it.
func StartAuthz(ctx context.Context, bin, policy string, extra ...string) (*Authz, error) {
	args := append([]string{"serve", "--config", policy,
		"--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-format", "json"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("harness: start %s: %w", bin, err)
	}
	a := &Authz{PID: cmd.Process.Pid, cmd: cmd, done: make(chan struct{})}
	addrs := make(chan [2]string, 1)
	go func() {
		defer close(a.done)
		var grpcAddr, adminAddr string
		sent := false
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			a.mu.Lock()
			a.logs = append(a.logs, line)
			a.mu.Unlock()
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			switch rec.Msg {
			case "grpc listening":
				grpcAddr = rec.Addr
			case "admin listening":
				adminAddr = rec.Addr
			}
			if grpcAddr != "" && adminAddr != "" && !sent {
				addrs <- [2]string{grpcAddr, adminAddr} // buffered: never blocks
				sent = true
			}
		}
		_ = cmd.Wait()
	}()

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case got := <-addrs:
		a.GRPCAddr, a.AdminAddr = got[0], got[1]
	case <-a.done:
		return nil, fmt.Errorf("harness: cors-authz exited before listening:\n%s", a.Logs())
	case <-ctx.Done():
		a.Stop()
		return nil, fmt.Errorf("harness: cors-authz did not log its addresses: %w\n%s", ctx.Err(), a.Logs())
	}
	if err := a.waitReady(ctx); err != nil {
		a.Stop()
		return nil, err
	}
	return a, nil
}

func (a *Authz) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+a.AdminAddr+"/readyz", nil)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("harness: cors-authz /readyz never answered 200: %w\n%s", ctx.Err(), a.Logs())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Running reports whether the process is still alive.
func (a *Authz) Running() bool {
	select {
	case <-a.done:
		return false
	default:
		return true
	}
}

// Logs returns the process's stderr so far.
func (a *Authz) Logs() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return strings.Join(a.logs, "\n")
}

// WaitLog waits up to d for a log line containing substr after the first
// skip lines, and reports whether one appeared.
func (a *Authz) WaitLog(substr string, skip int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		a.mu.Lock()
		for _, l := range a.logs[min(skip, len(a.logs)):] {
			if strings.Contains(l, substr) {
				a.mu.Unlock()
				return true
			}
		}
		a.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// LogLines is the number of stderr lines read so far.
func (a *Authz) LogLines() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.logs)
}

// Stop sends SIGTERM, waits up to 10 s, then kills.
func (a *Authz) Stop() {
	if !a.Running() {
		return
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

// WriteFileAtomic replaces path with data the way config management and
// Kubernetes do: write a temporary file beside it, then rename over it.
func WriteFileAtomic(path string, data []byte) error { return atomicfile.Write(path, data) }
