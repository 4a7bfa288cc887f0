package admin

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/cors-authz/cors-authz/internal/explain"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Bounds of an /explain query. The page is for one request typed by a
// person; anything larger is refused with 400 before it is parsed.
const (
	maxExplainQuery   = 8 << 10 // bytes of the raw query string
	maxExplainHeaders = 64      // request header lines
)

// explainQuery is one parsed /explain request.
type explainQuery struct {
	Input explain.Input
	// Origin is the origin field as typed ("" when absent: no Origin).
	Origin string
	// HeadersText is the request headers, one "Name: value" per line,
	// as the form shows them again.
	HeadersText string
	Shadow      bool // policy=shadow: explain under the shadow policy
	HTML        bool // format=html
}

// explainParams are the query parameters /explain accepts.
var explainParams = map[string]bool{
	"origin": true, "method": true, "path": true, "host": true, "scheme": true,
	"header": true, "headers": true, "class": true, "policy": true, "format": true,
}

// parseExplainQuery reads an /explain query:
//
//	origin   Origin header; absent or empty: none
//	method   request method (GET)
//	path     request path, query allowed (/)
//	host     :authority (localhost)
//	scheme   request scheme (https)
//	header   a request header "Name: value"; repeatable
//	headers  request headers, one "Name: value" per line (the form's textarea)
//	class    the route's cors_class context extension
//	policy   enforced (default) or shadow
//	format   json (default) or html
func parseExplainQuery(raw string) (explainQuery, error) {
	var q explainQuery
	if len(raw) > maxExplainQuery {
		return q, fmt.Errorf("query of %d bytes: at most %d are accepted", len(raw), maxExplainQuery)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("malformed query: %v", err)
	}
	for k, v := range vals {
		if !explainParams[k] {
			return q, fmt.Errorf("unknown parameter %q (known: origin, method, path, host, scheme, header, headers, class, policy, format)", k)
		}
		if len(v) > 1 && k != "header" {
			return q, fmt.Errorf("parameter %q given %d times", k, len(v))
		}
	}
	one := func(k, def string) string {
		if v := strings.TrimSpace(vals.Get(k)); v != "" {
			return v
		}
		return def
	}
	switch p := one("policy", "enforced"); p {
	case "enforced":
	case "shadow":
		q.Shadow = true
	default:
		return q, fmt.Errorf("policy %q: want enforced or shadow", p)
	}
	switch f := one("format", "json"); f {
	case "json":
	case "html":
		q.HTML = true
	default:
		return q, fmt.Errorf("format %q: want json or html", f)
	}
	q.Input = explain.Input{
		// The defaults of `cors-authz explain`'s flags, so that the same
		// input gives the same answer.
		Method: one("method", explain.DefaultMethod),
		Path:   one("path", explain.DefaultPath),
		Host:   one("host", explain.DefaultHost),
		Scheme: one("scheme", explain.DefaultScheme),
		Class:  one("class", ""),
	}
	if q.Origin = strings.TrimSpace(vals.Get("origin")); q.Origin != "" {
		q.Input.Origin = &q.Origin
	}
	lines := vals["header"]
	for line := range strings.Lines(vals.Get("headers")) {
		lines = append(lines, line)
	}
	var shown []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if len(q.Input.Headers) == maxExplainHeaders {
			return q, fmt.Errorf("more than %d request headers", maxExplainHeaders)
		}
		q.Input.Headers = append(q.Input.Headers, l)
		shown = append(shown, l)
	}
	q.HeadersText = strings.Join(shown, "\n")
	return q, nil
}

// errNoShadow: policy=shadow without a shadow policy.
var errNoShadow = errors.New("no shadow policy (serve --shadow-config FILE)")

// explainJSON answers /explain with the explain.Explanation as JSON: the
// same document `cors-authz explain --json` prints for the same input.
func explainJSON(w http.ResponseWriter, q explainQuery, enforced func() policy.Snapshot, shadow func() policy.Shadow, log *slog.Logger) {
	st := enforced()
	if q.Shadow {
		st = shadow().Snapshot
		if st.Policy == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": errNoShadow.Error()}, log)
			return
		}
	}
	if st.Policy == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "no policy loaded"}, log)
		return
	}
	r, err := q.Input.Request()
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()}, log)
		return
	}
	writeJSON(w, http.StatusOK, explain.Explain(st.Policy, r), log)
}
