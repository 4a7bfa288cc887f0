package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cors-authz/cors-authz/bench/loadgen"
)

func TestParseBench(t *testing.T) {
	out := `goos: linux
pkg: github.com/cors-authz/cors-authz/bench/scale
BenchmarkScale/exact=10/Compile-2 	      40	   3100246 ns/op	         0.04062 file-MiB	         0.1755 heap-MiB	 1356122 B/op	   14244 allocs/op
BenchmarkDecision/allowed_actual/rs-cors-2 	  783314	       282.3 ns/op	      16 B/op	       1 allocs/op
BenchmarkDecision/allowed_actual/rs-cors-2 	  783314	       300.0 ns/op	      16 B/op	       1 allocs/op
BenchmarkDecision/allowed_actual/rs-cors-2 	  783314	       900.0 ns/op	      16 B/op	       1 allocs/op
BenchmarkFlood 	  200000	      4588 ns/op	     10000 entries	        99.90 hot-hit-%	     646 B/op	       5 allocs/op
    flood_test.go:109: BenchmarkFake 12 some log line
BenchmarkBroken-2  notanumber  12 ns/op
PASS
ok  	github.com/cors-authz/cors-authz/bench/scale	3.883s
`
	s, err := parseBench(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, unit string
		want       float64
		ok         bool
	}{
		{"Scale/exact=10/Compile", "heap-MiB", 0.1755, true},
		{"Scale/exact=10/Compile", "ns/op", 3100246, true},
		{"Scale/exact=10/Compile", "allocs/op", 14244, true},
		{"Decision/allowed_actual/rs-cors", "ns/op", 300, true}, // median of 3
		{"Decision/allowed_actual/rs-cors", "B/op", 16, true},
		{"Flood", "hot-hit-%", 99.9, true}, // no -GOMAXPROCS suffix
		{"Flood", "entries", 10000, true},
		{"Broken", "ns/op", 0, false},
		{"Decision/allowed_actual/rs-cors", "heap-MiB", 0, false},
	}
	for _, tt := range tests {
		got, ok := s.Median(tt.name, tt.unit)
		if ok != tt.ok || got != tt.want {
			t.Errorf("Median(%q, %q) = %v, %t; want %v, %t", tt.name, tt.unit, got, ok, tt.want, tt.ok)
		}
	}
	if len(s) != 3 {
		t.Errorf("parsed %d benchmarks, want 3: %v", len(s), s)
	}
}

func TestShellJoin(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"test", "-bench", "^BenchmarkX$", "./a"}, "test -bench '^BenchmarkX$' ./a"},
		{[]string{"-count=5", "-benchtime=300ms"}, "-count=5 -benchtime=300ms"},
		{[]string{"it's"}, `'it'\''s'`},
		{[]string{""}, "''"},
	}
	for _, tt := range tests {
		if got := shellJoin(tt.args); got != tt.want {
			t.Errorf("shellJoin(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct{ got, want string }{
		{fmtNs(0), "n/a"},
		{fmtNs(999), "999 ns"},
		{fmtNs(1500), "1.5 µs"},
		{fmtNs(2.5e6), "2.5 ms"},
		{fmtNs(1.25e9), "1.25 s"},
		{fmtX(1.234), "1.23x"},
		{fmtX(0), "n/a"},
		{thousands(100000), "100,000"},
		{thousands(10), "10"},
		{thousands(1000), "1,000"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// fakeReport has every figure the summary needs: cors-authz at 96% of the
// no-op's throughput with a p99 1.2x the no-op's, and passing micro figures.
func fakeReport() *report {
	r := &report{set: quick, conns: 2, micro: Samples{
		"Decision/allowed_actual/cors-authz-decide": {{"ns/op": 90, "allocs/op": 0}},
		"Decision/allowed_actual/rs-cors":           {{"ns/op": 100, "allocs/op": 1}},
		"Check/hit":                                 {{"ns/op": 2000, "allocs/op": 0}},
		"Scale/exact=10/Decide/allowed_actual":      {{"ns/op": 100}},
		"Scale/exact=100000/Decide/allowed_actual":  {{"ns/op": 120}},
		"Scale/exact=10/Decide/wildcard_actual":     {{"ns/op": 100}},
		"Scale/exact=100000/Decide/wildcard_actual": {{"ns/op": 160}},
		"Scale/exact=100000/Compile":                {{"ns/op": 5e8, "heap-MiB": 14, "file-MiB": 4.9}},
		"Flood":                                     {{"ns/op": 3000, "hot-hit-%": 99.9, "hit-%": 50, "entries": 10000, "heap-MiB": 12}},
		"Decode/map/actual/selective":               {{"ns/op": 900, "allocs/op": 0}},
		"Decode/map/actual/standard":                {{"ns/op": 9000, "allocs/op": 250}},
		"Decode/header_map/actual/selective":        {{"ns/op": 1200, "allocs/op": 0}},
		"Decode/header_map/actual/standard":         {{"ns/op": 10000, "allocs/op": 200}},
	}, reloads: []time.Duration{700 * time.Millisecond, 1200 * time.Millisecond, 800 * time.Millisecond}}
	for _, c := range concurrencies {
		for round := 1; round <= 2; round++ {
			r.loads = append(r.loads,
				loadRun{Target: "cors-authz", Fixture: "small", Concurrency: c, Round: round, ServerCPUPerCall: 84e3, Res: loadgen.Result{RPS: 9600, P50: 100 * time.Microsecond, P99: 1200 * time.Microsecond}},
				loadRun{Target: "noop", Fixture: "small", Concurrency: c, Round: round, ServerCPUPerCall: 80e3, Res: loadgen.Result{RPS: 10000, P50: 100 * time.Microsecond, P99: 1000 * time.Microsecond}},
				// Realistic requests: cors-authz at 0.7x the no-op's CPU per
				// call, 1.2x its throughput, 0.9x its p99.
				loadRun{Target: "cors-authz", Fixture: "realistic", Concurrency: c, Round: round, ServerCPUPerCall: 70e3, Res: loadgen.Result{RPS: 8400, P50: 110 * time.Microsecond, P99: 900 * time.Microsecond}},
				loadRun{Target: "noop", Fixture: "realistic", Concurrency: c, Round: round, ServerCPUPerCall: 100e3, Res: loadgen.Result{RPS: 7000, P50: 130 * time.Microsecond, P99: 1000 * time.Microsecond}})
		}
	}
	return r
}

func TestRows(t *testing.T) {
	rows := fakeReport().rows()
	byWhat := func(prefix string) row {
		for _, x := range rows {
			if strings.HasPrefix(x.what, prefix) {
				return x
			}
		}
		t.Fatalf("no row %q", prefix)
		return row{}
	}
	tests := []struct {
		prefix, ratio, met string
	}{
		{"Allowed actual request: decision vs rs/cors", "0.90x", "yes"},
		{"In-process Check, cache hit: allocations", "", "yes"},
		{"In-process Check, cache hit: share", "2.0%", "yes"}, // 2 µs of a 100 µs round trip
		{"Decision at 100,000", "1.60x", "**no**"},            // the wildcard case is the worst
		{"Heap held", "22% of goal", "yes"},
		{"Reload of the 100,000-origin file: parse", "50% of goal", "yes"},
		{"Reload of the 100,000-origin file through", "80% of goal", "yes"}, // median of 3
		{"Service throughput at concurrency 16", "96.0%", "yes"},
		{"Service p99 latency at concurrency 64", "1.20x", "**no**"},
		{"Server CPU time per call", "1.05x / 1.05x / 1.05x", "yes"},
		{"Verdict cache", "", "—"},
		{"Realistic requests: server CPU time per call", "0.70x / 0.70x", "yes"},
		{"Realistic requests: throughput", "1.20x / 1.20x", "yes"},
		{"Realistic requests: p99", "0.90x / 0.90x", "yes"},
		{"Selective decoding of a realistic request", "0.12x", "**no**"}, // worst: header_map, 1.2 µs > 1 µs
	}
	for _, tt := range tests {
		x := byWhat(tt.prefix)
		if x.ratio != tt.ratio || x.met != tt.met {
			t.Errorf("%s: ratio %q met %q, want %q %q", tt.prefix, x.ratio, x.met, tt.ratio, tt.met)
		}
	}
	// Without figures, rows say n/a rather than inventing a verdict.
	for _, x := range (&report{micro: Samples{}}).rows() {
		if x.met == "yes" || x.met == "**no**" {
			t.Errorf("empty report: %q met = %q, want n/a", x.what, x.met)
		}
	}
}

func TestWriteReportKeepsNotes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "benchmarks.md")
	old := "# old figures\n\n" + notesMarker + "\n\n## Findings\n\nprofile evidence\n"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	r := fakeReport()
	r.chartFile = "benchmarks.svg"
	if err := writeReport(path, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{"## Summary", "| Service throughput at concurrency 64", "| realistic | 16 | *ratio* | 1.20x |", "](benchmarks.svg)", notesMarker + "\n\n## Findings\n\nprofile evidence\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(got, "# old figures") || strings.Contains(got, "%!") {
		t.Error("report kept old figures or has a formatting error")
	}
	if strings.Count(got, notesMarker) != 1 {
		t.Error("notes marker not exactly once")
	}
}

func TestWriteChart(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"c.svg", "c.png"} {
		path := filepath.Join(dir, name)
		if err := writeChart(path, fakeReport()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() < 1000 {
			t.Errorf("%s: only %d bytes", name, fi.Size())
		}
	}
	if err := writeChart(filepath.Join(dir, "c.gif"), fakeReport()); err == nil {
		t.Error("writeChart accepted a .gif")
	}
}

func TestRatio(t *testing.T) {
	s := Samples{
		"a":   {{"ns/op": 100}, {"ns/op": 1000}, {"ns/op": 300}},
		"b":   {{"ns/op": 50}, {"ns/op": 1000}, {"ns/op": 600}},
		"one": {{"ns/op": 150}},
	}
	tests := []struct {
		a, b string
		want float64
		ok   bool
	}{
		{"a", "b", 1, true},   // per-pass ratios 2, 1, 0.5: median 1 (medians alone would say 0.5)
		{"a", "one", 2, true}, // unequal pass counts: ratio of medians
		{"a", "missing", 0, false},
	}
	for _, tt := range tests {
		got, ok := s.Ratio(tt.a, tt.b, "ns/op")
		if got != tt.want || ok != tt.ok {
			t.Errorf("Ratio(%s, %s) = %v, %t; want %v, %t", tt.a, tt.b, got, ok, tt.want, tt.ok)
		}
	}
}
