package policy

import "time"

// The policy in force and the shadow policy, as a running service reports
// them: the Check service (check.Service.Current and Shadow) fills in what
// it enforces, the file reloader its ReloadStatus, and the admin endpoints
// (/policy, /shadow, the HTML page) show the result. One model for all
// three, kept here because both the public Check service and the operator
// packages use it and neither may import the other.

// Snapshot is a policy in force: the compiled policy, its generation and
// when it was installed, and, when it comes from a watched file, the
// file's reload status. The zero Snapshot (nil Policy) means none.
type Snapshot struct {
	Policy     *Policy
	Generation uint64    // 1 for the first policy installed, +1 per change
	LoadedAt   time.Time // when it was installed
	// Reload is the status of the file the policy is reloaded from; nil
	// when it is not from a watched file (the embedded example policy, or
	// a policy an embedder sets itself).
	Reload *ReloadStatus
}

// Shadow is the shadow policy (decided on every Check, never enforced) and
// what it has disagreed on with the enforced one. The zero Shadow (nil
// Policy) means none; its Reload may still say why a shadow file is
// refused.
type Shadow struct {
	Snapshot
	// Checks is the number of Checks decided under this shadow policy.
	Checks uint64
	// Disagreements counts, per enforced class and kind, the Checks on
	// which this shadow policy disagreed with the enforced one since it
	// was installed.
	Disagreements []Disagreement
}

// Disagreement is one count of Shadow: Checks of one enforced class whose
// shadow verdict differed in one way (CompareVerdicts).
type Disagreement struct {
	Class string           `json:"class"` // the enforced class
	Kind  DisagreementKind `json:"kind"`  // would_allow, would_deny or headers_differ
	Count uint64           `json:"count"`
}

// ReloadStatus is what the reloader of a policy file has done so far.
type ReloadStatus struct {
	Path        string    `json:"path"`
	SHA256      string    `json:"sha256,omitempty"`     // of the file being served
	Generation  uint64    `json:"generation,omitempty"` // the service's, for the file being served
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	// LastError is the failure of the latest load, or nil when it
	// succeeded (or found the file unchanged).
	LastError *ReloadFailure `json:"last_error,omitempty"`
	// Files is the state of each file when Path is a policy directory
	// (base first, then fragments in name order); nil for a policy file.
	Files []FileState `json:"files,omitempty"`
}

// ReloadFailure describes a load that was refused.
type ReloadFailure struct {
	At      time.Time `json:"at"`
	Message string    `json:"message"`
	// Issues lists every problem in the file (each with file:line) when
	// the file was read but refused; empty when it could not be read.
	Issues []Issue `json:"issues,omitempty"`

	err error
}

// NewReloadFailure records that a load at time at failed with err; issues
// are the file's problems, when it was read.
func NewReloadFailure(at time.Time, err error, issues []Issue) *ReloadFailure {
	return &ReloadFailure{At: at, Message: err.Error(), Issues: issues, err: err}
}

// Err is the error the load returned (nil for a ReloadFailure not made by
// NewReloadFailure).
func (f *ReloadFailure) Err() error { return f.err }
