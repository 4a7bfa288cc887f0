package servetest

import "syscall"

// sysProcAttr takes the process down with its parent: a test binary that
// dies (timeout, crash) leaves no server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
