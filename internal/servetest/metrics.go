package servetest

import (
	"bufio"
	"strconv"
	"strings"
)

// Metrics is a Prometheus text exposition, as GET /metrics serves it.
type Metrics string

// Value returns the sample of series (a name, with its labels as exposed,
// e.g. `cors_authz_policy_reloads_total{result="failure"}`); a series that
// is not exposed reads 0.
func (m Metrics) Value(series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(string(m)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), series+" ")
		if !ok {
			continue
		}
		if f := strings.Fields(rest); len(f) > 0 {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil {
				return v
			}
		}
	}
	return 0
}

// Sum adds the samples of every series of the metric name.
func (m Metrics) Sum(name string) float64 {
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
