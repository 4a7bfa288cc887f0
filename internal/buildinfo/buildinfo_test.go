package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name    string
		version string
		bi      *debug.BuildInfo
		want    Info
	}{
		{"no build info", "", nil, Info{"dev", Unknown, runtime.Version()}},
		{"stamped, no build info", "v1.2.3", nil, Info{"v1.2.3", Unknown, runtime.Version()}},
		{"repository build", "dev",
			&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: vcs("abc123", "false")},
			Info{"dev", "abc123", "go1.26.0"}},
		{"modified tree", "",
			&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: vcs("abc123", "true")},
			Info{"dev", "abc123-dirty", "go1.26.0"}},
		{"go install module@version", "dev",
			&debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v0.4.0"}},
			Info{"v0.4.0", Unknown, "go1.26.1"}},
		{"link-time version wins", "v9.9.9",
			&debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v0.4.0"}, Settings: vcs("def456", "false")},
			Info{"v9.9.9", "def456", "go1.26.1"}},
		{"-buildvcs=false", "v1.0.0",
			&debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}},
			Info{"v1.0.0", Unknown, "go1.26.1"}},
	}
	for _, tt := range tests {
		if got := fromBuildInfo(tt.version, tt.bi); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestReadRunningBinary(t *testing.T) {
	info := Read("")
	if info.Version == "" || info.Revision == "" || !strings.HasPrefix(info.GoVersion, "go") {
		t.Errorf("Read: %+v", info)
	}
}

func TestCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(Info{"v1.2.3", "abc123", "go1.26.0"}.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != MetricName || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v", mfs)
	}
	m := mfs[0].GetMetric()[0]
	got := map[string]string{}
	for _, lp := range m.GetLabel() {
		got[lp.GetName()] = lp.GetValue()
	}
	want := map[string]string{"version": "v1.2.3", "revision": "abc123", "goversion": "go1.26.0"}
	if len(got) != len(want) || m.GetGauge().GetValue() != 1 {
		t.Errorf("%s = %v %v, want %v 1", MetricName, got, m.GetGauge().GetValue(), want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q", k, got[k], v)
		}
	}
}
