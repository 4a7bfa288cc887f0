package reload

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// metrics are the reload metrics. The policy generation gauge is the check
// service's (cors_authz_policy_generation): it owns the generations.
type metrics struct {
	ok, ko      prometheus.Counter
	lastSuccess prometheus.Gauge
	failed      prometheus.Gauge
	files       *fileStates
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cors_authz_policy_reloads_total",
		Help: "Policy file loads by result: success (a new policy is served) or failure (the file was refused and the previous policy kept).",
	}, []string{"result"})
	m := &metrics{
		ok: reloads.WithLabelValues("success"),
		ko: reloads.WithLabelValues("failure"),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cors_authz_policy_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last load that put a new policy in service.",
		}),
		failed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cors_authz_policy_last_reload_failed",
			Help: "1 while the policy file on disk is refused (the served policy is older than the file), else 0.",
		}),
		files: &fileStates{desc: prometheus.NewDesc("cors_authz_policy_file_state",
			"For a policy directory, 1 for each file in its current state: loaded (the version on disk serves) or refused (its last good version, if any, serves). The file label is the name within the directory.",
			[]string{"file", "state"}, nil)},
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{reloads, m.lastSuccess, m.failed, m.files} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				// Two Watchers on one registry (a shadow policy next to the
				// enforced one) must each register through
				// prometheus.WrapRegistererWith with a distinguishing label.
				return nil, errors.New("reload: metrics already registered (give each Watcher a Registerer wrapped with a distinguishing label)")
			}
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) success(at time.Time) {
	m.ok.Inc()
	m.lastSuccess.Set(float64(at.UnixNano()) / 1e9)
	m.failed.Set(0)
}

func (m *metrics) failure() {
	m.ko.Inc()
	m.failed.Set(1)
}

func (m *metrics) recovered() { m.failed.Set(0) }

// fileStates publishes the state of each file of a policy directory.
func (m *metrics) fileStates(files []policy.FileState) {
	m.files.publish(files)
}

// fileStates is cors_authz_policy_file_state: the file states of the last
// load, replaced as a whole, so that a scrape during a reload sees every
// file in exactly one state (a vector reset and refilled would show some
// files missing, or in two states).
type fileStates struct {
	desc *prometheus.Desc
	cur  atomic.Pointer[[]fileLabels]
}

type fileLabels struct{ file, state string }

// publish replaces the states.
func (fs *fileStates) publish(files []policy.FileState) {
	ls := make([]fileLabels, 0, len(files))
	seen := make(map[fileLabels]bool, len(files))
	for _, f := range files {
		l := fileLabels{labelValue(filepath.Base(f.File)), f.State}
		if !seen[l] { // a series collected twice fails the whole scrape
			seen[l] = true
			ls = append(ls, l)
		}
	}
	fs.cur.Store(&ls)
}

// labelValue is a file name as a label value, which must be valid UTF-8
// while a file name in a plain directory need not be: each invalid byte
// is written as \xNN, so distinct names keep distinct labels.
func labelValue(name string) string {
	if utf8.ValidString(name) {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); {
		r, n := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, "\\x%02x", name[i])
		} else {
			b.WriteString(name[i : i+n])
		}
		i += n
	}
	return b.String()
}

func (fs *fileStates) Describe(ch chan<- *prometheus.Desc) { ch <- fs.desc }

func (fs *fileStates) Collect(ch chan<- prometheus.Metric) {
	ls := fs.cur.Load()
	if ls == nil {
		return
	}
	for _, l := range *ls {
		ch <- prometheus.MustNewConstMetric(fs.desc, prometheus.GaugeValue, 1, l.file, l.state)
	}
}
