package reload

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// maxDebounceFactor bounds how long a continuous stream of events can delay
// a load: at most maxDebounceFactor × Debounce after the first event.
const maxDebounceFactor = 10

// Start begins watching the file and returns once the watch is set up; it
// runs until Close. It watches the file's DIRECTORY, not the file, because
// the ways a file gets replaced are directory events: an editor's or
// `mv`'s write-and-rename creates a new inode under the same name, and a
// Kubernetes ConfigMap volume swaps a `..data` symlink that the file's own
// symlink points through. Symlinks are re-resolved after every event and the
// final target's directory is watched as well. If no event watch can be
// set up, Start falls back to polling (Options.Poll, else DefaultPoll).
func (w *Watcher) Start() error {
	if w.stop != nil {
		return errors.New("reload: watcher already started")
	}
	abs, err := filepath.Abs(w.opts.Path)
	if err != nil {
		return err
	}
	poll := w.opts.Poll
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		fsw = nil
		if poll == 0 {
			poll = DefaultPoll
		}
		w.log.Warn("cannot watch the policy directory; polling instead", "error", err.Error(), "every", poll.String())
	}
	l := &loop{w: w, path: abs, fsw: fsw, dirs: map[string]bool{}, dirMode: w.dir != nil}
	if fsw != nil && !l.rewatch() && poll == 0 {
		poll = DefaultPoll
		w.log.Warn("cannot watch the policy directory yet; polling until it can be watched", "every", poll.String())
	}
	w.stop = make(chan struct{})
	w.done = make(chan struct{})
	go l.run(poll)
	w.log.Info("watching policy file", "events", fsw != nil, "poll", poll.String(), "sighup", w.opts.Signals != nil)
	return nil
}

// Close stops the watch and waits for it to end. It is safe to call more
// than once, and without Start.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() {
		if w.stop == nil {
			return
		}
		close(w.stop)
		<-w.done
	})
	return nil
}

// loop is the state of the goroutine Start runs; only it touches loop.
type loop struct {
	w      *Watcher
	path   string            // absolute, as configured (may be a symlink)
	target string            // path with symlinks resolved, "" if unresolvable
	fsw    *fsnotify.Watcher // nil when events are unavailable
	dirs   map[string]bool   // directories being watched

	dirMode bool // path is a policy directory: watch it, not its parent
}

func (l *loop) run(poll time.Duration) {
	defer close(l.w.done)
	var events <-chan fsnotify.Event
	var errs <-chan error
	if l.fsw != nil {
		defer l.fsw.Close()
		events, errs = l.fsw.Events, l.fsw.Errors
	}
	var pollC <-chan time.Time
	if poll > 0 {
		t := time.NewTicker(poll)
		defer t.Stop()
		pollC = t.C
	}
	debounce := l.w.opts.Debounce
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var pendingSince time.Time // zero when no load is pending
	arm := func() {
		now := time.Now()
		if pendingSince.IsZero() {
			pendingSince = now
		} else if now.Sub(pendingSince) >= maxDebounceFactor*debounce {
			return // let the armed timer fire: events must not starve loads
		}
		timer.Reset(debounce)
	}
	signals := l.w.opts.Signals
	for {
		select {
		case <-l.w.stop:
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if l.relevant(ev) {
				arm()
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// An overflowed queue may have dropped the event that mattered.
			l.w.log.Warn("policy watch error; re-reading the file", "error", err.Error())
			arm()
		case <-timer.C:
			pendingSince = time.Time{}
			_ = l.w.load("file event", false)
			l.rewatch()
		case sig, ok := <-signals:
			if !ok {
				signals = nil
				continue
			}
			_ = l.w.load("signal "+sig.String(), false)
			l.rewatch()
		case <-pollC:
			_ = l.w.load("poll", true)
			l.rewatch()
		}
	}
}

// relevant reports whether ev may have changed what l.path resolves to or
// its content. Events on unrelated files in the same directory are
// ignored, as are attribute-only changes.
func (l *loop) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	name := filepath.Clean(ev.Name)
	if l.dirMode {
		return relevantInDir(l.path, name) || l.target != "" && relevantInDir(l.target, name)
	}
	switch {
	case name == l.path, name == l.target:
		return true
	case strings.HasPrefix(filepath.Base(name), ".."):
		// Kubernetes' atomic writer: ..data, ..data_tmp, ..2026_01_02_...
		return true
	}
	return false
}

// rewatch resolves the path's symlinks again and watches the directories
// of the path and of its final target, dropping directories no longer
// needed. It reports whether the path's own directory is watched.
func (l *loop) rewatch() bool {
	if l.fsw == nil {
		return false
	}
	own := filepath.Dir(l.path)
	if l.dirMode {
		own = l.path // a policy directory: the events are inside it
	}
	want := map[string]bool{own: true}
	l.target = ""
	if t, err := filepath.EvalSymlinks(l.path); err == nil {
		if t, err = filepath.Abs(t); err == nil {
			l.target = t
			if l.dirMode {
				want[t] = true
			} else {
				want[filepath.Dir(t)] = true
			}
		}
	}
	for d := range l.dirs {
		if !want[d] {
			_ = l.fsw.Remove(d) // fails harmlessly if the directory is gone
			delete(l.dirs, d)
		}
	}
	for d := range want {
		if l.dirs[d] && watching(l.fsw, d) {
			continue
		}
		if err := l.fsw.Add(d); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				l.w.log.Warn("cannot watch directory", "dir", d, "error", err.Error())
			}
			delete(l.dirs, d)
			continue
		}
		l.dirs[d] = true
	}
	return l.dirs[own]
}

// watching reports whether the kernel still watches dir (a deleted
// directory's watch disappears with it).
func watching(fsw *fsnotify.Watcher, dir string) bool {
	for _, d := range fsw.WatchList() {
		if d == dir {
			return true
		}
	}
	return false
}
