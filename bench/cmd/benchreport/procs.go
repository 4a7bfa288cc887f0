package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cors-authz/cors-authz/bench/loadgen"
)

// pinning runs servers on one CPU and the load generator on another, when
// taskset works and there are two CPUs: the two then compete for nothing
// but the loopback device.
type pinning struct {
	ok             bool
	server, client string // CPU lists for taskset -c
}

func detectPinning() pinning {
	p := pinning{server: "0", client: "1"}
	if _, err := exec.LookPath("taskset"); err != nil {
		return p
	}
	for _, cpu := range []string{p.server, p.client} {
		if exec.Command("taskset", "-c", cpu, "true").Run() != nil {
			return p
		}
	}
	p.ok = true
	return p
}

func (p pinning) String() string {
	if !p.ok {
		return "not pinned (taskset unavailable or fewer than 2 CPUs)"
	}
	return fmt.Sprintf("servers pinned to CPU %s, load generator to CPU %s (taskset)", p.server, p.client)
}

// note is a shell comment saying where a command ran.
func (p pinning) note(cpu string) string {
	if !p.ok {
		return "   # not pinned"
	}
	return "   # run as: taskset -c " + cpu + " ..."
}

// command returns bin with args, prefixed by taskset when pinning works.
func (p pinning) command(ctx context.Context, cpu, bin string, args ...string) *exec.Cmd {
	if p.ok {
		return exec.CommandContext(ctx, "taskset", append([]string{"-c", cpu, bin}, args...)...)
	}
	return exec.CommandContext(ctx, bin, args...)
}

// proc is a server process the report started.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProc(name string, cmd *exec.Cmd, log io.Writer) (*proc, error) {
	cmd.Stdout = log
	cmd.Stderr = log
	fmt.Fprintf(log, "start %s: %s\n", name, strings.Join(cmd.Args, " "))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop sends SIGTERM and waits up to 10 s, then kills.
func (p *proc) stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// cpuTime is the process's user+system CPU time so far, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s).
func (p *proc) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may contain spaces: skip past its ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// rss is the process's resident set size in bytes, from /proc/PID/status.
func (p *proc) rss() uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitTCP waits until addr accepts connections or p exits (bounded by
// timeout).
func waitTCP(p *proc, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before listening: %v", p.name, p.err)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not listen on %s within %v", p.name, addr, timeout)
}

// loadRun is one load generator run against one server.
type loadRun struct {
	Target      string // "cors-authz" or "noop"
	Concurrency int
	Round       int
	Res         loadgen.Result
	ServerCPU   float64 // server CPU time / wall time of the run (1 = one core)
	// ServerCPUPerCall is the server's CPU time over the whole run divided
	// by every call the run made (ns). Unlike throughput it hardly depends
	// on CPU time taken by other processes.
	ServerCPUPerCall float64
}

// runLoad runs the load generator binary against srv and measures the
// server's CPU use meanwhile: its CPU time, and that over the wall time.
func runLoad(ctx context.Context, pin pinning, bin string, srv *proc, addr string, conc, conns int, dur, warmup time.Duration, verify bool, log io.Writer) (loadgen.Result, time.Duration, float64, error) {
	args := []string{
		"-addr", addr, "-json",
		"-concurrency", strconv.Itoa(conc), "-conns", strconv.Itoa(conns),
		"-duration", dur.String(), "-warmup", warmup.String(),
		"-verify=" + strconv.FormatBool(verify),
	}
	cmd := pin.command(ctx, pin.client, bin, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = log
	cpu0, t0 := srv.cpuTime(), time.Now()
	err := cmd.Run()
	cpu := srv.cpuTime() - cpu0
	wall := time.Since(t0)
	// The load generator exits 1 when any answer was wrong or failed, but
	// still prints its figures. A wrong answer from cors-authz is a bug and
	// stops the report; failed calls (deadlines missed while the machine
	// was overloaded) are counted and reported.
	var res loadgen.Result
	if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
		if err == nil {
			err = fmt.Errorf("output %q: %w", out.String(), jerr)
		}
		return res, 0, 0, fmt.Errorf("loadgen %s: %w", strings.Join(args, " "), err)
	}
	if n := res.Outcomes[loadgen.Mismatch]; n > 0 {
		return res, 0, 0, fmt.Errorf("loadgen %s: %d answers differ from the expected verdicts", strings.Join(args, " "), n)
	}
	return res, cpu, cpu.Seconds() / wall.Seconds(), nil
}
