// Package reload keeps a running service on the newest valid version of its
// policy file. A Watcher reads, validates and compiles the file whenever it
// may have changed (a filesystem event in its directory, SIGHUP, or a poll)
// and hands the compiled policy to its Target only when the file is valid
// and its bytes differ from the policy being served. An invalid, missing or
// unreadable file never replaces the policy being served: the failure is
// logged issue by issue, counted, and kept for the admin endpoints until a
// later reload succeeds. A policy directory (policy.yaml and team
// fragments) is kept file by file the same way (dir.go).
package reload

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Target receives each new policy. check.Service implements it.
type Target interface {
	SetPolicy(p *policy.Policy) (generation uint64)
}

// Defaults for the zero values of Options.
const (
	DefaultDebounce = 100 * time.Millisecond
	// DefaultPoll is the poll period used when inotify is unavailable and
	// Options.Poll is zero.
	DefaultPoll = 30 * time.Second
	// MaxFileSize bounds how much of the policy file is read
	// (policy.ReadFile). A policy with 100,000 origins is a few MiB.
	MaxFileSize = policy.MaxFileSize
)

// Options configures a Watcher.
type Options struct {
	// Path is the policy file, as the operator named it. It may be a
	// symbolic link (a Kubernetes ConfigMap volume makes it one).
	Path string
	// Target receives every policy that loads and differs from the last.
	Target Target
	// Logger receives reload outcomes; nil discards them.
	Logger *slog.Logger
	// Registerer, when set, registers the reload metrics.
	Registerer prometheus.Registerer
	// Debounce is how long the file must stay quiet after an event before
	// it is read, so a burst of writes (an editor, an atomic swap) loads
	// once. Zero means DefaultDebounce.
	Debounce time.Duration
	// Poll, when positive, also re-reads the file every Poll and reloads
	// it if its content changed: a fallback for filesystems that deliver
	// no events (some network and FUSE mounts). Zero disables polling
	// unless the event watch cannot be set up.
	Poll time.Duration
	// Signals, when set, triggers a reload on every value received (the
	// serve command passes a channel that signal.Notify feeds SIGHUP to).
	Signals <-chan os.Signal
}

// Watcher loads the policy file and keeps it loaded. Create it with New,
// load the first policy with Load, then Start it; Close stops it.
type Watcher struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics

	mu      sync.Mutex // serialises loads and guards state
	state   policy.ReloadStatus
	failKey string // what failed last (content digest or read error), to mute repeated polls

	dir *policy.Dir // non-nil when Path is a policy directory

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// New checks opts and registers the metrics. It does not read the file.
func New(opts Options) (*Watcher, error) {
	if opts.Path == "" {
		return nil, errors.New("reload: no policy path")
	}
	if opts.Target == nil {
		return nil, errors.New("reload: no target")
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.Poll < 0 {
		return nil, fmt.Errorf("reload: negative poll period %v", opts.Poll)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	w := &Watcher{
		opts:    opts,
		log:     log.With("policy", opts.Path),
		metrics: m,
		state:   policy.ReloadStatus{Path: opts.Path},
	}
	if policy.IsDir(opts.Path) {
		w.dir = policy.OpenDir(opts.Path)
	}
	return w, nil
}

// Status returns the outcome of the loads so far, a copy of the
// watcher's own; nil for a nil Watcher (no policy file is watched).
func (w *Watcher) Status() *policy.ReloadStatus {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.state
	s.Files = append([]policy.FileState(nil), s.Files...)
	if s.LastError != nil {
		f := *s.LastError
		f.Issues = append([]policy.Issue(nil), f.Issues...)
		s.LastError = &f
	}
	return &s
}

// Load reads the file now and, if it is valid and differs from the policy
// being served, hands it to the target. It returns the failure, if any; the
// policy being served is then unchanged. The serve command calls it once
// before serving, so a process never starts on an invalid file.
func (w *Watcher) Load() error {
	return w.load("load", false)
}

// load is every reload path. quiet mutes a failure whose file content is
// the same as the last failure's (a poll re-reading a broken file).
func (w *Watcher) load(trigger string, quiet bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	w.state.LastAttempt = now
	if w.dir != nil {
		return w.loadDir(trigger, now)
	}

	data, err := policy.ReadFile(w.opts.Path)
	if err != nil {
		if quiet && w.failKey == err.Error() {
			return err
		}
		w.failKey = err.Error()
		w.fail(trigger, now, err, nil)
		return err
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	if digest == w.state.SHA256 {
		if w.state.LastError != nil {
			// The file is back to the version being served (after it was
			// deleted, or replaced by a broken one): the failure is over.
			w.log.Info("policy file is back to the served version", "trigger", trigger, "sha256", digest)
			w.state.LastError = nil
			w.failKey = ""
			w.metrics.recovered()
		} else {
			w.log.Debug("policy file unchanged", "trigger", trigger)
		}
		return nil
	}
	if quiet && w.failKey == digest {
		return w.state.LastError.Err()
	}

	pol, warns, err := policy.Parse(w.opts.Path, data)
	if err != nil {
		var perr *policy.Error
		var issues []policy.Issue
		if errors.As(err, &perr) {
			issues = perr.Issues
		}
		w.failKey = digest
		w.fail(trigger, now, err, issues)
		return err
	}
	for _, is := range warns {
		w.log.Warn("policy warning", "issue", is.String())
	}
	gen := w.opts.Target.SetPolicy(pol)
	w.state.SHA256 = digest
	w.state.Generation = gen
	w.state.LastSuccess = now
	w.state.LastError = nil
	w.failKey = ""
	w.metrics.success(now)
	w.log.Info("policy loaded", "trigger", trigger, "generation", gen, "sha256", digest,
		"classes", len(pol.Classes()), "warnings", len(warns))
	return nil
}

// fail records a failed load; the caller holds w.mu.
func (w *Watcher) fail(trigger string, now time.Time, err error, issues []policy.Issue) {
	w.state.LastError = policy.NewReloadFailure(now, err, issues)
	w.metrics.failure()
	msg := "policy reload failed; keeping the served policy"
	if w.state.Generation == 0 {
		msg = "policy refused; no policy loaded"
	}
	if len(issues) == 0 {
		w.log.Error(msg, "trigger", trigger, "generation", w.state.Generation, "error", err.Error())
		return
	}
	for _, is := range issues {
		w.log.Error("policy error", "issue", is.String())
	}
	w.log.Error(msg, "trigger", trigger, "generation", w.state.Generation, "errors", len(issues))
}
