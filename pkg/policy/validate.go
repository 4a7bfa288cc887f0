package policy

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cors-authz/cors-authz/internal/headers"
	"github.com/cors-authz/cors-authz/internal/methods"
	"github.com/cors-authz/cors-authz/internal/origin"
)

// originPattern is a parsed allowlist entry with where it was written.
type originPattern struct {
	origin.Pattern
	node *yaml.Node
	list string // e.g. classes[0].allow_origins
	i    int
	raw  string
}

func (o *originPattern) path() string { return elemPath(o.list, o.i) }

// elemPath names element i of a list; it is built only when reported, as
// allowlists can hold 100,000 entries.
func elemPath(list string, i int) string { return list + "[" + strconv.Itoa(i) + "]" }

// origin parses entry i of an allowlist or of self_origins; it reports
// errors and normalisation warnings and returns nil when the entry is
// refused. canon is the canonical spelling: raw itself unless normalised.
func (d *decoder) origin(n *yaml.Node, list string, i int, raw string) (p *origin.Pattern, canon string) {
	pat, notes, err := origin.ParsePattern(raw)
	if err != nil {
		d.errorf(n, elemPath(list, i), raw, "%v", err)
		return nil, ""
	}
	if len(notes) == 0 {
		return &pat, raw // ParsePattern notes every change it makes
	}
	canon = pat.String()
	d.warnf(n, elemPath(list, i), raw, "normalised to %q (%s)", canon, strings.Join(notes, "; "))
	return &pat, canon
}

// coveredByWildcard warns about exact entries a wildcard entry already
// allows.
func (d *decoder) coveredByWildcard(ps []originPattern) {
	var set origin.Set
	for _, p := range ps {
		if p.Wildcard {
			set.Add(p.Pattern)
		}
	}
	if set.Len() == 0 {
		return
	}
	for i := range ps {
		p := &ps[i]
		if p.Wildcard {
			continue
		}
		s := p.String()
		if o, ok := origin.Parse(s); ok && set.Contains(s, o) {
			d.warnf(p.node, p.path(), p.raw, "already allowed by a wildcard entry")
		}
	}
}

func (d *decoder) methods(list []string, nodes []*yaml.Node, path string) {
	for i, m := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case m == "*":
			d.errorf(nodes[i], p, m, `"*" is not supported: list the methods`)
		case !headers.IsToken(m):
			d.errorf(nodes[i], p, m, "not a valid method name (RFC 9110 token)")
		case methods.Forbidden(m):
			d.errorf(nodes[i], p, m, "forbidden method (Fetch §2.2.1): browsers never send it")
		default:
			if up, bad := methods.Misspelled(m); bad {
				d.errorf(nodes[i], p, m, "methods are case-sensitive and browsers send %q; write %q", up, up)
			} else if methods.SentAsWritten(m) {
				// Fetch §2.2.1 "normalize" leaves every method other than
				// DELETE, GET, HEAD, OPTIONS, POST and PUT as the script wrote it.
				d.warnf(nodes[i], p, m, "methods are case-sensitive: this allows only scripts that send exactly %q (fetch(url, {method: %q})), not %q", m, m, strings.ToUpper(m))
			}
		}
	}
}

func (d *decoder) requestHeaders(list []string, nodes []*yaml.Node, path string) {
	for i, h := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		low := strings.ToLower(h)
		switch {
		case h == "*":
		case !headers.IsToken(h):
			d.errorf(nodes[i], p, h, "not a valid header name (RFC 9110 token)")
		case headers.IsForbiddenRequestHeader(low):
			d.errorf(nodes[i], p, h, "forbidden request-header name (Fetch §2.2.2): scripts cannot set it")
		case headers.IsCORSResponseHeader(low):
			d.errorf(nodes[i], p, h, "a CORS response header never appears in a request")
		case len(h) > headers.MaxNameLen:
			// The ACRH check bounds each requested name (headers.MaxNameLen)
			// and treats a longer one as unlisted: the entry can never match.
			d.warnf(nodes[i], p, h, "longer than %d bytes: a preflight asking for it is always refused (only \"*\" covers such a name); shorten it or drop it", headers.MaxNameLen)
		}
	}
}

func (d *decoder) responseHeaders(list []string, nodes []*yaml.Node, path string) {
	for i, h := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		low := strings.ToLower(h)
		switch {
		case h == "*":
		case !headers.IsToken(h):
			d.errorf(nodes[i], p, h, "not a valid header name (RFC 9110 token)")
		case low == "set-cookie" || low == "set-cookie2":
			d.errorf(nodes[i], p, h, "forbidden response-header name (Fetch §2.2.2): browsers never expose it")
		case strings.HasPrefix(low, "access-control-"):
			d.errorf(nodes[i], p, h, "CORS protocol headers are not exposed to scripts")
		}
	}
}

// accessLists points at the allow_methods, allow_headers and expose_headers
// lists of a class, a delegate ceiling or a fragment extension: the keys all
// three share, decoded and checked by the same rules. The entries' nodes are
// kept for checks made after the whole mapping is read.
type accessLists struct {
	methods, headers, expose              *[]string
	methodNodes, headerNodes, exposeNodes []*yaml.Node
}

// accessList decodes v into the list key names and reports whether key is
// one of the three lists.
func (d *decoder) accessList(l *accessLists, key string, v *yaml.Node, path string) bool {
	switch key {
	case "allow_methods":
		*l.methods, l.methodNodes = d.stringList(v, path)
		d.methods(*l.methods, l.methodNodes, path)
	case "allow_headers":
		*l.headers, l.headerNodes = d.stringList(v, path)
		d.requestHeaders(*l.headers, l.headerNodes, path)
	case "expose_headers":
		*l.expose, l.exposeNodes = d.stringList(v, path)
		d.responseHeaders(*l.expose, l.exposeNodes, path)
	default:
		return false
	}
	return true
}
