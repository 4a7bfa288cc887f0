package main

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// environment describes the machine and code a run measured.
type environment struct {
	Date      string
	GoVersion string
	CPU       string
	NProc     int
	Kernel    string
	Commit    string
	LoadStart string // /proc/loadavg when the run began
	LoadEnd   string
}

func readEnv() environment {
	e := environment{
		Date:      time.Now().UTC().Format("2006-01-02 15:04 MST"),
		GoVersion: cmdOutput("go", "version"),
		CPU:       cpuModel(),
		NProc:     runtime.NumCPU(),
		Kernel:    strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
		Commit:    cmdOutput("git", "rev-parse", "--short", "HEAD"),
		LoadStart: loadavg(),
	}
	if cmdOutput("git", "status", "--porcelain", "--untracked-files=no") != "" {
		e.Commit += " (with uncommitted changes)"
	}
	return e
}

func cmdOutput(name string, args ...string) string {
	b, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

func cpuModel() string {
	for line := range strings.SplitSeq(readFile("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// loadavg is the 1-, 5- and 15-minute load averages.
func loadavg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
