package observability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"

	"github.com/cors-authz/cors-authz/internal/admin"
	"github.com/cors-authz/cors-authz/internal/buildinfo"
	"github.com/cors-authz/cors-authz/internal/promtooltest"
	"github.com/cors-authz/cors-authz/internal/reload"
	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pendingMetrics may be referenced before the binary exports them. Each
// entry names the work that adds the metric and the labels it will carry.
// TestPendingMetricsStillPending fails as soon as a metric's name appears
// in the Go sources: then register its collector in registeredMetrics and
// delete the entry.
var pendingMetrics = map[string]struct {
	why    string
	labels []string
	source string // a string the implementation's Go source will contain
}{}

// targetLabels are added by Prometheus (Kubernetes service discovery,
// relabelling), never by the binary.
var targetLabels = []string{"namespace", "pod", "instance", "job", "container", "service"}

// registeredMetrics builds the metrics exactly as serve does (admin
// registry, check service, reload watcher, a shadow policy as with
// --shadow-config), runs Checks so that every lazily created series
// exists, and returns the gathered families by name.
func registeredMetrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	reg := admin.NewRegistry()
	reg.MustRegister(buildinfo.Read("dev").Collector())
	svc := check.New(check.Options{CacheSize: check.DefaultCacheSize, Registerer: reg})
	file := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(file, policy.DefaultYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := reload.New(reload.Options{Path: file, Target: svc, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Load(); err != nil {
		t.Fatal(err)
	}
	svc.SetShadow(policy.Default())
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Scheme: "https", Host: "api.example.com", Path: "/api/v1/users",
			Headers: map[string]string{"origin": "https://partner.example.org"},
		},
	}}}
	for range 2 { // a cache miss, then a hit
		if _, err := svc.Check(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	// A refused origin (cors_authz_refusals_total's first series).
	refused := proto.Clone(req).(*authv3.CheckRequest)
	refused.Attributes.Request.Http.Headers["origin"] = "https://evil.example.net"
	if _, err := svc.Check(context.Background(), refused); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// family resolves a name used in PromQL to its metric family: the name
// itself, or a histogram's _bucket, _sum or _count series.
func family(fams map[string]*dto.MetricFamily, name string) (*dto.MetricFamily, bool) {
	if mf, ok := fams[name]; ok {
		return mf, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if mf, ok := fams[base]; ok && mf.GetType() == dto.MetricType_HISTOGRAM {
				return mf, true
			}
		}
	}
	return nil, false
}

// labelValues returns a family's label names and the values seen for each.
func labelValues(mf *dto.MetricFamily) map[string][]string {
	out := map[string][]string{}
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if !slices.Contains(out[lp.GetName()], lp.GetValue()) {
				out[lp.GetName()] = append(out[lp.GetName()], lp.GetValue())
			}
		}
	}
	return out
}

// expr is one PromQL expression and where it was found.
type expr struct{ where, promql string }

var (
	identRE    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	selectorRE = regexp.MustCompile(`(cors_authz_[a-zA-Z0-9_]+)\{([^}]*)\}`)
	matcherRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	groupingRE = regexp.MustCompile(`\b(?:by|on|without|ignoring)\s*\(([^)]*)\)`)
	literalsRE = regexp.MustCompile(`^[a-z_]+(\|[a-z_]+)*$`)
)

// metricNames returns the cors_authz_* metric names in e and the
// recording-rule names (level:metric:operations) it uses.
func metricNames(e string) (metrics, records []string) {
	for _, id := range identRE.FindAllString(e, -1) {
		switch {
		case strings.Contains(id, ":"):
			records = append(records, id)
		case strings.HasPrefix(id, "cors_authz_"):
			metrics = append(metrics, id)
		}
	}
	return metrics, records
}

// checkExprs reports every problem exprProblems finds and returns the
// metric names the expressions use.
func checkExprs(t *testing.T, fams map[string]*dto.MetricFamily, exprs []expr, records map[string]bool) map[string]bool {
	t.Helper()
	problems, used := exprProblems(fams, exprs, records)
	for _, p := range problems {
		t.Error(p)
	}
	return used
}

// exprProblems checks that every metric, label and label value the
// expressions use is one the binary exports (or a pending metric), and
// every recording rule they use is in records. It returns the problems and
// the metric names used.
func exprProblems(fams map[string]*dto.MetricFamily, exprs []expr, records map[string]bool) (problems []string, used map[string]bool) {
	errorf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	allLabels := map[string]bool{"le": true}
	for _, l := range targetLabels {
		allLabels[l] = true
	}
	for _, mf := range fams {
		for l := range labelValues(mf) {
			allLabels[l] = true
		}
	}
	for _, p := range pendingMetrics {
		for _, l := range p.labels {
			allLabels[l] = true
		}
	}
	used = map[string]bool{}
	for _, e := range exprs {
		metrics, recs := metricNames(e.promql)
		for _, name := range metrics {
			used[name] = true
			if _, ok := family(fams, name); !ok {
				if _, pending := pendingMetrics[name]; !pending {
					errorf("%s: %s is not exported by cors-authz", e.where, name)
				}
			}
		}
		for _, r := range recs {
			if !records[r] {
				errorf("%s: recording rule %s is not defined in prometheus-rules.yaml", e.where, r)
			}
		}
		for _, sel := range selectorRE.FindAllStringSubmatch(e.promql, -1) {
			name := sel[1]
			var have map[string][]string
			if mf, ok := family(fams, name); ok {
				have = labelValues(mf)
				if strings.HasSuffix(name, "_bucket") && mf.GetType() == dto.MetricType_HISTOGRAM {
					have["le"] = nil
				}
			} else if p, ok := pendingMetrics[name]; ok {
				have = map[string][]string{}
				for _, l := range p.labels {
					have[l] = nil
				}
			}
			for _, m := range matcherRE.FindAllStringSubmatch(sel[2], -1) {
				label, op, value := m[1], m[2], m[3]
				if slices.Contains(targetLabels, label) {
					continue
				}
				values, ok := have[label]
				if !ok {
					errorf("%s: %s has no label %q", e.where, name, label)
					continue
				}
				// Check literal values (and alternations of literals)
				// against the values the binary produces; skip
				// dashboard variables and real regular expressions.
				if values == nil || strings.Contains(value, "$") || (op != "=" && !(op == "=~" && literalsRE.MatchString(value))) {
					continue
				}
				for _, v := range strings.Split(value, "|") {
					if !slices.Contains(values, v) {
						errorf("%s: %s{%s=%q}: the binary never sets %s=%q (it sets %v)", e.where, name, label, value, label, v, values)
					}
				}
			}
		}
		for _, g := range groupingRE.FindAllStringSubmatch(e.promql, -1) {
			for _, l := range strings.Split(g[1], ",") {
				if l = strings.TrimSpace(l); l != "" && !allLabels[l] {
					errorf("%s: groups by %q, a label no cors_authz metric carries", e.where, l)
				}
			}
		}
	}
	return problems, used
}

// dashboardExprs walks the dashboard and returns every query string.
func dashboardExprs(t *testing.T) (map[string]any, []expr) {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(Dashboard, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	var out []expr
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && (k == "expr" || k == "query" || k == "definition") {
					out = append(out, expr{path + "." + k, s})
					continue
				}
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				title := ""
				if m, ok := e.(map[string]any); ok {
					title, _ = m["title"].(string)
				}
				walk(path+"["+strings.TrimSpace(strconv.Itoa(i)+" "+title)+"]", e)
			}
		}
	}
	walk("dashboard", d)
	sort.Slice(out, func(i, j int) bool { return out[i].where < out[j].where })
	return d, out
}

// ruleFile is the part of a PrometheusRule the tests read.
type ruleFile struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		Groups []struct {
			Name     string `yaml:"name"`
			Interval string `yaml:"interval"`
			Rules    []struct {
				Alert       string            `yaml:"alert"`
				Record      string            `yaml:"record"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	} `yaml:"spec"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	var rf ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(Rules)))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("prometheus-rules.yaml: %v", err)
	}
	return rf
}

func TestMetricsReferencedAreExported(t *testing.T) {
	fams := registeredMetrics(t)
	rf := loadRules(t)
	records := map[string]bool{}
	var ruleExprs []expr
	for _, g := range rf.Spec.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				records[r.Record] = true
			}
		}
	}
	for _, g := range rf.Spec.Groups {
		for _, r := range g.Rules {
			ruleExprs = append(ruleExprs, expr{"prometheus-rules.yaml " + g.Name + "/" + r.Alert + r.Record, r.Expr})
		}
	}
	_, dashExprs := dashboardExprs(t)
	// The dashboard must work without the recording rules.
	usedByDashboard := checkExprs(t, fams, dashExprs, nil)
	usedByRules := checkExprs(t, fams, ruleExprs, records)

	// What issue 7 asks the dashboard and the alerts to show.
	for _, name := range []string{
		"cors_authz_checks_total", "cors_authz_check_duration_seconds_bucket",
		"cors_authz_cache_hits_total", "cors_authz_cache_misses_total",
		"cors_authz_policy_reloads_total", "cors_authz_policy_last_reload_failed",
		"cors_authz_policy_generation", "cors_authz_shadow_disagreements_total",
	} {
		if !usedByDashboard[name] {
			t.Errorf("the dashboard has no panel using %s", name)
		}
	}
	for _, name := range []string{
		"cors_authz_checks_total", "cors_authz_check_duration_seconds_bucket",
		"cors_authz_policy_last_reload_failed", "cors_authz_shadow_disagreements_total",
	} {
		if !usedByRules[name] {
			t.Errorf("no rule uses %s", name)
		}
	}
	// What issue 13 asks: the policy per pod, refusals by reason, unknown
	// classes on the dashboard; drift and unknown classes alerted on.
	for _, name := range []string{"cors_authz_policy_info", "cors_authz_refusals_total", "cors_authz_unknown_class_total", "cors_authz_build_info"} {
		if !usedByDashboard[name] {
			t.Errorf("the dashboard has no panel using %s", name)
		}
	}
	for _, name := range []string{"cors_authz_policy_info", "cors_authz_unknown_class_total"} {
		if !usedByRules[name] {
			t.Errorf("no rule uses %s", name)
		}
	}
	for name := range pendingMetrics {
		if !usedByDashboard[name] && !usedByRules[name] {
			t.Errorf("pendingMetrics lists %s, which nothing references any more: delete the entry", name)
		}
	}
	if len(dashExprs) < 10 || len(ruleExprs) < 5 {
		t.Errorf("found only %d dashboard and %d rule expressions: is the extraction broken?", len(dashExprs), len(ruleExprs))
	}
}

// The extraction itself: a misspelt metric, label or label value, or an
// undefined recording rule, must be reported.
func TestCheckExprsCatchesMistakes(t *testing.T) {
	fams := registeredMetrics(t)
	tests := []struct {
		promql string
		errs   int
	}{
		{`sum by (class, verdict) (rate(cors_authz_checks_total{namespace=~"$namespace", verdict=~"denied|rejected"}[5m]))`, 0},
		{`histogram_quantile(0.99, sum by (le) (rate(cors_authz_check_duration_seconds_bucket[5m])))`, 0},
		{`sum(rate(cors_authz_shadow_disagreements_total{kind="would_deny"}[5m]))`, 0},
		{`sum(rate(cors_authz_shadow_disagreements_total{kind="would_denny"}[5m]))`, 1}, // value never set
		{`rate(cors_authz_check_total[5m])`, 1},                                         // misspelt metric
		{`rate(cors_authz_cache_hits_total_bucket[5m])`, 1},                             // not a histogram
		{`rate(cors_authz_checks_total{verdic="denied"}[5m])`, 1},                       // misspelt label
		{`rate(cors_authz_checks_total{verdict=~"denied|deny"}[5m])`, 1},                // value never set
		{`rate(cors_authz_policy_reloads_total{result="failed"}[5m])`, 1},               // value never set
		{`sum by (klass) (rate(cors_authz_checks_total[5m]))`, 1},                       // grouping label
		{`level:cors_authz_undefined:rate5m > 1`, 1},                                    // recording rule
	}
	for _, tt := range tests {
		problems, _ := exprProblems(fams, []expr{{"test", tt.promql}}, map[string]bool{})
		if len(problems) != tt.errs {
			t.Errorf("%s: %d problem(s), want %d: %q", tt.promql, len(problems), tt.errs, problems)
		}
	}
}

func TestDashboardShape(t *testing.T) {
	d, _ := dashboardExprs(t)
	if v, _ := d["schemaVersion"].(float64); v < 36 {
		t.Errorf("schemaVersion %v, want >= 36", d["schemaVersion"])
	}
	if d["uid"] != "cors-authz" || d["title"] == "" {
		t.Errorf("uid %v title %v", d["uid"], d["title"])
	}
	vars, _ := d["templating"].(map[string]any)["list"].([]any)
	var dsVar bool
	for _, v := range vars {
		m := v.(map[string]any)
		if m["name"] == "datasource" && m["type"] == "datasource" && m["query"] == "prometheus" {
			dsVar = true
		}
	}
	if !dsVar {
		t.Error(`no "datasource" template variable of type datasource (query prometheus)`)
	}
	panels, _ := d["panels"].([]any)
	ids := map[float64]bool{}
	var n int
	for _, p := range panels {
		p := p.(map[string]any)
		title, _ := p["title"].(string)
		id, _ := p["id"].(float64)
		if ids[id] {
			t.Errorf("panel %q: duplicate id %v", title, id)
		}
		ids[id] = true
		g := p["gridPos"].(map[string]any)
		if x, w := g["x"].(float64), g["w"].(float64); x < 0 || w <= 0 || x+w > 24 {
			t.Errorf("panel %q: gridPos x=%v w=%v outside the 24 columns", title, x, w)
		}
		if p["type"] == "row" {
			continue
		}
		n++
		if ds, _ := p["datasource"].(map[string]any); ds["uid"] != "${datasource}" {
			t.Errorf("panel %q: datasource %v, want uid ${datasource}", title, p["datasource"])
		}
		targets, _ := p["targets"].([]any)
		if len(targets) == 0 {
			t.Errorf("panel %q has no query", title)
		}
		for _, tg := range targets {
			tg := tg.(map[string]any)
			if e, _ := tg["expr"].(string); e == "" {
				t.Errorf("panel %q: target without expr", title)
			}
			if ds, _ := tg["datasource"].(map[string]any); ds["uid"] != "${datasource}" {
				t.Errorf("panel %q: target datasource %v", title, tg["datasource"])
			}
		}
	}
	if n < 8 {
		t.Errorf("%d panels", n)
	}
}

func TestRulesShape(t *testing.T) {
	rf := loadRules(t)
	if rf.APIVersion != "monitoring.coreos.com/v1" || rf.Kind != "PrometheusRule" || rf.Metadata.Name == "" {
		t.Errorf("apiVersion %q kind %q name %q", rf.APIVersion, rf.Kind, rf.Metadata.Name)
	}
	alerts := map[string]bool{}
	for _, g := range rf.Spec.Groups {
		for _, r := range g.Rules {
			where := g.Name + "/" + r.Alert + r.Record
			if (r.Alert == "") == (r.Record == "") {
				t.Errorf("%s: a rule has exactly one of alert and record", where)
			}
			if strings.TrimSpace(r.Expr) == "" {
				t.Errorf("%s: no expr", where)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", where, r.For, err)
				}
			}
			if r.Alert == "" {
				continue
			}
			alerts[r.Alert] = true
			if s := r.Labels["severity"]; s != "warning" && s != "critical" && s != "info" {
				t.Errorf("%s: severity %q", where, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs summary and description annotations", where)
			}
		}
	}
	for _, a := range []string{"CorsAuthzPolicyReloadFailing", "CorsAuthzDenialRateSpike", "CorsAuthzCheckLatencyHigh", "CorsAuthzShadowDisagreements",
		"CorsAuthzPolicyDrift", "CorsAuthzUnknownClass", "CorsAuthzEnvoyFailingOpen", "CorsAuthzEnvoyCheckErrors"} {
		if !alerts[a] {
			t.Errorf("alert %s missing", a)
		}
	}
	// Every alert has a promtool unit test in which it fires.
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	b, err := os.ReadFile("testdata/rules_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &tests); err != nil {
		t.Fatal(err)
	}
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			}
		}
	}
	for a := range alerts {
		if !fires[a] {
			t.Errorf("alert %s has no case in testdata/rules_test.yaml in which it fires", a)
		}
	}
}

// TestRulesWithPromtool runs the alert unit tests in testdata/rules_test.yaml
// (series in, alerts with their rendered annotations out) when promtool is
// installed.
func TestRulesWithPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian: apt-get install prometheus); testdata/rules_test.yaml not run")
	}
	tests, err := os.ReadFile("testdata/rules_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := promtooltest.TestRules(t, promtool, Rules, "rules_test.yaml", tests); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
}

// TestPendingMetricsStillPending fails once a pending metric is
// implemented, so that the allowlist does not outlive its reason.
func TestPendingMetricsStillPending(t *testing.T) {
	fams := registeredMetrics(t)
	root := filepath.Join("..", "..")
	for name, p := range pendingMetrics {
		if _, ok := family(fams, name); ok {
			t.Errorf("%s is exported now: delete it from pendingMetrics", name)
		}
		var found []string
		for _, dir := range []string{"pkg", "cmd"} {
			err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
					return err
				}
				b, err := os.ReadFile(path)
				if err == nil && strings.Contains(string(b), p.source) {
					found = append(found, path)
				}
				return err
			})
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
		}
		if len(found) > 0 {
			t.Errorf("%s (pending: %s) now appears in %v: register its collector in registeredMetrics and delete it from pendingMetrics",
				name, p.why, found)
		}
	}
}

// metricsDoc is where every cors_authz_* metric is documented, with its
// type and labels: the metrics table of docs/serve.md.
const metricsDoc = "../../docs/serve.md"

// TestMetricsDocumented: every cors_authz_* metric the binary exports has
// a row in the metrics table of docs/serve.md, with its type.
func TestMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // metric name → its row
	nameRE := regexp.MustCompile("`(cors_authz_[a-z0-9_]+)[`{]")
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| `cors_authz_") || len(cells) < 3 {
			continue
		}
		for _, m := range nameRE.FindAllStringSubmatch(cells[0], -1) { // a row may name several metrics
			rows[m[1]] = line
		}
	}
	fams := registeredMetrics(t)
	var names []string
	for name := range fams {
		if strings.HasPrefix(name, "cors_authz_") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) < 12 {
		t.Fatalf("only %d cors_authz_* families gathered: %v", len(names), names)
	}
	for _, name := range names {
		row, ok := rows[name]
		if !ok {
			t.Errorf("%s is exported but has no row in the metrics table of %s", name, metricsDoc)
			continue
		}
		typ := strings.ToLower(fams[name].GetType().String())
		if !strings.Contains(row, "| "+typ+" |") {
			t.Errorf("%s: its row in %s does not say %q:\n%s", name, metricsDoc, typ, row)
		}
		for l := range labelValues(fams[name]) {
			if !strings.Contains(row, l) {
				t.Errorf("%s: its row in %s does not name label %q", name, metricsDoc, l)
			}
		}
	}
}
