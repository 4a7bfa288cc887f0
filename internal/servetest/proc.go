package servetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cors-authz/cors-authz/internal/logtest"
)

// killWait bounds the wait for a process to be reaped after SIGKILL, and
// for its output pipes to close after it exited.
const killWait = 10 * time.Second

// Proc is a started process: its stderr collected, its exit observed.
type Proc struct {
	// Log is the process's stderr: the raw text and its JSON records.
	Log *logtest.Lines

	cmd      *exec.Cmd
	done     chan struct{} // closed once the process has exited
	exitCode int           // valid after done; -1 when killed by a signal
	signaled syscall.Signal
}

// StartProc starts cmd with its stderr collected in Log; log, if not nil,
// also gets its stdout and stderr. If the caller dies, so does the process
// (on Linux). cmd must not have been started, nor its Stdout or Stderr set.
func StartProc(cmd *exec.Cmd, log io.Writer) (*Proc, error) {
	p := &Proc{Log: &logtest.Lines{}, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = io.Discard
	cmd.Stderr = p.Log
	if log != nil {
		cmd.Stdout = log
		cmd.Stderr = io.MultiWriter(p.Log, log)
	}
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = killWait // a child holding the pipes open cannot hang Wait
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("servetest: start %s: %w", cmd.Path, err)
	}
	go func() {
		defer close(p.done)
		_ = cmd.Wait() // the exit code and signal say it all
		p.exitCode = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.signaled = ws.Signal()
		}
	}()
	return p, nil
}

// PID is the process ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Args is the command line the process was started with.
func (p *Proc) Args() []string { return p.cmd.Args }

// Process is the running process.
func (p *Proc) Process() *os.Process { return p.cmd.Process }

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitCode is the exit code of the exited process, -1 if a signal ended
// it or it is still running.
func (p *Proc) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	return p.exitCode
}

// Signaled is the signal that ended the process, or 0.
func (p *Proc) Signaled() syscall.Signal {
	if !p.Exited() {
		return 0
	}
	return p.signaled
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits at most timeout for the process to exit and returns its exit
// code; ok is false if it is still running.
func (p *Proc) Wait(timeout time.Duration) (code int, ok bool) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.exitCode, true
	case <-t.C:
		return 0, false
	}
}

// Stop sends SIGTERM and waits at most timeout for the process to exit,
// returning its exit code. It is an error if the process had exited
// already, or if it is still running after timeout: Stop then kills it.
func (p *Proc) Stop(timeout time.Duration) (int, error) {
	if p.Exited() {
		return p.exitCode, fmt.Errorf("already exited %d", p.exitCode)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return 0, err
	}
	if code, ok := p.Wait(timeout); ok {
		return code, nil
	}
	if err := p.Kill(); err != nil {
		return -1, fmt.Errorf("still running %v after SIGTERM; %w", timeout, err)
	}
	return -1, fmt.Errorf("still running %v after SIGTERM; killed", timeout)
}

// Kill sends SIGKILL unless the process has exited, and waits (bounded)
// for it to be reaped.
func (p *Proc) Kill() error {
	if p.Exited() {
		return nil
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	if _, ok := p.Wait(killWait); !ok {
		return fmt.Errorf("still running %v after SIGKILL", killWait)
	}
	return nil
}

// WaitTCP waits at most timeout until addr accepts TCP connections, for a
// process that does not log its address; it fails early if p exits.
func (p *Proc) WaitTCP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return fmt.Errorf("%s exited %d before listening on %s", p.cmd.Path, p.exitCode, addr)
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not listen on %s within %v", p.cmd.Path, addr, timeout)
}

// CPUTime is the process's user+system CPU time so far, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s); 0 once it
// has exited or where /proc does not exist.
func (p *Proc) CPUTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID()))
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

// RSS is the process's resident set size in bytes, from the VmRSS line of
// /proc/PID/status.
func (p *Proc) RSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(string(b))
}

func parseVmRSS(status string) (int64, error) {
	for line := range strings.Lines(status) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc/PID/status")
}
