//go:build !linux

package servetest

import "syscall"

// sysProcAttr: Pdeathsig is Linux only; elsewhere the cleanup alone stops
// the process.
func sysProcAttr() *syscall.SysProcAttr { return nil }
