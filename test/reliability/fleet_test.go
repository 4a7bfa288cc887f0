//go:build linux

package reliability

import (
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cors-authz/cors-authz/deploy/observability"
	"github.com/cors-authz/cors-authz/internal/promtooltest"
	"github.com/cors-authz/cors-authz/internal/servetest"
)

// The fleet: three replicas watching one ConfigMap-style directory, each
// with its own --reload-debounce, as replicas behind one Service pick up a
// ConfigMap change at different moments (each kubelet syncs its volume on
// its own schedule). The first uses serve's default debounce.
var fleetDebounces = []time.Duration{100 * time.Millisecond, 1 * time.Second, 2 * time.Second}

// Target labels Prometheus would add to every scraped series (Kubernetes
// service discovery: one job for the Deployment, a pod per replica).
const (
	fleetNamespace = "fleet"
	fleetJob       = "cors-authz"
)

// scrapeEvery is the pause between scrape rounds: a round scrapes the
// three replicas' /metrics one after the other.
const scrapeEvery = 100 * time.Millisecond

// driftAlert is the alert the test evaluates.
const driftAlert = "CorsAuthzPolicyDrift"

// driftExpr is the drift alert's expression as evalDrift implements it; the
// test checks that the shipped rule file still says this.
const driftExpr = `count by (namespace, job) (count by (namespace, job, sha256) (cors_authz_policy_info{role="enforced"})) > 1`

// TestFleetConvergence starts three replicas on one ConfigMap-style
// directory, swaps its ..data symlink to a new policy, and checks that
// every replica serves the new sha256 (GET /policy and
// cors_authz_policy_info) once its debounce has passed. Meanwhile it
// scrapes the three processes' /metrics in rounds and evaluates the
// shipped CorsAuthzPolicyDrift rule over those samples, each scrape round
// standing for one rule evaluation (so the rule's `for: 5m` is five
// consecutive rounds): in Go (evalDrift implements the expression, whose
// text the test checks against the rule file) and, when promtool is
// installed, with promtool itself over the same samples written as a
// unit-test input. The alert must fire while the replicas differ and
// resolve once they agree. The convergence time of each replica is
// logged (go test -v), from the swap to its "policy loaded" log record.
func TestFleetConvergence(t *testing.T) {
	rule := loadDriftRule(t)
	if norm(rule.Expr) != norm(driftExpr) {
		t.Fatalf("prometheus-rules.yaml %s expr is\n  %s\nevalDrift implements\n  %s\nupdate evalDrift and driftExpr", driftAlert, norm(rule.Expr), driftExpr)
	}
	forTicks := int(rule.For / time.Minute) // one scrape round = one evaluation minute
	if forTicks < 1 || rule.For%time.Minute != 0 {
		t.Fatalf("%s for: %v; the test maps whole minutes to scrape rounds", driftAlert, rule.For)
	}

	cm, path := newConfigMap(t, t.TempDir(), policyA)
	replicas := make([]*proc, len(fleetDebounces))
	for i, d := range fleetDebounces {
		// Started one by one: RunN starts replicas with one set of flags.
		replicas[i] = &proc{servetest.Run(t, servetest.Options{
			Args:  []string{"--config", path, "--reload-debounce", d.String()},
			Ready: true,
		}), t}
	}
	for i, p := range replicas {
		if got := p.policy().SHA256; got != sha(policyA) {
			t.Fatalf("replica %d serves %s, want policy A %s", i+1, got, sha(policyA))
		}
	}

	var rounds []scrapeRound
	scrape := func() scrapeRound {
		var r scrapeRound
		for i, p := range replicas {
			r.samples = append(r.samples, targetSamples(t, p, i)...)
		}
		return r
	}
	// Before the swap: all agree, for longer than the rule's `for`.
	for range forTicks + 1 {
		rounds = append(rounds, scrape())
		time.Sleep(scrapeEvery)
	}
	swapRound := len(rounds)
	swapped := time.Now()
	cm.swap(t, policyB)

	// Scrape until every replica serves B, then as many rounds again as
	// the rule's `for` (bounded: reloadTimeout).
	deadline := swapped.Add(reloadTimeout)
	converged := -1
	for converged < 0 || len(rounds) < converged+forTicks+1 {
		if time.Now().After(deadline) {
			t.Fatalf("replicas did not all serve policy B within %v of the swap; last round: %v", reloadTimeout, rounds[len(rounds)-1].samples)
		}
		time.Sleep(scrapeEvery)
		r := scrape()
		rounds = append(rounds, r)
		if converged < 0 && r.allServe(sha(policyB), len(replicas)) {
			converged = len(rounds) - 1
		}
	}

	// Each replica serves B, after its own debounce.
	var last time.Duration
	for i, p := range replicas {
		if got := p.policy().SHA256; got != sha(policyB) {
			t.Errorf("replica %d serves %s after convergence, want policy B", i+1, got)
		}
		loaded := loadedAt(t, p, sha(policyB))
		took := loaded.Sub(swapped)
		if took < fleetDebounces[i] {
			t.Errorf("replica %d loaded policy B %v after the swap, before its debounce %v: the debounce does not hold", i+1, took, fleetDebounces[i])
		}
		last = max(last, took)
		t.Logf("replica %d: --reload-debounce %v, serves the new sha256 %v after the ..data swap (%v past its debounce)",
			i+1, fleetDebounces[i], took.Round(time.Millisecond), (took - fleetDebounces[i]).Round(time.Millisecond))
	}
	t.Logf("fleet converged %v after the swap (the slowest debounce is %v); %d scrape rounds, the swap before round %d, all on policy B from round %d",
		last.Round(time.Millisecond), fleetDebounces[len(fleetDebounces)-1], len(rounds), swapRound, converged)

	// The drift alert over the scraped samples, in Go.
	firing := evalAlert(rounds, forTicks)
	var differ []int
	for i, r := range rounds {
		if len(r.shas()) > 1 {
			differ = append(differ, i)
		}
	}
	if len(differ) < forTicks {
		t.Fatalf("the replicas differed in %d scrape rounds, fewer than the rule's for (%d): the debounces are too close to see drift", len(differ), forTicks)
	}
	for i := range rounds {
		// Firing once the replicas have differed for `for` since the
		// round that first saw it: forTicks+1 rounds, this one included.
		want := i >= forTicks && allIn(differ, i-forTicks, i)
		if firing[i] != want {
			t.Errorf("round %d: drift alert firing=%v, want %v (replicas serve %v)", i, firing[i], want, rounds[i].shas())
		}
	}
	if !slices.Contains(firing, true) || firing[len(firing)-1] || firing[swapRound-1] {
		t.Errorf("drift alert by round: %v; want it to fire after the swap only, and to resolve once all replicas agree", firing)
	}

	// The same, evaluated by promtool over the same samples.
	runPromtool(t, rule, rounds, firing)
}

// driftRule is the part of an alerting rule the test reads.
type driftRule struct {
	Expr        string
	For         time.Duration
	Annotations map[string]string
}

func loadDriftRule(t *testing.T) driftRule {
	t.Helper()
	var doc struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert       string            `yaml:"alert"`
					Expr        string            `yaml:"expr"`
					For         string            `yaml:"for"`
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(observability.Rules, &doc); err != nil {
		t.Fatal(err)
	}
	for _, g := range doc.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == driftAlert {
				d, err := time.ParseDuration(r.For)
				if err != nil {
					t.Fatalf("%s for %q: %v", driftAlert, r.For, err)
				}
				return driftRule{Expr: r.Expr, For: d, Annotations: r.Annotations}
			}
		}
	}
	t.Fatalf("prometheus-rules.yaml has no alert %s", driftAlert)
	return driftRule{}
}

func norm(s string) string { return strings.Join(strings.Fields(s), " ") }

// sample is one scraped series with the target labels Prometheus adds.
type sample struct {
	name   string
	labels map[string]string
	value  string
}

// key is the series identity in PromQL's series notation, labels sorted.
func (s sample) key() string {
	names := make([]string, 0, len(s.labels))
	for k := range s.labels {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s=%q", k, s.labels[k])
	}
	return s.name + "{" + strings.Join(parts, ", ") + "}"
}

// scrapeRound is one scrape of every replica.
type scrapeRound struct{ samples []sample }

// shas returns the enforced sha256 values in the round, sorted.
func (r scrapeRound) shas() []string {
	var out []string
	for _, s := range r.samples {
		if s.name == "cors_authz_policy_info" && s.labels["role"] == "enforced" && !slices.Contains(out, s.labels["sha256"]) {
			out = append(out, s.labels["sha256"])
		}
	}
	sort.Strings(out)
	return out
}

// allServe reports whether n pods each expose exactly one enforced series,
// all with sha256 sum.
func (r scrapeRound) allServe(sum string, n int) bool {
	pods := map[string]int{}
	for _, s := range r.samples {
		if s.name == "cors_authz_policy_info" && s.labels["role"] == "enforced" {
			if s.labels["sha256"] != sum {
				return false
			}
			pods[s.labels["pod"]]++
		}
	}
	if len(pods) != n {
		return false
	}
	for _, c := range pods {
		if c != 1 {
			return false
		}
	}
	return true
}

// infoLineRE matches a cors_authz_policy_info sample line of the text
// exposition (label values here are hex digests and role words: no
// escapes).
var infoLineRE = regexp.MustCompile(`^(cors_authz_policy_info)\{([^}]*)\} (\S+)$`)
var labelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"`)

// targetSamples scrapes replica i's /metrics and returns its
// cors_authz_policy_info samples with the target labels added.
func targetSamples(t *testing.T, p *proc, i int) []sample {
	t.Helper()
	var out []sample
	for _, line := range strings.Split(string(p.metrics()), "\n") {
		m := infoLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s := sample{name: m[1], value: m[3], labels: map[string]string{
			"namespace": fleetNamespace, "job": fleetJob,
			"pod": fmt.Sprintf("cors-authz-%d", i+1), "instance": p.AdminAddr,
		}}
		for _, lv := range labelRE.FindAllStringSubmatch(m[2], -1) {
			s.labels[lv[1]] = lv[2]
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		t.Fatalf("replica %d exposes no cors_authz_policy_info", i+1)
	}
	return out
}

// evalDrift evaluates driftExpr on one round's samples: the (namespace,
// job) groups serving more than one enforced sha256, with how many.
//
//	count by (namespace, job) (                       -- number of inner groups per (namespace, job)
//	  count by (namespace, job, sha256) (             -- one inner group per distinct sha256
//	    cors_authz_policy_info{role="enforced"}))     -- the enforced policy of each replica
//	> 1                                               -- keep groups with more than one
func evalDrift(samples []sample) map[[2]string]int {
	inner := map[[3]string]bool{}
	for _, s := range samples {
		if s.name != "cors_authz_policy_info" || s.labels["role"] != "enforced" {
			continue
		}
		inner[[3]string{s.labels["namespace"], s.labels["job"], s.labels["sha256"]}] = true
	}
	outer := map[[2]string]int{}
	for k := range inner {
		outer[[2]string{k[0], k[1]}]++
	}
	for k, n := range outer {
		if !(n > 1) {
			delete(outer, k)
		}
	}
	return outer
}

// evalAlert runs the alerting rule over the rounds as Prometheus does: a
// group is pending from the first evaluation its expression returns it,
// and firing once it has been returned for forTicks consecutive
// evaluations (`for`); it resolves at the first evaluation that does not
// return it.
func evalAlert(rounds []scrapeRound, forTicks int) []bool {
	firing := make([]bool, len(rounds))
	active := map[[2]string]int{} // group → consecutive evaluations returned
	for i, r := range rounds {
		res := evalDrift(r.samples)
		for g := range active {
			if _, ok := res[g]; !ok {
				delete(active, g)
			}
		}
		for g := range res {
			active[g]++
			// Pending at the first evaluation; firing when `for` has
			// elapsed since then: forTicks evaluations later.
			if active[g] > forTicks {
				firing[i] = true
			}
		}
	}
	return firing
}

// allIn reports whether every round from a to b (inclusive) is in rs.
func allIn(rs []int, a, b int) bool {
	for i := a; i <= b; i++ {
		if !slices.Contains(rs, i) {
			return false
		}
	}
	return true
}

// loadedAt is the time of p's "policy loaded" log record for sum.
func loadedAt(t *testing.T, p *proc, sum string) time.Time {
	t.Helper()
	rec, ok := p.Log.Find("policy loaded")
	if !ok || rec["sha256"] != sum {
		t.Fatalf("no \"policy loaded\" record for %s; log:\n%s", sum, p.Log)
	}
	ts, _ := rec["time"].(string)
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Fatalf("policy loaded record time %q: %v", ts, err)
	}
	return at
}

// runPromtool writes the rounds as a promtool rule unit test (one round
// per minute of the test's clock, the replaced series ending with a
// staleness marker as a scrape that no longer finds a series records)
// whose expected drift alerts are firing (as evalAlert computed them),
// and runs it against the shipped rule file.
func runPromtool(t *testing.T, rule driftRule, rounds []scrapeRound, firing []bool) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed (Debian: apt-get install prometheus): the drift rule was evaluated in Go only")
		return
	}
	// Series values, round by round: "1" while scraped, "stale" at the
	// first round without it, "_" otherwise.
	series := map[string][]string{}
	var order []string
	for i, r := range rounds {
		for _, s := range r.samples {
			k := s.key()
			if _, ok := series[k]; !ok {
				series[k] = slices.Repeat([]string{"_"}, len(rounds))
				order = append(order, k)
			}
			series[k][i] = s.value
		}
	}
	for _, k := range order {
		v := series[k]
		for i := 1; i < len(v); i++ {
			if v[i] == "_" && v[i-1] != "_" && v[i-1] != "stale" {
				v[i] = "stale"
			}
		}
	}
	var in []map[string]string
	for _, k := range order {
		in = append(in, map[string]string{"series": k, "values": strings.Join(series[k], " ")})
	}
	var cases []map[string]any
	for i, f := range firing {
		exp := []map[string]any{}
		if f {
			n := evalDrift(rounds[i].samples)[[2]string{fleetNamespace, fleetJob}]
			exp = append(exp, map[string]any{
				"exp_labels":      map[string]string{"severity": "warning", "namespace": fleetNamespace, "job": fleetJob},
				"exp_annotations": render(t, rule.Annotations, n),
			})
		}
		cases = append(cases, map[string]any{"eval_time": fmt.Sprintf("%dm", i), "alertname": driftAlert, "exp_alerts": exp})
	}
	test := map[string]any{
		"rule_files":          []string{"rules.yaml"},
		"evaluation_interval": "1m",
		"tests":               []any{map[string]any{"interval": "1m", "input_series": in, "alert_rule_test": cases}},
	}
	b, err := yaml.Marshal(test)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := promtooltest.TestRules(t, promtool, observability.Rules, "fleet_test.yaml", b); err != nil {
		t.Errorf("promtool test rules over the scraped samples: %v\n%s\ninput:\n%s", err, out, b)
		return
	}
	t.Logf("promtool agrees: %s fires in the %d round(s) the Go evaluation says, over %d scrape rounds", driftAlert, count(firing), len(rounds))
}

// render expands the drift alert's annotation templates for the fleet's
// group, whose expression value is n. Only the templates the rule uses
// are known; another one fails the test, so that it is added here.
func render(t *testing.T, annotations map[string]string, n int) map[string]string {
	t.Helper()
	r := strings.NewReplacer(
		"{{ $labels.namespace }}", fleetNamespace,
		"{{ $labels.job }}", fleetJob,
		"{{ $value }}", fmt.Sprint(n),
	)
	out := map[string]string{}
	for k, v := range annotations {
		out[k] = r.Replace(v)
		if strings.Contains(out[k], "{{") {
			t.Fatalf("%s annotation %s uses a template this test does not render: %q", driftAlert, k, v)
		}
	}
	return out
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// evalDrift and evalAlert on hand-made rounds: the shadow role and other
// jobs do not count; the alert fires after `for` and resolves at once.
func TestEvalDrift(t *testing.T) {
	info := func(job, pod, role, sum string) sample {
		return sample{name: "cors_authz_policy_info", value: "1", labels: map[string]string{
			"namespace": fleetNamespace, "job": job, "pod": pod, "role": role, "sha256": sum}}
	}
	agree := scrapeRound{[]sample{info("a", "1", "enforced", "x"), info("a", "2", "enforced", "x"), info("a", "1", "shadow", "y"), info("b", "3", "enforced", "z")}}
	differ := scrapeRound{[]sample{info("a", "1", "enforced", "x"), info("a", "2", "enforced", "y"), info("b", "3", "enforced", "z")}}
	if got := evalDrift(agree.samples); len(got) != 0 {
		t.Errorf("agreeing replicas: %v", got)
	}
	if got := evalDrift(differ.samples); len(got) != 1 || got[[2]string{fleetNamespace, "a"}] != 2 {
		t.Errorf("differing replicas: %v, want job a with 2", got)
	}
	rounds := []scrapeRound{agree, differ, differ, differ, agree, differ, differ}
	want := []bool{false, false, false, true, false, false, false}
	if got := evalAlert(rounds, 2); !slices.Equal(got, want) {
		t.Errorf("evalAlert(for 2) = %v, want %v", got, want)
	}
}
