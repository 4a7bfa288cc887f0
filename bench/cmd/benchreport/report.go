package main

import (
	"fmt"
	"google.golang.org/protobuf/proto"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cors-authz/cors-authz/bench/fixture"
	"github.com/cors-authz/cors-authz/bench/loadgen"
	"github.com/cors-authz/cors-authz/bench/scale"
)

// report holds every figure of a run.
type report struct {
	quick     bool
	set       settings
	conns     int
	env       environment
	pin       pinning
	commands  []string
	micro     Samples
	loads     []loadRun
	reloads   []time.Duration
	rssBefore uint64 // serve's RSS before and after the reloads
	rssAfter  uint64
	elapsed   time.Duration
	chartFile string
}

// Implementations in the decision table, in column order.
var impls = []struct{ key, title string }{
	{"rs-cors", "rs/cors"},
	{"jub0bs-cors", "jub0bs/cors"},
	{"cors-authz-decide", "cors-authz Decide"},
	{"cors-authz-check-hit", "cors-authz Check, cache hit"},
	{"cors-authz-check-miss", "cors-authz Check, cache miss"},
}

// decodeCases are BenchmarkDecode's request shapes.
var decodeCases = []string{"map/actual", "map/preflight", "header_map/actual", "header_map/preflight"}

// scaleCases are BenchmarkScale's Decide cases, in row order.
var scaleCases = []string{"allowed_actual", "wildcard_actual", "disallowed_actual", "allowed_preflight", "rejected_preflight"}

func (r *report) med(name, unit string) (float64, bool) { return r.micro.Median(name, unit) }

// loadStat is the median of one figure over a target's rounds at one
// concurrency with one fixture.
func (r *report) loadStat(fx, target string, c int, f func(loadRun) float64) (float64, bool) {
	var vs []float64
	for _, l := range r.loads {
		if l.Fixture == fx && l.Target == target && l.Concurrency == c {
			vs = append(vs, f(l))
		}
	}
	return median(vs)
}

// loadRatio is the median over rounds of cors-authz's figure divided by
// the no-op's from the same round (adjacent in time), with one fixture.
func (r *report) loadRatio(fx string, c int, f func(loadRun) float64) (float64, bool) {
	byRound := map[int][2]float64{}
	for _, l := range r.loads {
		if l.Concurrency != c || l.Fixture != fx {
			continue
		}
		v := byRound[l.Round]
		if l.Target == "cors-authz" {
			v[0] = f(l)
		} else {
			v[1] = f(l)
		}
		byRound[l.Round] = v
	}
	var rs []float64
	for _, v := range byRound {
		if v[0] > 0 && v[1] > 0 {
			rs = append(rs, v[0]/v[1])
		}
	}
	return median(rs)
}

func median(vs []float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	vs = slices.Clone(vs)
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], true
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, true
}

var (
	rps  = func(l loadRun) float64 { return l.Res.RPS }
	p50  = func(l loadRun) float64 { return float64(l.Res.P50) }
	p90  = func(l loadRun) float64 { return float64(l.Res.P90) }
	p99  = func(l loadRun) float64 { return float64(l.Res.P99) }
	p999 = func(l loadRun) float64 { return float64(l.Res.P999) }
	sCPU = func(l loadRun) float64 { return l.ServerCPU }
	sPer = func(l loadRun) float64 { return l.ServerCPUPerCall }
	cCPU = func(l loadRun) float64 { return l.Res.CPUShare }
)

// row is one line of the summary table.
type row struct {
	what, measured, baseline, ratio, goal, met string
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// rows computes the summary: every issue 5 target with its measured ratio.
func (r *report) rows() []row {
	var out []row
	na := row{measured: "n/a", baseline: "", ratio: "", met: "n/a"}
	add := func(x row) { out = append(out, x) }

	// Allowed actual decision vs rs/cors.
	{
		x := row{what: "Allowed actual request: decision vs rs/cors (in process)", goal: "≤ 1.00x"}
		d, ok1 := r.med("Decision/allowed_actual/cors-authz-decide", "ns/op")
		rs, ok2 := r.med("Decision/allowed_actual/rs-cors", "ns/op")
		ratio, ok3 := r.micro.Ratio("Decision/allowed_actual/cors-authz-decide", "Decision/allowed_actual/rs-cors", "ns/op")
		if ok1 && ok2 && ok3 {
			x.measured, x.baseline = fmtNs(d), "rs/cors "+fmtNs(rs)
			x.ratio, x.met = fmtX(ratio), yesNo(ratio <= 1)
		} else {
			x = merge(x, na)
		}
		add(x)
	}
	// Check on a cache hit: allocations, and cost against a round trip.
	hit, okHit := r.med("Check/hit", "ns/op")
	hitAllocs, _ := r.med("Check/hit", "allocs/op")
	rtt, okRTT := r.loadStat("small", "noop", 1, p50)
	{
		x := row{what: "In-process Check, cache hit: allocations", goal: "0 allocs/op"}
		if okHit {
			x.measured, x.ratio, x.met = fmt.Sprintf("%.0f allocs/op (%s)", hitAllocs, fmtNs(hit)), "", yesNo(hitAllocs == 0)
		} else {
			x = merge(x, na)
		}
		add(x)
		y := row{what: "In-process Check, cache hit: share of one loopback round trip", goal: "< 5%"}
		if okHit && okRTT {
			y.measured, y.baseline = fmtNs(hit), "no-op gRPC round trip p50 "+fmtNs(rtt)
			y.ratio, y.met = fmt.Sprintf("%.1f%%", 100*hit/rtt), yesNo(hit/rtt < 0.05)
		} else {
			y = merge(y, na)
		}
		add(y)
	}
	// Scale: decision at 100k vs 10, worst case.
	big, small := scale.Sizes[len(scale.Sizes)-1], scale.Sizes[0]
	{
		x := row{what: fmt.Sprintf("Decision at %s exact origins vs %d (+%s wildcards), worst of %d cases", thousands(big), small, thousands(scale.Wildcards), len(scaleCases)), goal: "≤ 1.5x"}
		worst, worstCase, worstB, worstS := 0.0, "", 0.0, 0.0
		for _, c := range scaleCases {
			bn, sn := fmt.Sprintf("Scale/exact=%d/Decide/%s", big, c), fmt.Sprintf("Scale/exact=%d/Decide/%s", small, c)
			b, ok1 := r.med(bn, "ns/op")
			s, ok2 := r.med(sn, "ns/op")
			ratio, ok3 := r.micro.Ratio(bn, sn, "ns/op")
			if ok1 && ok2 && ok3 && ratio > worst {
				worst, worstCase, worstB, worstS = ratio, c, b, s
			}
		}
		if worstCase != "" {
			x.measured, x.baseline = fmtNs(worstB)+" ("+worstCase+")", fmtNs(worstS)+" at "+fmt.Sprint(small)
			x.ratio, x.met = fmtX(worst), yesNo(worst <= 1.5)
		} else {
			x = merge(x, na)
		}
		add(x)
	}
	{
		x := row{what: fmt.Sprintf("Heap held by the compiled %s-origin policy", thousands(big)), goal: "< 64 MiB"}
		if h, ok := r.med(fmt.Sprintf("Scale/exact=%d/Compile", big), "heap-MiB"); ok {
			fileMiB, _ := r.med(fmt.Sprintf("Scale/exact=%d/Compile", big), "file-MiB")
			x.measured, x.baseline = fmt.Sprintf("%.1f MiB", h), fmt.Sprintf("file %.1f MiB", fileMiB)
			x.ratio, x.met = fmt.Sprintf("%.0f%% of goal", 100*h/64), yesNo(h < 64)
		} else {
			x = merge(x, na)
		}
		add(x)
	}
	{
		x := row{what: fmt.Sprintf("Reload of the %s-origin file: parse + compile (policy.Parse)", thousands(big)), goal: "< 1 s"}
		if ns, ok := r.med(fmt.Sprintf("Scale/exact=%d/Compile", big), "ns/op"); ok {
			x.measured, x.ratio, x.met = fmtNs(ns), fmt.Sprintf("%.0f%% of goal", 100*ns/1e9), yesNo(ns < 1e9)
		} else {
			x = merge(x, na)
		}
		add(x)
		y := row{what: fmt.Sprintf("Reload of the %s-origin file through running serve: rename → first Check granted by it (includes the 100 ms debounce)", thousands(big)), goal: "< 1 s"}
		var ds []float64
		for _, d := range r.reloads {
			ds = append(ds, float64(d))
		}
		if m, ok := median(ds); ok {
			y.measured = fmtNs(m)
			if len(ds) > 1 {
				y.measured += fmt.Sprintf(" (median of %d; max %s)", len(ds), fmtNs(slices.Max(ds)))
			}
			y.ratio, y.met = fmt.Sprintf("%.0f%% of goal", 100*m/1e9), yesNo(m < 1e9)
		} else {
			y = merge(y, na)
		}
		add(y)
	}
	// Service under load.
	for _, c := range concurrencies {
		x := row{what: fmt.Sprintf("Service throughput at concurrency %d, vs no-op ceiling (small requests)", c), goal: "≥ 95%"}
		a, ok1 := r.loadStat("small", "cors-authz", c, rps)
		n, ok2 := r.loadStat("small", "noop", c, rps)
		ratio, ok3 := r.loadRatio("small", c, rps)
		if ok1 && ok2 && ok3 {
			x.measured, x.baseline = fmt.Sprintf("%.0f req/s", a), fmt.Sprintf("%.0f req/s", n)
			x.ratio, x.met = fmt.Sprintf("%.1f%%", 100*ratio), yesNo(ratio >= 0.95)
		} else {
			x = merge(x, na)
		}
		add(x)
	}
	for _, c := range concurrencies {
		x := row{what: fmt.Sprintf("Service p99 latency at concurrency %d, vs no-op ceiling (small requests)", c), goal: "≤ 1.10x"}
		a, ok1 := r.loadStat("small", "cors-authz", c, p99)
		n, ok2 := r.loadStat("small", "noop", c, p99)
		ratio, ok3 := r.loadRatio("small", c, p99)
		if ok1 && ok2 && ok3 {
			x.measured, x.baseline = fmtNs(a), fmtNs(n)
			x.ratio, x.met = fmtX(ratio), yesNo(ratio <= 1.1)
		} else {
			x = merge(x, na)
		}
		add(x)
	}
	// Server CPU per call: the throughput ratio a CPU-bound server reaches,
	// measured in a way background load hardly disturbs.
	{
		x := row{what: "Server CPU time per call vs no-op ceiling, at concurrency " + joinInts(concurrencies, " / ") + " (small requests; a CPU-bound server's throughput is the inverse)", goal: "≤ 1.05x (≥ 95%)"}
		var as, ns, rs []string
		worst, ok := 0.0, true
		for _, c := range concurrencies {
			a, ok1 := r.loadStat("small", "cors-authz", c, sPer)
			n, ok2 := r.loadStat("small", "noop", c, sPer)
			ratio, ok3 := r.loadRatio("small", c, sPer)
			if !ok1 || !ok2 || !ok3 {
				ok = false
				break
			}
			as, ns, rs = append(as, fmtNs(a)), append(ns, fmtNs(n)), append(rs, fmtX(ratio))
			worst = max(worst, ratio)
		}
		if ok && len(rs) > 0 {
			x.measured, x.baseline = strings.Join(as, " / "), strings.Join(ns, " / ")
			x.ratio, x.met = strings.Join(rs, " / "), yesNo(worst <= 1.05)
		} else {
			x = merge(x, na)
		}
		add(x)
	}
	// Realistic requests (issue 14): where selective decoding pays.
	for _, g := range []struct {
		what, goal string
		f          func(loadRun) float64
		fmtV       func(float64) string
		met        func(float64) bool
	}{
		{"Realistic requests: server CPU time per call vs no-op ceiling, at concurrency 16 / 64", "≤ 0.75x (issue 14)", sPer, fmtNs, func(x float64) bool { return x <= 0.75 }},
		{"Realistic requests: throughput vs no-op ceiling, at concurrency 16 / 64", "≥ 1.10x (issue 14)", rps, func(v float64) string { return fmt.Sprintf("%.0f req/s", v) }, func(x float64) bool { return x >= 1.10 }},
		{"Realistic requests: p99 latency vs no-op ceiling, at concurrency 16 / 64", "≤ 1.00x (issue 14)", p99, fmtNs, func(x float64) bool { return x <= 1.0 }},
	} {
		x := row{what: g.what, goal: g.goal}
		var as, ns, rs []string
		ok, met := true, true
		for _, c := range []int{16, 64} {
			a, ok1 := r.loadStat("realistic", "cors-authz", c, g.f)
			n, ok2 := r.loadStat("realistic", "noop", c, g.f)
			ratio, ok3 := r.loadRatio("realistic", c, g.f)
			if !ok1 || !ok2 || !ok3 {
				ok = false
				break
			}
			as, ns, rs = append(as, g.fmtV(a)), append(ns, g.fmtV(n)), append(rs, fmtX(ratio))
			met = met && g.met(ratio)
		}
		if ok {
			x.measured, x.baseline = strings.Join(as, " / "), strings.Join(ns, " / ")
			x.ratio, x.met = strings.Join(rs, " / "), yesNo(met)
		} else {
			x = merge(x, na)
		}
		add(x)
	}
	{
		x := row{what: "Selective decoding of a realistic request, in process (worst of map / header_map, actual / preflight)", goal: "≤ 1 µs, 0 allocs (issue 14)"}
		worst, worstStd, worstRatio, allocs, ok := 0.0, 0.0, 0.0, 0.0, false
		for _, k := range decodeCases {
			sel, ok1 := r.med("Decode/"+k+"/selective", "ns/op")
			std, ok2 := r.med("Decode/"+k+"/standard", "ns/op")
			ratio, ok3 := r.micro.Ratio("Decode/"+k+"/selective", "Decode/"+k+"/standard", "ns/op")
			a, _ := r.med("Decode/"+k+"/selective", "allocs/op")
			if !ok1 || !ok2 || !ok3 {
				continue
			}
			ok = true
			allocs = max(allocs, a)
			if sel > worst {
				worst, worstStd, worstRatio = sel, std, ratio
			}
		}
		if ok {
			x.measured = fmt.Sprintf("%s, %.0f allocs/op", fmtNs(worst), allocs)
			x.baseline = "proto.Unmarshal + request view " + fmtNs(worstStd)
			x.ratio, x.met = fmtX(worstRatio), yesNo(worst <= 1000 && allocs == 0)
		} else {
			x = merge(x, na)
		}
		add(x)
	}
	// Cache under a flood (no numeric goal in issue 5).
	{
		x := row{what: "Verdict cache: hot-set hit rate, 100 hot origins + 50% never-repeating ones", goal: "(figure only)", met: "—"}
		if h, ok := r.med("Flood", "hot-hit-%"); ok {
			all, _ := r.med("Flood", "hit-%")
			mib, _ := r.med("Flood", "heap-MiB")
			ent, _ := r.med("Flood", "entries")
			x.measured = fmt.Sprintf("%.1f%% of hot requests hit", h)
			x.baseline = fmt.Sprintf("%.1f%% of all; %.0f entries, %.1f MiB held", all, ent, mib)
		} else {
			x = merge(x, na)
			x.met = "—"
		}
		add(x)
	}
	return out
}

// merge fills x's empty result fields from d.
func merge(x, d row) row {
	x.measured, x.baseline, x.ratio, x.met = d.measured, d.baseline, d.ratio, d.met
	return x
}

// summaryTable is the table `make bench` prints.
func (r *report) summaryTable() string {
	var b strings.Builder
	b.WriteString("| Measure | cors-authz | Baseline (same run) | Ratio | Goal (issue 5 unless noted) | Met |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, x := range r.rows() {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", x.what, x.measured, x.baseline, x.ratio, x.goal, x.met)
	}
	return b.String()
}

// decisionTable: the four cases through every implementation.
func (r *report) decisionTable() string {
	var b strings.Builder
	b.WriteString("| Case |")
	for _, im := range impls {
		b.WriteString(" " + im.title + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(impls)) + "\n")
	for _, c := range fixture.Cases {
		fmt.Fprintf(&b, "| %s |", strings.ReplaceAll(c.Name, "_", " "))
		_, okRS := r.med("Decision/"+c.Name+"/rs-cors", "ns/op")
		for _, im := range impls {
			name := "Decision/" + c.Name + "/" + im.key
			ns, ok := r.med(name, "ns/op")
			if !ok {
				b.WriteString(" n/a |")
				continue
			}
			allocs, _ := r.med(name, "allocs/op")
			bytes, _ := r.med(name, "B/op")
			cell := fmt.Sprintf(" %s, %.0f allocs (%.0f B)", fmtNs(ns), allocs, bytes)
			if ratio, ok := r.micro.Ratio(name, "Decision/"+c.Name+"/rs-cors", "ns/op"); okRS && ok && im.key != "rs-cors" {
				cell += ", " + fmtX(ratio)
			}
			b.WriteString(cell + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (r *report) loadTable() string {
	var b strings.Builder
	b.WriteString("| Requests | Concurrency | Server | req/s | p50 | p90 | p99 | p99.9 | Server CPU | Server CPU per call | Load generator CPU | Failed calls (all rounds) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, fx := range fixtures {
		for _, c := range concurrencies {
			for _, t := range []string{"cors-authz", "noop"} {
				v := func(f func(loadRun) float64) float64 { x, _ := r.loadStat(fx, t, c, f); return x }
				var failed, total uint64
				for _, l := range r.loads {
					if l.Fixture == fx && l.Target == t && l.Concurrency == c {
						failed += l.Res.Outcomes[loadgen.RPCError]
						total += l.Res.Requests
					}
				}
				fmt.Fprintf(&b, "| %s | %d | %s | %.0f | %s | %s | %s | %s | %.0f%% | %s | %.0f%% | %d of %d |\n", fx, c, t,
					v(rps), fmtNs(v(p50)), fmtNs(v(p90)), fmtNs(v(p99)), fmtNs(v(p999)), 100*v(sCPU), fmtNs(v(sPer)), 100*v(cCPU), failed, total)
			}
			ratio := func(f func(loadRun) float64) string { x, _ := r.loadRatio(fx, c, f); return fmtX(x) }
			fmt.Fprintf(&b, "| %s | %d | *ratio* | %s | %s | %s | %s | %s | | %s | | |\n", fx, c, ratio(rps), ratio(p50), ratio(p90), ratio(p99), ratio(p999), ratio(sPer))
		}
	}
	return b.String()
}

func (r *report) scaleTable() string {
	var b strings.Builder
	b.WriteString("| Exact origins (+" + thousands(scale.Wildcards) + " wildcards) | File | Parse + compile | Heap held |")
	for _, c := range scaleCases {
		b.WriteString(" " + strings.ReplaceAll(c, "_", " ") + " |")
	}
	b.WriteString("\n|---|---|---|---|" + strings.Repeat("---|", len(scaleCases)) + "\n")
	for _, n := range scale.Sizes {
		comp := fmt.Sprintf("Scale/exact=%d/Compile", n)
		ns, ok := r.med(comp, "ns/op")
		if !ok {
			continue // not run in quick mode
		}
		heap, _ := r.med(comp, "heap-MiB")
		file, _ := r.med(comp, "file-MiB")
		fmt.Fprintf(&b, "| %s | %.2f MiB | %s | %.2f MiB |", thousands(n), file, fmtNs(ns), heap)
		for _, c := range scaleCases {
			d, ok := r.med(fmt.Sprintf("Scale/exact=%d/Decide/%s", n, c), "ns/op")
			ratio, okB := r.micro.Ratio(fmt.Sprintf("Scale/exact=%d/Decide/%s", n, c), fmt.Sprintf("Scale/exact=%d/Decide/%s", scale.Sizes[0], c), "ns/op")
			switch {
			case !ok:
				b.WriteString(" n/a |")
			case okB && n != scale.Sizes[0]:
				allocs, _ := r.med(fmt.Sprintf("Scale/exact=%d/Decide/%s", n, c), "allocs/op")
				fmt.Fprintf(&b, " %s, %.0f allocs, %s |", fmtNs(d), allocs, fmtX(ratio))
			default:
				allocs, _ := r.med(fmt.Sprintf("Scale/exact=%d/Decide/%s", n, c), "allocs/op")
				fmt.Fprintf(&b, " %s, %.0f allocs |", fmtNs(d), allocs)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (r *report) cacheTable() string {
	var b strings.Builder
	b.WriteString("| In-process Check, allowed actual request | ns/op | allocs/op | B/op |\n|---|---|---|---|\n")
	for _, k := range []struct{ name, title string }{
		{"hit", "cache hit (same origin again)"},
		{"miss", "cache miss (new origin each time; 256-entry cache churning)"},
		{"nocache", "cache disabled (--cache-size 0)"},
	} {
		ns, ok := r.med("Check/"+k.name, "ns/op")
		if !ok {
			continue
		}
		a, _ := r.med("Check/"+k.name, "allocs/op")
		by, _ := r.med("Check/"+k.name, "B/op")
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f |\n", k.title, fmtNs(ns), a, by)
	}
	if ns, ok := r.med("Flood", "ns/op"); ok {
		hot, _ := r.med("Flood", "hot-hit-%")
		all, _ := r.med("Flood", "hit-%")
		ent, _ := r.med("Flood", "entries")
		mib, _ := r.med("Flood", "heap-MiB")
		a, _ := r.med("Flood", "allocs/op")
		fmt.Fprintf(&b, "\nHot set plus flood (default cache, %s requests: every other one from one of 100 hot origins picked at random, the rest each from a new origin the wildcard allows): "+
			"**%.1f%%** of hot requests hit, %.1f%% of all requests; %.0f entries; %.1f MiB held by the service and its cache; %s and %.1f allocs per Check on average.\n",
			strings.TrimSuffix(r.set.floodN, "x"), hot, all, ent, mib, fmtNs(ns), a)
	}
	return b.String()
}

// notesMarker separates the generated report from notes kept across runs.
const notesMarker = "<!-- Notes below this line are kept by benchreport across runs. -->"

func writeReport(path string, r *report) error {
	kept := ""
	if old, err := os.ReadFile(path); err == nil {
		if _, after, ok := strings.Cut(string(old), notesMarker); ok {
			kept = strings.TrimLeft(after, "\n")
		}
	}
	r.env.LoadEnd = loadavg()
	var b strings.Builder
	mode := "full run (`make bench`)"
	if r.quick {
		mode = "quick run (`make bench-quick`): fewer repetitions and sizes, 1 s load runs; figures are indicative"
	}
	fmt.Fprintf(&b, `# Benchmarks

Generated by `+"`bench/cmd/benchreport`"+`: %s, %s, in %s. Every figure sits next to a
baseline measured in the same run, because this machine is shared and noisy: compare ratios, not absolute times.
Re-run with `+"`make bench`"+` (about 5 minutes; rewrites this file above the notes, and the chart) or
`+"`make bench-quick`"+` (under 2 minutes; prints the summary table only).

## Machine

| | |
|---|---|
| CPU | %s, %d logical CPUs (`+"`nproc`"+`) |
| Kernel | %s |
| Go | %s |
| Code | commit %s |
| Load average at start / end | %s / %s |
| Process placement | %s |

## Summary: the issue 5 and issue 14 targets

%s`, mode, r.env.Date, r.elapsed.Round(time.Second), r.env.CPU, r.env.NProc, r.env.Kernel, r.env.GoVersion,
		r.env.Commit, r.env.LoadStart, r.env.LoadEnd, r.pin, r.summaryTable())
	if r.chartFile != "" {
		fmt.Fprintf(&b, "\n![Throughput, p99 latency and server CPU per call against concurrency, cors-authz and the no-op ceiling, small and realistic requests](%s)\n", r.chartFile)
	}
	fmt.Fprintf(&b, `
## Decision micro-benchmarks

The four cases through each implementation, configured alike: 10 exact origins plus `+"`%s`"+`, credentials,
methods GET/POST/PUT/DELETE, request headers Authorization/Content-Type/X-Request-Id, exposed X-Request-Id,
max age 600. The allowed origin is the last of the 10 (the worst case for a linear scan); the preflight is `+"`%s`"+`
with `+"`Access-Control-Request-Headers: %s`"+` (lower case and sorted: the form rs/cors requires). The
libraries run as net/http middleware on a reused ResponseWriter whose header map is cleared each iteration (no
recorder allocations); cors-authz's Decide is the pure policy decision (verdict with its response headers), its
Check the whole in-process ext_authz handler from a CheckRequest to a CheckResponse (no gRPC): "cache hit" repeats
one request against the default cache, "cache miss" cycles through 4,096 origins with the same verdict (the allowed
ones through the wildcard) against a 256-entry cache. Each cell: median
ns/op of %d pass(es), allocs/op (B/op), ratio to rs/cors. `+"`TestBehaviour`"+` checks every implementation's headers
for every case.

%s
## Service under load

`+"`cors-authz serve`"+` with the fixture policy and the no-op ext_authz server (`+"`bench/cmd/noop`"+`: the same
gRPC server settings, a fixed OK answer) are driven by `+"`bench/cmd/loadgen`"+`: 1, 16 and 64 closed-loop workers over %d
gRPC connections send pre-built Envoy-shaped CheckRequests in a fixed mix: 50%% allowed actual requests (exact and
wildcard origins), 25%% actual requests from an unlisted origin, 25%% preflights (3 in 4 allowed). The mix runs with
two request sets (loadgen `+"`-fixture`"+`): **small** (`+"`fixture.CheckRequest`"+`: 18–19 headers including the
pseudo-headers, peer addresses, `+"`cors_class`"+` context extension; %s) and **realistic** (`+"`fixture.RealisticCheckRequest`"+`:
requests as Envoy sends them for a browser's call through a sidecar, about 22 headers with 200–800-byte cookies and
an ~800-byte JWT on actual requests, user agent, `+"`sec-fetch-*`"+`, `+"`sec-ch-ua*`"+`, forwarding and tracing headers, peers
with SPIFFE principals, request time, TLS SNI, filter and route metadata; every request different, half in
`+"`http.headers`"+`, half in `+"`header_map`"+`; %s). cors-authz reads only what the decision needs from the wire
(`+"`envoyauth.Decoded`"+`); the no-op decodes the whole message with the generated code, as a standard ext_authz
server does. Every cors-authz answer is checked
against the expected verdict. %v measured after %v warm-up, %d round(s) per server and concurrency, cors-authz
and no-op alternating so background load hits both alike. Figures are medians over rounds; ratios are
medians of per-round ratios. A call that misses its 1 s deadline counts as failed (Envoy's default is 200 ms).
CPU figures are the share of one core (server: from /proc over the whole load
generator run; load generator: its own getrusage over the measured window). Server CPU per call is the server's CPU
time over the whole load generator run divided by every call it made, warm-up included: the cost of one Check to
the server, which other processes on the machine hardly change (they delay the server, they do not make it work more).

%s
## Scale

Policies with N exact origins plus %s wildcard patterns (`+"`https://*.tenant-K.example.io`"+`); decisions at
each size, ratio to the %d-origin policy. Heap held is live heap after a GC with the compiled policy, minus
before it (the YAML bytes excluded).

%s
Reloads through the running service (the %s-origin file written to a temporary file and renamed over the
watched one; time until a Check from an origin only the new file allows is granted): %s. Service RSS %s before the first reload, %s after the last.

## Verdict cache

%s
## Commands

`+"```sh\n%s\n```"+`

%s

`, fixture.WildcardOrigin, fixture.PreflightMethod, fixture.PreflightHeaders, r.set.count, r.decisionTable(),
		r.conns, mixSizes(loadgen.DefaultMix()), mixSizes(loadgen.RealisticMix()), r.set.duration, r.set.warmup, r.set.rounds, r.loadTable(),
		thousands(scale.Wildcards), scale.Sizes[0], r.scaleTable(),
		thousands(scale.Sizes[len(scale.Sizes)-1]), fmtDurations(r.reloads), fmtBytes(r.rssBefore), fmtBytes(r.rssAfter),
		r.cacheTable(), strings.Join(r.commands, "\n"), notesMarker)
	out := b.String() + kept
	return os.WriteFile(path, []byte(out), 0o644)
}

// mixSizes describes the encoded sizes of a load mix's requests.
func mixSizes(mix []loadgen.Item) string {
	var sizes []float64
	for _, it := range mix {
		sizes = append(sizes, float64(proto.Size(it.Req)))
	}
	if len(sizes) == 0 {
		return "no requests"
	}
	sum := 0.0
	for _, v := range sizes {
		sum += v
	}
	return fmt.Sprintf("%.0f–%.0f bytes encoded, mean %.0f", slices.Min(sizes), slices.Max(sizes), sum/float64(len(sizes)))
}

func fmtDurations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "not measured"
	}
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = fmtNs(float64(d))
	}
	return strings.Join(s, ", ")
}

func fmtNs(ns float64) string {
	switch {
	case ns == 0 || math.IsNaN(ns):
		return "n/a"
	case ns < 1e3:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 1e6:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	case ns < 1e9:
		return fmt.Sprintf("%.1f ms", ns/1e6)
	}
	return fmt.Sprintf("%.2f s", ns/1e9)
}

func fmtX(x float64) string {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", x)
}

func fmtBytes(n uint64) string {
	if n == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func joinInts(xs []int, sep string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, sep)
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
