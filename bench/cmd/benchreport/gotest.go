package main

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Sample is one benchmark result line: its metrics by unit ("ns/op",
// "B/op", "allocs/op", and custom ones such as "heap-MiB").
type Sample map[string]float64

// Samples holds every line of a run, by benchmark name (without the
// "Benchmark" prefix and the -GOMAXPROCS suffix), in run order.
type Samples map[string][]Sample

var procSuffix = regexp.MustCompile(`-\d+$`)

// parseBench reads `go test -bench` output and returns its result lines.
// Lines that are not results (headers, PASS, logs) are ignored.
func parseBench(r io.Reader) (Samples, error) {
	out := Samples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue // not an iteration count: a log line
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		s := Sample{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark %s: value %q: %w", name, f[i], err)
			}
			s[f[i+1]] = v
		}
		out[name] = append(out[name], s)
	}
	return out, sc.Err()
}

// Median returns the median of metric unit over name's samples, and
// whether there was any.
func (s Samples) Median(name, unit string) (float64, bool) {
	var vs []float64
	for _, x := range s[name] {
		if v, ok := x[unit]; ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], true
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, true
}

// Ratio returns a's metric over b's. When both ran once per pass, it is
// the median of the per-pass ratios: the two ran seconds apart, so a burst
// of background load that slows one pass slows both, and cancels out.
// Otherwise it is the ratio of the medians.
func (s Samples) Ratio(a, b, unit string) (float64, bool) {
	as, bs := s[a], s[b]
	if len(as) > 0 && len(as) == len(bs) {
		var rs []float64
		for i := range as {
			x, okA := as[i][unit]
			y, okB := bs[i][unit]
			if okA && okB && y != 0 {
				rs = append(rs, x/y)
			}
		}
		if len(rs) == len(as) {
			return median(rs)
		}
	}
	x, okA := s.Median(a, unit)
	y, okB := s.Median(b, unit)
	if !okA || !okB || y == 0 {
		return 0, false
	}
	return x / y, true
}

// Merge adds o's samples to s.
func (s Samples) Merge(o Samples) {
	for k, v := range o {
		s[k] = append(s[k], v...)
	}
}

// goTestBench runs `go test -run ^$ -bench pattern -benchmem` with extra
// flags on pkgs in dir, echoing its output to log, and returns the parsed
// results and the command line (for the report).
func goTestBench(dir, pattern string, extra []string, pkgs []string, log io.Writer) (Samples, string, error) {
	args := append([]string{"test", "-run", "^$", "-bench", pattern, "-benchmem"}, extra...)
	args = append(args, pkgs...)
	cmdline := "go " + shellJoin(args)
	fmt.Fprintf(log, "$ (cd bench && %s)\n", cmdline)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var buf strings.Builder
	cmd.Stdout = io.MultiWriter(&buf, log)
	cmd.Stderr = log
	if err := cmd.Run(); err != nil {
		return nil, cmdline, fmt.Errorf("%s: %w", cmdline, err)
	}
	s, err := parseBench(strings.NewReader(buf.String()))
	return s, cmdline, err
}

// shellJoin quotes args for display in a POSIX shell.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '.' || r == '/' || r == '=' || r == ':' || r == ',' ||
				r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) < 0 {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
