package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/cors-authz/cors-authz/bench/loadgen"
	"github.com/cors-authz/cors-authz/internal/servetest"
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

// prefix is the command that runs a program on cpu: taskset when pinning
// works, else none.
func (p pinning) prefix(cpu string) []string {
	if p.ok {
		return []string{"taskset", "-c", cpu}
	}
	return nil
}

// command returns bin with args, prefixed by taskset when pinning works.
func (p pinning) command(ctx context.Context, cpu, bin string, args ...string) *exec.Cmd {
	argv := append(append(p.prefix(cpu), bin), args...)
	return exec.CommandContext(ctx, argv[0], argv[1:]...)
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

// loadRun is one load generator run against one server.
type loadRun struct {
	Target      string // "cors-authz" or "noop"
	Fixture     string // the loadgen -fixture: "small" or "realistic"
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
func runLoad(ctx context.Context, pin pinning, bin string, srv *servetest.Proc, addr, fixtureName string, conc, conns int, dur, warmup time.Duration, verify bool, log io.Writer) (loadgen.Result, time.Duration, float64, error) {
	args := []string{
		"-addr", addr, "-json",
		"-concurrency", strconv.Itoa(conc), "-conns", strconv.Itoa(conns),
		"-duration", dur.String(), "-warmup", warmup.String(),
		"-verify=" + strconv.FormatBool(verify), "-fixture", fixtureName,
	}
	cmd := pin.command(ctx, pin.client, bin, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = log
	cpu0, t0 := srv.CPUTime(), time.Now()
	err := cmd.Run()
	cpu := srv.CPUTime() - cpu0
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
