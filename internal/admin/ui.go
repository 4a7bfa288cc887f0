package admin

import (
	"bytes"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cors-authz/cors-authz/internal/explain"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// The admin page: server-rendered HTML from html/template, with its
// templates (and inline CSS) embedded in the binary. There is no script:
// the "Try a request" form is a plain GET form to /explain?format=html, so
// the page works with JavaScript off and never changes state. Every value
// shown passes through html/template's contextual escaping; nothing is
// marked template.HTML.
//
//go:embed ui/*.html
var uiFS embed.FS

var (
	overviewTmpl = parseUI("ui/base.html", "ui/parts.html", "ui/overview.html")
	explainTmpl  = parseUI("ui/base.html", "ui/parts.html", "ui/explain.html")
)

func parseUI(files ...string) *template.Template {
	return template.Must(template.New("base.html").Funcs(template.FuncMap{
		"utc": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format(time.RFC3339)
		},
		"list": func(s []string) string { return strings.Join(s, ", ") },
	}).ParseFS(uiFS, files...))
}

// uiSecurityHeaders are set on every HTML answer: no script, style or
// resource from anywhere (inline CSS only), forms post only to this
// server, never framed, never sniffed, no referrer leaves the page.
var uiSecurityHeaders = [][2]string{
	{"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Frame-Options", "DENY"},
	{"Cache-Control", "no-store"},
}

// maxOriginsShown bounds the origins listed per class; the rest are
// counted (the full list is in /policy).
const maxOriginsShown = 200

// page is what the templates render.
type page struct {
	Title    string
	Enforced *panel // nil before a policy is loaded
	Shadow   *panel // nil without a shadow policy
	Counts   *countTable
	Form     form
	Result   *result // the explain page only
	Error    string  // a refused explain query
}

// panel is one policy, class by class.
type panel struct {
	Name    string // "enforced" or "shadow"
	View    policyView
	Classes []classView
	pol     *policy.Policy
}

type classView struct {
	Pos int // 1-based, the order in which classes are tried
	policy.ClassSpec
	Origins     []string
	MoreOrigins int
	Fragments   []fragmentOrigins // what each fragment grants in a delegated class
}

// fragmentOrigins is one fragment's extension of a class, as shown.
type fragmentOrigins struct {
	File        string
	Origins     []string
	MoreOrigins int
	Additions   []string // methods, then request headers, then exposed headers
}

// countTable is the shadow disagreements, one row per enforced class.
type countTable struct {
	Checks uint64
	Kinds  []policy.DisagreementKind
	Rows   []countRow
	Total  uint64
}

type countRow struct {
	Class  string
	Counts []uint64
}

// form is the "Try a request" form's values.
type form struct {
	Origin, Method, Path, Host, Scheme, Headers, Class string
	Shadow                                             bool // a shadow policy exists
}

// result is an explained request: under the enforced policy, and under
// the shadow one when there is one.
type result struct {
	Request  policy.Request
	Enforced explain.Explanation
	Shadow   *explain.Explanation
	// Agreement compares them (policy.CompareVerdicts), in the words of
	// the disagreement metric, except that policy.Agree reads "agrees":
	// "agrees", "would_allow", "would_deny" or "headers_differ".
	Agreement string
}

func newPanel(name string, st policy.Snapshot) *panel {
	v, ok := newPolicyView(st)
	if !ok {
		return nil
	}
	p := &panel{Name: name, View: v, pol: st.Policy}
	for i, c := range v.Policy.Classes {
		cv := classView{Pos: i + 1, ClassSpec: c, Origins: c.AllowOrigins}
		if len(cv.Origins) > maxOriginsShown {
			cv.Origins, cv.MoreOrigins = cv.Origins[:maxOriginsShown], len(cv.Origins)-maxOriginsShown
		}
		if cl := st.Policy.Class(c.Name); cl != nil {
			for _, e := range cl.Extensions() {
				fo := fragmentOrigins{File: e.File, Origins: e.AllowOrigins}
				if len(fo.Origins) > maxOriginsShown {
					fo.Origins, fo.MoreOrigins = fo.Origins[:maxOriginsShown], len(fo.Origins)-maxOriginsShown
				}
				fo.Additions = append(append(append(fo.Additions, e.AllowMethods...), e.AllowHeaders...), e.ExposeHeaders...)
				cv.Fragments = append(cv.Fragments, fo)
			}
		}
		p.Classes = append(p.Classes, cv)
	}
	return p
}

func newCountTable(st policy.Shadow) *countTable {
	t := &countTable{Checks: st.Checks, Kinds: policy.DisagreementKinds()}
	row := map[string]int{}
	for _, d := range st.Disagreements {
		i, ok := row[d.Class]
		if !ok {
			i = len(t.Rows)
			row[d.Class] = i
			t.Rows = append(t.Rows, countRow{Class: d.Class, Counts: make([]uint64, len(t.Kinds))})
		}
		if k := slices.Index(t.Kinds, d.Kind); k >= 0 {
			t.Rows[i].Counts[k] += d.Count
			t.Total += d.Count
		}
	}
	return t
}

// ui serves the HTML views.
type ui struct {
	enforced func() policy.Snapshot
	shadow   func() policy.Shadow
	log      *slog.Logger
}

func (u *ui) basePage(title string) page {
	p := page{Title: title, Enforced: newPanel("enforced", u.enforced())}
	if st := u.shadow(); st.Policy != nil {
		p.Shadow = newPanel("shadow", st.Snapshot)
		p.Counts = newCountTable(st)
	}
	p.Form = form{Method: explain.DefaultMethod, Path: explain.DefaultPath, Host: explain.DefaultHost,
		Scheme: explain.DefaultScheme, Shadow: p.Shadow != nil}
	return p
}

// overview is GET /: both policies and the form.
func (u *ui) overview(w http.ResponseWriter, _ *http.Request) {
	u.render(w, http.StatusOK, overviewTmpl, u.basePage("cors-authz"))
}

// explainPage is GET /explain?format=html: the form, filled in, and the
// answer under each policy.
func (u *ui) explainPage(w http.ResponseWriter, q explainQuery, qerr error) {
	p := u.basePage("cors-authz: try a request")
	p.Form.Origin, p.Form.Method, p.Form.Path, p.Form.Host = q.Origin, q.Input.Method, q.Input.Path, q.Input.Host
	p.Form.Scheme, p.Form.Headers, p.Form.Class = q.Input.Scheme, q.HeadersText, q.Input.Class
	status := http.StatusOK
	r, err := q.Input.Request()
	switch {
	case qerr != nil:
		p.Error, status = qerr.Error(), http.StatusBadRequest
		p.Form = form{Method: explain.DefaultMethod, Path: explain.DefaultPath, Host: explain.DefaultHost,
			Scheme: explain.DefaultScheme, Shadow: p.Shadow != nil}
	case err != nil:
		p.Error, status = err.Error(), http.StatusBadRequest
	case p.Enforced == nil:
		p.Error, status = "no policy loaded", http.StatusServiceUnavailable
	default:
		res := &result{Request: r, Enforced: explain.Explain(p.Enforced.pol, r)}
		if p.Shadow != nil {
			sh := explain.Explain(p.Shadow.pol, r)
			res.Shadow, res.Agreement = &sh, agreement(&res.Enforced.Verdict, &sh.Verdict)
		}
		p.Result = res
	}
	u.render(w, status, explainTmpl, p)
}

// agreement is result.Agreement for the verdicts enf and sh.
func agreement(enf, sh *policy.Verdict) string {
	if d := policy.CompareVerdicts(enf, sh); d != policy.Agree {
		return d.String()
	}
	return "agrees"
}

// render executes t into a buffer first, so a template error becomes a
// clean 500 instead of half a page.
func (u *ui) render(w http.ResponseWriter, status int, t *template.Template, p page) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		u.log.Error("admin: render page", "error", err.Error())
		plain(w, http.StatusInternalServerError, "cannot render the page\n")
		return
	}
	h := w.Header()
	for _, kv := range uiSecurityHeaders {
		h.Set(kv[0], kv[1])
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
