package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cors-authz/cors-authz/internal/methods"
	"github.com/cors-authz/cors-authz/internal/origin"
)

// FragmentDoc is a fragment file (version 1): a team's additions to
// classes the base policy delegates. docs/policy.md (Delegation) documents
// every key.
type FragmentDoc struct {
	Version int         `json:"version"`
	Extend  []Extension `json:"extend"`
}

// Extension is one entry of a fragment's extend list: what the fragment
// adds to one delegated class, for the origins it grants.
type Extension struct {
	Class         string   `json:"class"`
	AllowOrigins  []string `json:"allow_origins"`
	AllowMethods  []string `json:"allow_methods,omitempty"`
	AllowHeaders  []string `json:"allow_headers,omitempty"`
	ExposeHeaders []string `json:"expose_headers,omitempty"`

	Line int `json:"-"`

	patterns []origin.Pattern
}

// Fragment is a validated fragment file: checked against the guardrails of
// the base policy it was parsed with. It is immutable.
type Fragment struct {
	name   string
	digest string
	base   string // digest of the base policy it was validated against
	doc    FragmentDoc
}

// Name is the name the fragment was parsed under (its file).
func (f *Fragment) Name() string { return f.name }

// SHA256 is the hex SHA-256 of the fragment file's bytes.
func (f *Fragment) SHA256() string { return f.digest }

// Doc returns the normalised fragment. Callers must not modify it.
func (f *Fragment) Doc() *FragmentDoc { return &f.doc }

// ParseFragment validates a fragment file against base's guardrails. name
// is used in error positions. On failure the error is an *Error listing
// every problem, each with its line and, for an out-of-bounds addition,
// the guardrail it breaks; warnings are returned in either case. base is
// the base policy (a policy with fragments merged works too: only its
// document is read).
func ParseFragment(base *Policy, name string, data []byte) (*Fragment, []Issue, error) {
	doc, warns, err := decodeFragment(base, name, data)
	if err != nil {
		return nil, warns, err
	}
	sum := sha256.Sum256(data)
	return &Fragment{name: name, digest: hex.EncodeToString(sum[:]), base: base.Base().digest, doc: doc}, warns, nil
}

// Keys a fragment may not set, with why: they reshape the policy, which
// the base owns.
var (
	fragmentForbiddenTop = map[string]string{
		"classes":      "fragments cannot add or reorder classes; list additions to delegated classes under extend",
		"self_origins": "self origins belong to the base policy",
	}
	extensionKeys          = []string{"class", "allow_origins", "allow_methods", "allow_headers", "expose_headers"}
	extensionForbiddenKeys = []string{"name", "match", "allow_credentials", "max_age", "allow_private_network",
		"deny_action", "dangerously_allow_insecure_origins", "delegate"}
)

func decodeFragment(base *Policy, file string, data []byte) (FragmentDoc, []Issue, error) {
	return decodeFile(file, data, "empty fragment: expected a mapping with version and extend", func(d *decoder, n *yaml.Node) FragmentDoc {
		return (&fragmentDecoder{decoder: d, base: base.Base()}).document(n)
	})
}

type fragmentDecoder struct {
	*decoder
	base *Policy
}

func (d *fragmentDecoder) document(n *yaml.Node) FragmentDoc {
	var doc FragmentDoc
	var versionSeen bool
	var extendNode *yaml.Node
	d.strictFields(n, "", []string{"version", "extend"}, func(k string) string { return fragmentForbiddenTop[k] }, func(key string, k, v *yaml.Node) {
		switch key {
		case "version":
			versionSeen = true
			doc.Version = d.version(v)
		case "extend":
			extendNode = v
		}
	})
	if n.Kind != yaml.MappingNode {
		return doc
	}
	if !versionSeen {
		d.errorf(n, "version", "", "missing: the first line of a fragment is \"version: 1\"")
	}
	if extendNode == nil || extendNode.Kind == yaml.ScalarNode && extendNode.Tag == "!!null" {
		d.warnf(n, "extend", "", "the fragment extends no class: it grants nothing")
		return doc
	}
	doc.Extend = entries(d.decoder, extendNode, "extend", "class extensions", "class", "class extended twice in this fragment (first at line %d); merge the entries",
		func(en *yaml.Node, path string) (Extension, string) {
			e := d.extension(en, path)
			return e, e.Class
		})
	return doc
}

func (d *fragmentDecoder) extension(n *yaml.Node, path string) Extension {
	e := Extension{Line: n.Line}
	var classNode, originsKey *yaml.Node
	var originNodes []*yaml.Node
	lists := accessLists{methods: &e.AllowMethods, headers: &e.AllowHeaders, expose: &e.ExposeHeaders}
	forbidden := func(k string) string {
		if contains(extensionForbiddenKeys, k) {
			return fmt.Sprintf("a fragment cannot set %s: the base policy owns it (fragments add origins, methods and headers only)", k)
		}
		return ""
	}
	d.strictFields(n, path, extensionKeys, forbidden, func(key string, k, v *yaml.Node) {
		p := joinPath(path, key)
		if d.accessList(&lists, key, v, p) {
			return
		}
		switch key {
		case "class":
			classNode = v
			e.Class = d.str(v, p)
		case "allow_origins":
			originsKey = k
			e.AllowOrigins, originNodes = d.stringList(v, p)
		}
	})
	if n.Kind != yaml.MappingNode {
		return e
	}
	if classNode == nil {
		d.errorf(n, path+".class", "", "missing: name the delegated class this entry extends")
		return e
	}
	if e.Class == "" {
		return e
	}
	cs := d.base.spec.class(e.Class)
	switch {
	case cs == nil:
		d.errorf(classNode, path+".class", e.Class, "no such class in the base policy %s", d.base.source)
		return e
	case cs.Delegate == nil:
		d.errorf(classNode, path+".class", e.Class, "class is not delegated: the base policy %s (line %d) has no delegate key for it", d.base.source, cs.Line)
		return e
	}
	ds := cs.Delegate
	if len(e.AllowOrigins) == 0 && (len(e.AllowMethods)+len(e.AllowHeaders)+len(e.ExposeHeaders) > 0) {
		d.errorf(n, path+".allow_origins", "", "additions apply to the origins this fragment grants, and it grants none; add allow_origins")
	}
	if len(e.AllowOrigins) > ds.MaxOrigins {
		d.errorf(originsKey, path+".allow_origins", "", "%d origins: outside %s: at most %d per fragment",
			len(e.AllowOrigins), ds.guardrail(d.base.source, e.Class, "max_origins"), ds.MaxOrigins)
	}
	d.origins(&e, cs, originNodes, path+".allow_origins")
	d.additions(&e, cs, lists.methodNodes, lists.headerNodes, lists.exposeNodes, path)
	return e
}

// origins checks each granted origin like a class's allow_origins entry,
// then against the class's guardrails.
func (d *fragmentDecoder) origins(e *Extension, cs *ClassSpec, nodes []*yaml.Node, list string) {
	ds := cs.Delegate
	src := d.base.source
	e.patterns = make([]origin.Pattern, 0, len(e.AllowOrigins))
	seen := make(map[string]int, len(e.AllowOrigins))
	ps := make([]originPattern, 0, len(e.AllowOrigins))
	for i, raw := range e.AllowOrigins {
		pat, canon := d.origin(nodes[i], list, i, raw)
		if pat == nil {
			continue
		}
		n, at := nodes[i], elemPath(list, i)
		ok := true
		if pat.OnPublicSuffix() {
			d.errorf(n, at, raw, "wildcard on a public suffix: anyone can register a subdomain of %q", pat.Host)
			ok = false
		}
		if !contains(ds.OriginSchemes, pat.Scheme) {
			d.errorf(n, at, raw, "outside %s: scheme %q is not one of %s", ds.guardrail(src, cs.Name, "origin_schemes"), pat.Scheme, strings.Join(ds.OriginSchemes, ", "))
			ok = false
		}
		if pat.Wildcard && !ds.AllowWildcards {
			d.errorf(n, at, raw, "outside %s: this class accepts exact origins only from fragments", ds.guardrail(src, cs.Name, "allow_wildcards"))
			ok = false
		}
		if !ds.underDomains(pat) {
			d.errorf(n, at, raw, "outside %s: %q is not %s", ds.guardrail(src, cs.Name, "origin_domains"), pat.Host, domainsText(ds.OriginDomains))
			ok = false
		}
		if cs.AllowCredentials && !pat.IsSecure() && !cs.DangerouslyAllowInsecureOrigins {
			d.errorf(n, at, raw, "insecure origin in a class with allow_credentials: anyone on the network path can inject script into an http origin and read credentialed responses")
			ok = false
		}
		if !ok {
			continue
		}
		if line, dup := seen[canon]; dup {
			d.warnf(n, at, raw, "duplicate of the entry at line %d", line)
		}
		seen[canon] = n.Line
		e.AllowOrigins[i] = canon
		e.patterns = append(e.patterns, *pat)
		ps = append(ps, originPattern{*pat, n, list, i, raw})
	}
	d.coveredByWildcard(ps)
}

func domainsText(doms []string) string {
	if len(doms) == 1 {
		return fmt.Sprintf("%s or a subdomain of it", doms[0])
	}
	return fmt.Sprintf("one of %s or a subdomain of one", strings.Join(doms, ", "))
}

// additions checks added methods and headers against the class's ceilings.
// What the base class already grants, or what is always allowed, is not
// an addition and is accepted with a warning.
func (d *fragmentDecoder) additions(e *Extension, cs *ClassSpec, mNodes, hNodes, xNodes []*yaml.Node, path string) {
	ds := cs.Delegate
	src := d.base.source
	for i, m := range e.AllowMethods {
		at := elemPath(path+".allow_methods", i)
		switch {
		case contains(cs.AllowMethods, m), methods.Safelisted(m):
			d.warnf(mNodes[i], at, m, "already allowed for every origin of the class")
		case !contains(ds.AllowMethods, m):
			d.errorf(mNodes[i], at, m, "outside %s: %s", ds.guardrail(src, cs.Name, "allow_methods"), ceilingText(ds.AllowMethods))
		}
	}
	for i, h := range e.AllowHeaders {
		at := elemPath(path+".allow_headers", i)
		switch {
		case h != "*" && ceilingAllows(cs.AllowHeaders, h, true):
			d.warnf(hNodes[i], at, h, "already allowed for every origin of the class")
		case h == "*" && !contains(ds.AllowHeaders, "*"), !ceilingAllows(ds.AllowHeaders, h, true):
			d.errorf(hNodes[i], at, h, "outside %s: %s", ds.guardrail(src, cs.Name, "allow_headers"), ceilingText(ds.AllowHeaders))
		}
	}
	for i, h := range e.ExposeHeaders {
		at := elemPath(path+".expose_headers", i)
		switch {
		case h == "*" && cs.AllowCredentials:
			d.errorf(xNodes[i], at, h, `"*" is a literal name on credentialed responses (Fetch §3.2.6); list the headers to expose`)
		case h == "*" && !contains(ds.ExposeHeaders, "*"), !ceilingAllows(ds.ExposeHeaders, h, false):
			d.errorf(xNodes[i], at, h, "outside %s: %s", ds.guardrail(src, cs.Name, "expose_headers"), ceilingText(ds.ExposeHeaders))
		}
	}
}

func ceilingText(list []string) string {
	if len(list) == 0 {
		return "fragments may add none"
	}
	return "fragments may add only " + strings.Join(list, ", ")
}

// class returns the class spec with the given name, or nil.
func (doc *Document) class(name string) *ClassSpec {
	for i := range doc.Classes {
		if doc.Classes[i].Name == name {
			return &doc.Classes[i]
		}
	}
	return nil
}
