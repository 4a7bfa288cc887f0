package admin

import (
	"log/slog"
	"net/http"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// shadowView is the JSON body of GET /shadow: the /policy view of the
// shadow policy plus its counts.
type shadowView struct {
	policyView
	Checks        uint64                `json:"checks"`
	Disagreements []policy.Disagreement `json:"disagreements"`
}

// newShadowView builds the /shadow view of s, or returns false when no
// shadow policy is loaded.
func newShadowView(s policy.Shadow) (shadowView, bool) {
	pv, ok := newPolicyView(s.Snapshot)
	if !ok {
		return shadowView{}, false
	}
	v := shadowView{policyView: pv, Checks: s.Checks, Disagreements: s.Disagreements}
	if v.Disagreements == nil {
		v.Disagreements = []policy.Disagreement{}
	}
	return v, true
}

func shadowHandler(state func() policy.Shadow, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		st := state()
		v, ok := newShadowView(st)
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
