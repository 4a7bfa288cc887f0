package reload

import (
	"time"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Status is what a Watcher has done so far.
type Status struct {
	Path        string    `json:"path"`
	SHA256      string    `json:"sha256,omitempty"`     // of the file being served
	Generation  uint64    `json:"generation,omitempty"` // the target's, for the file being served
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	// LastError is the failure of the latest load, or nil when it
	// succeeded (or found the file unchanged).
	LastError *Failure `json:"last_error,omitempty"`
}

// Failure describes a load that was refused.
type Failure struct {
	At      time.Time `json:"at"`
	Message string    `json:"message"`
	// Issues lists every problem in the file (each with file:line) when
	// the file was read but refused; empty when it could not be read.
	Issues []policy.Issue `json:"issues,omitempty"`

	err error
}

// Err is the error the load returned.
func (f *Failure) Err() error { return f.err }
