// Package buildinfo identifies the running build: its version, the VCS
// revision it was built from and the Go toolchain, as `cors-authz version`
// prints them and cors_authz_build_info exports them.
package buildinfo

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Unknown is the value of a field the build did not record (a binary built
// without VCS stamping, e.g. -buildvcs=false or outside a repository).
const Unknown = "unknown"

// Info is what identifies a build.
type Info struct {
	Version   string // the release (-ldflags -X main.version), else the module version, else "dev"
	Revision  string // the VCS revision, "-dirty" appended for a modified tree; Unknown if not stamped
	GoVersion string // the toolchain, e.g. go1.26.0
}

// Read returns the running binary's Info. version is the version stamped
// at link time (main.version; "" or "dev" when not stamped).
func Read(version string) Info {
	bi, _ := debug.ReadBuildInfo() // nil when the binary has none
	return fromBuildInfo(version, bi)
}

// fromBuildInfo is Read over a given debug.BuildInfo (nil: none).
func fromBuildInfo(version string, bi *debug.BuildInfo) Info {
	info := Info{Version: version, Revision: Unknown, GoVersion: runtime.Version()}
	if bi != nil {
		info.read(bi)
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	return info
}

// read fills info from the build's record.
func (info *Info) read(bi *debug.BuildInfo) {
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	// A module version exists for `go install module@version` builds;
	// builds inside the repository report "(devel)".
	if (info.Version == "" || info.Version == "dev") && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if s.Value != "" {
				info.Revision = s.Value
			}
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && info.Revision != Unknown {
		info.Revision += "-dirty"
	}
}

// MetricName is the name of the build-identity gauge.
const MetricName = "cors_authz_build_info"

// Collector returns the cors_authz_build_info gauge: always 1, with the
// build's version, revision and goversion as labels, so dashboards can
// join it to any other series of the same target.
func (i Info) Collector() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: MetricName,
		Help: "Always 1; labels identify the running build: version, revision (VCS, -dirty when modified) and goversion.",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(i.Version, i.Revision, i.GoVersion).Set(1)
	return g
}
