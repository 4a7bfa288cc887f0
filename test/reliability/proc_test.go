//go:build linux

package reliability

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cors-authz/cors-authz/internal/logtest"
)

// startTimeout bounds how long a process may take to log its addresses
// (a race-built binary on a busy 2-core machine starts in well under this).
const startTimeout = 30 * time.Second

// proc is one `cors-authz serve` process.
type proc struct {
	t        testing.TB
	cmd      *exec.Cmd
	logs     *logBuf
	done     chan struct{} // closed once the process has exited
	exitCode int           // valid after done; -1 when killed by a signal
	signaled syscall.Signal

	grpcAddr  string // gRPC dial target
	adminAddr string // host:port of the admin server
	httpc     *http.Client

	mu    sync.Mutex
	conns []*grpc.ClientConn
}

// startProc starts serve with args (plus loopback addresses and JSON logs
// unless args set them) and waits until it logs both listening addresses.
// The test's cleanup kills it if it is still running and fails the test
// if its log shows a data race.
func startProc(t testing.TB, args ...string) *proc {
	t.Helper()
	p := launch(t, args...)
	if err := p.waitListening(startTimeout); err != nil {
		t.Fatalf("%v; logs:\n%s", err, p.logs)
	}
	return p
}

// launch starts serve without waiting for it to listen.
func launch(t testing.TB, args ...string) *proc {
	t.Helper()
	joined := strings.Join(args, " ")
	if !strings.Contains(joined, "--grpc-addr") {
		args = append(args, "--grpc-addr", "127.0.0.1:0")
	}
	if !strings.Contains(joined, "--admin-addr") {
		args = append(args, "--admin-addr", "127.0.0.1:0")
	}
	if !strings.Contains(joined, "--log-format") {
		args = append(args, "--log-format", "json")
	}
	cmd := exec.Command(binary(t), append([]string{"serve"}, args...)...)
	cmd.Env = serveEnv()
	logs := &logBuf{}
	cmd.Stdout = io.Discard // serve writes nothing there
	cmd.Stderr = logs
	// If the test binary dies, take the server with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	p := &proc{
		t:    t,
		cmd:  cmd,
		logs: logs,
		done: make(chan struct{}),
		httpc: &http.Client{
			Transport: &http.Transport{DisableKeepAlives: true},
			Timeout:   10 * time.Second,
		},
	}
	go func() {
		defer close(p.done)
		err := cmd.Wait()
		p.exitCode = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.signaled = ws.Signal()
		}
		_ = err // the exit code says it all
	}()
	t.Cleanup(func() {
		p.closeConns()
		if !p.exited() {
			_ = cmd.Process.Kill()
			<-p.done
		}
		p.httpc.CloseIdleConnections()
		if strings.Contains(p.logs.String(), "WARNING: DATA RACE") {
			t.Errorf("the server reported a data race:\n%s", p.logs)
		}
	})
	return p
}

// serveEnv is the test's environment without CORS_AUTHZ_* variables, which
// serve would read as flags.
func serveEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CORS_AUTHZ_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitListening waits for the "grpc listening" and "admin listening" logs.
func (p *proc) waitListening(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		g, gok := p.logs.Find("grpc listening")
		a, aok := p.logs.Find("admin listening")
		if gok && aok {
			p.grpcAddr, _ = g["addr"].(string)
			if strings.HasPrefix(p.grpcAddr, "/") {
				p.grpcAddr = "unix://" + p.grpcAddr
			}
			p.adminAddr, _ = a["addr"].(string)
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("serve exited %d before listening", p.exitCode)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return fmt.Errorf("serve did not log its addresses within %v", timeout)
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// signal sends sig to the process.
func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits at most timeout for the process to exit and returns its exit
// code; ok is false if it is still running.
func (p *proc) wait(timeout time.Duration) (code int, ok bool) {
	select {
	case <-p.done:
		return p.exitCode, true
	case <-time.After(timeout):
		return 0, false
	}
}

// stop sends SIGTERM and fails the test unless the process exits 0 within
// timeout.
func (p *proc) stop(timeout time.Duration) {
	p.t.Helper()
	if p.exited() {
		p.t.Fatalf("serve already exited %d; logs:\n%s", p.exitCode, p.logs)
	}
	p.signal(syscall.SIGTERM)
	code, ok := p.wait(timeout)
	if !ok {
		p.t.Fatalf("serve still running %v after SIGTERM; logs:\n%s", timeout, p.logs)
	}
	if code != 0 {
		p.t.Fatalf("serve exited %d after SIGTERM, want 0; logs:\n%s", code, p.logs)
	}
}

// dial returns a new gRPC connection (one HTTP/2 connection each), closed
// when the test ends.
func (p *proc) dial() *grpc.ClientConn {
	p.t.Helper()
	c, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
	return c
}

func (p *proc) closeConns() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// get fetches an admin path; err is a transport error (e.g. refused).
func (p *proc) get(path string) (code int, body string, err error) {
	resp, err := p.httpc.Get("http://" + p.adminAddr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// mustGet fetches an admin path and fails the test unless it answers 200.
func (p *proc) mustGet(path string) string {
	p.t.Helper()
	code, body, err := p.get(path)
	if err != nil || code != 200 {
		p.t.Fatalf("GET %s = %d %q, %v", path, code, body, err)
	}
	return body
}

// policyView is the part of GET /policy the tests read.
type policyView struct {
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

func (p *proc) policy() policyView {
	p.t.Helper()
	var v policyView
	if err := json.Unmarshal([]byte(p.mustGet("/policy")), &v); err != nil {
		p.t.Fatalf("/policy: %v", err)
	}
	return v
}

// metrics scrapes /metrics.
func (p *proc) metrics() metricSet {
	p.t.Helper()
	return metricSet(p.mustGet("/metrics"))
}

// metricSet is a Prometheus text exposition.
type metricSet string

// value returns the sample of series (a name, with its labels as exposed,
// e.g. `cors_authz_policy_reloads_total{result="failure"}`); a series that
// is not exposed reads 0.
func (m metricSet) value(series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(string(m)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(strings.Fields(rest)[0], 64); err == nil {
			return f
		}
	}
	return 0
}

// sum adds the samples of every series of the metric name.
func (m metricSet) sum(name string) float64 {
	var total float64
	sc := bufio.NewScanner(strings.NewReader(string(m)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		rest := line[len(name):]
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			total += v
		}
	}
	return total
}

// waitFor polls cond every few milliseconds until it holds, failing the
// test after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(3 * time.Millisecond)
	}
}

// logBuf collects a process's stderr: the raw text and the JSON records.
type logBuf = logtest.Lines
