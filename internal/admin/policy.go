package admin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// policyView is the JSON body of GET /policy: a policy.Snapshot as
// operators read it (docs/serve.md, "Admin HTTP endpoints", lists the
// fields; they are a public interface).
type policyView struct {
	Generation uint64    `json:"generation"`
	SHA256     string    `json:"sha256"`
	Source     string    `json:"source"`
	LoadedAt   time.Time `json:"loaded_at"`
	// LastReloadSuccess is when the watched file last loaded; absent for
	// the embedded policy.
	LastReloadSuccess time.Time `json:"last_reload_success,omitzero"`
	// LastReloadError is set while the policy file on disk is refused:
	// the policy shown is then the last good one, older than the file.
	LastReloadError *policy.ReloadFailure `json:"last_reload_error,omitempty"`
	// Policy is the normalised document being enforced (in a policy
	// directory, the base policy).
	Policy *policy.Document `json:"policy"`
	// Files is the state of each file of a policy directory: loaded or
	// refused, why, and the version serving. Absent for a policy file.
	Files []policy.FileState `json:"files,omitempty"`
	// Fragments are the fragments being served, in name order, each with
	// the origins (and additions) it grants per class: which file granted
	// an origin. Absent without fragments.
	Fragments []fragmentView `json:"fragments,omitempty"`
}

// fragmentView is one fragment being served.
type fragmentView struct {
	File   string             `json:"file"`
	SHA256 string             `json:"sha256"`
	Extend []policy.Extension `json:"extend"`
}

func fragmentViews(p *policy.Policy) []fragmentView {
	var out []fragmentView
	for _, f := range p.Fragments() {
		out = append(out, fragmentView{File: f.Name(), SHA256: f.SHA256(), Extend: f.Doc().Extend})
	}
	return out
}

// newPolicyView builds the /policy view of s, or returns false when no
// policy is loaded.
func newPolicyView(s policy.Snapshot) (policyView, bool) {
	if s.Policy == nil {
		return policyView{}, false
	}
	v := policyView{
		Generation: s.Generation,
		SHA256:     s.Policy.SHA256(),
		Source:     s.Policy.Source(),
		LoadedAt:   s.LoadedAt.UTC(),
		Policy:     s.Policy.Spec(),
		Fragments:  fragmentViews(s.Policy),
	}
	if s.Reload != nil {
		v.LastReloadSuccess = s.Reload.LastSuccess.UTC()
		v.LastReloadError = s.Reload.LastError
		v.Files = s.Reload.Files
	}
	return v, true
}

func policyHandler(state func() policy.Snapshot, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		v, ok := newPolicyView(state())
		if !ok {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "no policy loaded"}, log)
			return
		}
		writeJSON(w, http.StatusOK, v, log)
	})
}

// writeJSON writes v indented (operators read it with curl). The encoder
// escapes <, > and & so a hostile value in a policy cannot turn into markup.
func writeJSON(w http.ResponseWriter, status int, v any, log *slog.Logger) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		log.Error("admin: encode JSON", "error", err.Error())
		plain(w, http.StatusInternalServerError, "cannot encode response\n")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
