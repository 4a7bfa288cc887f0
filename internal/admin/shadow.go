package admin

import (
	"log/slog"
	"net/http"

	"github.com/cors-authz/cors-authz/pkg/check"
)

// ShadowState is the shadow policy (serve --shadow-config) and what it has
// disagreed on with the enforced one.
type ShadowState struct {
	State
	// Checks is the number of Checks decided under this shadow policy.
	Checks uint64
	// Disagreements counts, per enforced class and kind, the Checks on
	// which this shadow policy disagreed with the enforced one since it
	// was loaded.
	Disagreements []check.Disagreement
}

// ShadowView is the JSON body of GET /shadow: the PolicyView of the shadow
// policy plus its counts.
type ShadowView struct {
	PolicyView
	Checks        uint64               `json:"checks"`
	Disagreements []check.Disagreement `json:"disagreements"`
}

// NewShadowView builds the /shadow view of s, or returns false when no
// shadow policy is loaded.
func NewShadowView(s ShadowState) (ShadowView, bool) {
	pv, ok := NewPolicyView(s.State)
	if !ok {
		return ShadowView{}, false
	}
	v := ShadowView{PolicyView: pv, Checks: s.Checks, Disagreements: s.Disagreements}
	if v.Disagreements == nil {
		v.Disagreements = []check.Disagreement{}
	}
	return v, true
}

func shadowHandler(state func() ShadowState, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		st := state()
		v, ok := NewShadowView(st)
		if !ok {
			body := map[string]any{"error": "no shadow policy (serve --shadow-config FILE)"}
			if st.Reload != nil && st.Reload.LastError != nil {
				body["last_reload_error"] = st.Reload.LastError
			}
			writeJSON(w, http.StatusNotFound, body, log)
			return
		}
		writeJSON(w, http.StatusOK, v, log)
	})
}
