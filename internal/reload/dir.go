package reload

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// A Watcher whose Path is a directory serves a policy directory
// (docs/policy.md, Delegation): policy.yaml is the base policy, every other
// *.yaml a team's fragment. Each load re-validates only the files whose
// bytes changed (policy.Dir); a refused fragment is logged, counted and
// reported per file while its last good version keeps serving, and a
// refused base keeps everything as it was, as a refused policy file does.

// Files returns the state of each file of a policy directory (nil for a
// policy file): base first, then fragments in name order.
func (w *Watcher) Files() []policy.FileState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]policy.FileState(nil), w.state.Files...)
}

// loadDir is load for a policy directory; the caller holds w.mu.
func (w *Watcher) loadDir(trigger string, now time.Time) error {
	res, err := w.dir.Scan()
	w.state.Files = w.dir.Files()
	w.metrics.fileStates(w.state.Files)
	for _, is := range res.Warnings {
		w.log.Warn("policy warning", "file", is.File, "issue", is.String())
	}
	for _, st := range res.Refused {
		if st.Role == policy.RoleBase {
			continue // reported by fail below
		}
		for _, is := range st.Issues {
			w.log.Error("policy error", "file", st.File, "issue", is.String())
		}
		msg := "policy file refused; its last good version keeps serving"
		if st.ServingSHA256 == "" {
			msg = "policy file refused; it is not served"
		}
		w.log.Error(msg, "trigger", trigger, "file", st.File, "sha256", st.SHA256, "serving_sha256", st.ServingSHA256,
			"errors", len(st.Issues), "error", firstLine(st.Error))
	}
	if err != nil {
		if len(res.Validated) == 0 && w.failKey == err.Error() {
			// The same refused base (or the same read error) as at the
			// last load: already logged and counted.
			return err
		}
		w.failKey = err.Error()
		var perr *policy.Error
		var issues []policy.Issue
		if errors.As(err, &perr) {
			issues = perr.Issues
		}
		w.fail(trigger, now, err, issues)
		return err
	}
	w.failKey = ""
	if res.Changed {
		gen := w.opts.Target.SetPolicy(res.Policy)
		w.state.SHA256 = res.Policy.SHA256()
		w.state.Generation = gen
		w.state.LastSuccess = now
		w.metrics.success(now)
		w.log.Info("policy loaded", "trigger", trigger, "generation", gen, "sha256", w.state.SHA256,
			"classes", len(res.Policy.Classes()), "fragments", len(res.Policy.Fragments()),
			"validated", baseNames(res.Validated), "warnings", len(res.Warnings))
	}
	var refused []string
	var issues []policy.Issue
	for _, st := range w.state.Files {
		if st.State == policy.FileRefused {
			refused = append(refused, filepath.Base(st.File))
			issues = append(issues, st.Issues...)
		}
	}
	switch {
	case len(refused) > 0:
		// The served policy is older than the directory: say so where a
		// refused policy file is reported, and count each new refusal.
		err := fmt.Errorf("%d policy file(s) refused: %s", len(refused), strings.Join(refused, ", "))
		w.state.LastError = policy.NewReloadFailure(now, err, issues)
		if len(res.Refused) > 0 {
			w.metrics.failure()
		} else {
			w.metrics.failed.Set(1)
		}
	case w.state.LastError != nil:
		w.log.Info("every policy file loads again", "trigger", trigger, "sha256", w.state.SHA256)
		w.state.LastError = nil
		w.metrics.recovered()
	}
	return nil
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// relevantInDir reports whether an event in a policy directory may change
// what it serves: a *.yaml file, or Kubernetes' atomic-writer entries.
func relevantInDir(dir, name string) bool {
	if filepath.Dir(name) != dir {
		return name == dir
	}
	base := filepath.Base(name)
	return strings.HasPrefix(base, "..") || strings.HasSuffix(base, ".yaml")
}
