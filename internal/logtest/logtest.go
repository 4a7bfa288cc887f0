// Package logtest collects a cors-authz process's JSON log lines (slog's
// JSON handler: one record a line) for tests that wait for, or assert on,
// logged events such as "grpc listening"; it also serves any process or
// proxy whose output a test reads line by line, such as an access log.
package logtest

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// Lines is an io.Writer that keeps the raw text and every JSON record
// written to it. It is safe for concurrent use.
type Lines struct {
	mu      sync.Mutex
	raw     bytes.Buffer
	partial []byte
	records []map[string]any
}

// Write records complete lines; a partial line waits for its end.
func (l *Lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.raw.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		var rec map[string]any
		if json.Unmarshal(l.partial[:i], &rec) == nil {
			l.records = append(l.records, rec)
		}
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

// maxString bounds String, for failure messages of long runs.
const maxString = 64 << 10

// String is the raw text written so far (its last 64 KiB).
func (l *Lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.raw.String(); len(s) > maxString {
		return "…" + s[len(s)-maxString:]
	}
	return l.raw.String()
}

// Contains reports whether the raw text written so far, all of it,
// contains substr (e.g. a race detector's report).
func (l *Lines) Contains(substr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Contains(l.raw.Bytes(), []byte(substr))
}

// Reset forgets everything written so far.
func (l *Lines) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.raw.Reset()
	l.partial = nil
	l.records = nil
}

// WaitLine waits (at most 1 s) until the text written since the last
// Reset ends with a complete line, and returns that text; without one the
// test fails. It is for lines written after a response has gone out, such
// as a proxy's access log.
func (l *Lines) WaitLine(t testing.TB) string {
	t.Helper()
	for range 500 {
		if s := l.String(); strings.HasSuffix(s, "\n") {
			return s
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("no complete line written; have %q", l.String())
	return ""
}

// Find returns the last record whose message is msg.
func (l *Lines) Find(msg string) (map[string]any, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.records) - 1; i >= 0; i-- {
		if l.records[i]["msg"] == msg {
			return l.records[i], true
		}
	}
	return nil, false
}

// Count returns how many records have message msg.
func (l *Lines) Count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.records {
		if r["msg"] == msg {
			n++
		}
	}
	return n
}

// Index returns the position of the first record with message msg, or -1.
func (l *Lines) Index(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, r := range l.records {
		if r["msg"] == msg {
			return i
		}
	}
	return -1
}
