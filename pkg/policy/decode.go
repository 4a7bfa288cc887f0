package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cors-authz/cors-authz/internal/hosts"
	"github.com/cors-authz/cors-authz/internal/origin"
	"github.com/cors-authz/cors-authz/internal/paths"
)

// decoder walks the YAML node tree, so that every problem can name its
// line, and collects all problems instead of stopping at the first.
type decoder struct {
	file  string
	errs  []Issue
	warns []Issue
}

func (d *decoder) issue(n *yaml.Node, path, value, format string, args ...any) Issue {
	is := Issue{File: d.file, Path: path, Value: value, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		is.Line, is.Column = n.Line, n.Column
	}
	return is
}

func (d *decoder) errorf(n *yaml.Node, path, value, format string, args ...any) {
	d.errs = append(d.errs, d.issue(n, path, value, format, args...))
}

func (d *decoder) warnf(n *yaml.Node, path, value, format string, args ...any) {
	d.warns = append(d.warns, d.issue(n, path, value, format, args...))
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// decode parses and validates a policy document.
func decode(file string, data []byte) (Document, []Issue, error) {
	return decodeFile(file, data, "empty policy: expected a mapping with version and classes", (*decoder).document)
}

// decodeFile parses data as YAML and decodes its document with document,
// collecting every issue; an empty file is refused with empty. On any
// error the document is the zero T.
func decodeFile[T any](file string, data []byte, empty string, document func(*decoder, *yaml.Node) T) (T, []Issue, error) {
	var zero T
	d := &decoder{file: file}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return zero, nil, yamlError(file, err)
	}
	if len(root.Content) == 0 {
		return zero, nil, &Error{Issues: []Issue{{File: file, Line: 1, Msg: empty}}}
	}
	doc := document(d, root.Content[0])
	sortIssues(d.errs)
	sortIssues(d.warns)
	if len(d.errs) > 0 {
		return zero, d.warns, &Error{Issues: d.errs}
	}
	return doc, d.warns, nil
}

// yamlError turns a YAML syntax error into a one-issue *Error with the
// line the parser names.
func yamlError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	is := Issue{File: file, Msg: msg}
	if m := yamlLine.FindStringSubmatchIndex(msg); m != nil && m[0] == 0 {
		is.Line, _ = strconv.Atoi(msg[m[2]:m[3]])
		is.Msg = strings.TrimPrefix(msg[m[1]:], ": ")
	}
	return &Error{Issues: []Issue{is}}
}

func sortIssues(list []Issue) {
	slices.SortStableFunc(list, func(a, b Issue) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
}

// fields iterates a mapping node, reporting keys that are unknown or
// repeated. Known keys are handled by fn.
func (d *decoder) fields(n *yaml.Node, path string, known []string, fn func(key string, k, v *yaml.Node)) {
	d.strictFields(n, path, known, nil, fn)
}

// strictFields is fields with, when forbidden is not nil, a reason for each
// key that exists in the policy schema but is not this mapping's to set
// (forbidden returns "" for the others).
func (d *decoder) strictFields(n *yaml.Node, path string, known []string, forbidden func(string) string, fn func(key string, k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "", "expected a mapping, found %s", kindName(n))
		return
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kp := joinPath(path, k.Value)
		switch {
		case seen[k.Value]:
			d.errorf(k, kp, "", "key repeated")
		case forbidden != nil && forbidden(k.Value) != "":
			d.errorf(k, kp, "", "%s", forbidden(k.Value))
		case !contains(known, k.Value):
			d.errorf(k, kp, "", "unknown key (expected one of: %s)", strings.Join(known, ", "))
		default:
			fn(k.Value, k, v)
		}
		seen[k.Value] = true
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "an unexpected node"
}

// strings decodes a list of strings; each element's node is returned too.
func (d *decoder) stringList(n *yaml.Node, path string) ([]string, []*yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "", "expected a list of strings, found %s", kindName(n))
		return nil, nil
	}
	out := make([]string, 0, len(n.Content))
	nodes := make([]*yaml.Node, 0, len(n.Content))
	for i, e := range n.Content {
		if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
			d.errorf(e, fmt.Sprintf("%s[%d]", path, i), "", "expected a string, found %s", kindName(e))
			continue
		}
		out = append(out, e.Value)
		nodes = append(nodes, e)
	}
	return out, nodes
}

func (d *decoder) boolean(n *yaml.Node, path string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errorf(n, path, n.Value, "expected true or false")
		return false
	}
	return n.Value == "true"
}

func (d *decoder) str(n *yaml.Node, path string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, path, "", "expected a string, found %s", kindName(n))
		return ""
	}
	return n.Value
}

func (d *decoder) document(n *yaml.Node) Document {
	var doc Document
	var versionSeen bool
	var classesNode *yaml.Node
	var selfNodes []*yaml.Node
	d.fields(n, "", []string{"version", "self_origins", "classes"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "version":
			versionSeen = true
			doc.Version = d.version(v)
		case "self_origins":
			doc.SelfOrigins, selfNodes = d.stringList(v, "self_origins")
		case "classes":
			classesNode = v
		}
	})
	if n.Kind != yaml.MappingNode {
		return doc
	}
	if !versionSeen {
		d.errorf(n, "version", "", "missing: the first line of a policy is \"version: 1\"")
	}
	for i := range doc.SelfOrigins {
		p, canon := d.origin(selfNodes[i], "self_origins", i, doc.SelfOrigins[i])
		if p != nil {
			if p.Wildcard {
				d.errorf(selfNodes[i], fmt.Sprintf("self_origins[%d]", i), doc.SelfOrigins[i], "self origins are exact origins; wildcards are not allowed")
			}
			doc.SelfOrigins[i] = canon
		}
	}
	if classesNode == nil {
		d.warnf(n, "classes", "", "no classes: every cross-origin request is denied")
		return doc
	}
	haveSelf := len(doc.SelfOrigins) > 0
	doc.Classes = entries(d, classesNode, "classes", "classes", "name", "duplicate class name (first defined at line %d)",
		func(cn *yaml.Node, path string) (ClassSpec, string) {
			c := d.class(cn, path, haveSelf)
			return c, c.Name
		})
	d.unreachable(classesNode, doc.Classes)
	return doc
}

// version checks the version key of a policy or fragment: this build
// reads version 1, which it returns.
func (d *decoder) version(v *yaml.Node) int {
	if v.Kind != yaml.ScalarNode || v.Value != "1" {
		d.errorf(v, "version", v.Value, "unsupported version: this build reads version 1")
	}
	return 1
}

// entries decodes each entry of the list n (the top-level key) with
// decode, which returns the entry and the name no later entry may repeat
// ("" for none); a repeat is reported at the entry's nameKey, with dup
// given the line of the first. n must be a list of what.
func entries[T any](d *decoder, n *yaml.Node, key, what, nameKey, dup string, decode func(n *yaml.Node, path string) (T, string)) []T {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, key, "", "expected a list of %s, found %s", what, kindName(n))
		return nil
	}
	var out []T
	first := map[string]int{}
	for i, en := range n.Content {
		path := fmt.Sprintf("%s[%d]", key, i)
		e, name := decode(en, path)
		if name != "" {
			if prev, repeated := first[name]; repeated {
				d.errorf(en, path+"."+nameKey, name, dup, prev)
			} else {
				first[name] = en.Line
			}
		}
		out = append(out, e)
	}
	return out
}

// unreachable warns about classes that a catch-all class before them
// hides from match-based selection.
func (d *decoder) unreachable(n *yaml.Node, classes []ClassSpec) {
	for i, c := range classes {
		m := c.Match
		// A match without rules is an error (see match), not a catch-all.
		if len(m.Hosts) == 0 && len(m.Paths) == 0 && contains(m.PathPrefixes, "/") {
			for j := i + 1; j < len(classes); j++ {
				d.warnf(n.Content[j], fmt.Sprintf("classes[%d]", j), classes[j].Name,
					"class %q before it matches every request, so this class is chosen only through a cors_class context extension", c.Name)
			}
			return
		}
	}
}

var classKeys = []string{
	"name", "match", "allow_origins", "allow_methods", "allow_headers", "expose_headers",
	"allow_credentials", "max_age", "allow_private_network", "deny_action", "dangerously_allow_insecure_origins",
	"delegate",
}

func (d *decoder) class(n *yaml.Node, path string, haveSelf bool) ClassSpec {
	c := ClassSpec{Line: n.Line, DenyAction: DenyOmit}
	var originNodes []*yaml.Node
	lists := accessLists{methods: &c.AllowMethods, headers: &c.AllowHeaders, expose: &c.ExposeHeaders}
	var nameSeen, matchSeen bool
	var credNode, denyNode *yaml.Node
	var allowFields []*yaml.Node // keys that grant something
	d.fields(n, path, classKeys, func(key string, k, v *yaml.Node) {
		p := joinPath(path, key)
		if d.accessList(&lists, key, v, p) {
			allowFields = append(allowFields, k)
			return
		}
		switch key {
		case "name":
			nameSeen = true
			c.Name = d.str(v, p)
			if c.Name != "" && !validClassName(c.Name) {
				d.errorf(v, p, c.Name, "class names use letters, digits, '-', '_' and '.' (they are metric labels and Envoy context_extensions values)")
			}
		case "match":
			matchSeen = true
			c.Match = d.match(v, p)
		case "allow_origins":
			c.AllowOrigins, originNodes = d.stringList(v, p)
		case "allow_credentials":
			c.AllowCredentials = d.boolean(v, p)
			if c.AllowCredentials {
				credNode = v
				allowFields = append(allowFields, k)
			}
		case "max_age":
			allowFields = append(allowFields, k)
			c.MaxAge = d.maxAge(v, p)
		case "allow_private_network":
			c.AllowPrivateNetwork = d.boolean(v, p)
			if c.AllowPrivateNetwork {
				allowFields = append(allowFields, k)
			}
		case "deny_action":
			denyNode = v
			switch da := DenyAction(d.str(v, p)); da {
			case DenyOmit, DenySelfOrigin, DenyReject:
				c.DenyAction = da
			case "":
			default:
				d.errorf(v, p, v.Value, "unknown deny_action (expected omit, self_origin or reject)")
			}
		case "dangerously_allow_insecure_origins":
			c.DangerouslyAllowInsecureOrigins = d.boolean(v, p)
		case "delegate":
			c.Delegate = d.delegate(v, p)
		}
	})
	if n.Kind != yaml.MappingNode {
		return c
	}
	if !nameSeen {
		d.errorf(n, path+".name", "", "missing: every class needs a name")
	}
	if !matchSeen {
		// Default deny (SEC-13): omission never widens, so a class
		// without match rules matches nothing rather than everything.
		d.errorf(n, path+".match", "", "missing: every class needs a match (write a catch-all out: match: {path_prefixes: [/]})")
	}
	if c.DenyAction == DenySelfOrigin && !haveSelf {
		d.errorf(denyNode, path+".deny_action", "self_origin", "needs self_origins at the top of the policy")
	}
	if len(c.AllowOrigins) == 0 && len(allowFields) > 0 && c.Delegate == nil {
		k := allowFields[0]
		d.errorf(k, joinPath(path, k.Value), "", "grants access but the class has no allow_origins; add origins or remove the grant")
	}
	seen := make(map[string]int, len(c.AllowOrigins))
	c.patterns = make([]origin.Pattern, 0, len(c.AllowOrigins))
	patterns := make([]originPattern, 0, len(c.AllowOrigins))
	list := path + ".allow_origins"
	for i, raw := range c.AllowOrigins {
		pat, canon := d.origin(originNodes[i], list, i, raw)
		if pat == nil {
			continue
		}
		if line, dup := seen[canon]; dup {
			d.warnf(originNodes[i], elemPath(list, i), raw, "duplicate of the entry at line %d", line)
		}
		seen[canon] = originNodes[i].Line
		c.AllowOrigins[i] = canon
		c.patterns = append(c.patterns, *pat)
		if c.AllowCredentials && !pat.IsSecure() && !c.DangerouslyAllowInsecureOrigins {
			d.errorf(originNodes[i], elemPath(list, i), raw, "insecure origin with allow_credentials: anyone on the network path can inject script into an http origin and read credentialed responses (use https, or set dangerously_allow_insecure_origins: true)")
		}
		if pat.OnPublicSuffix() {
			d.errorf(originNodes[i], elemPath(list, i), raw, "wildcard on a public suffix: anyone can register a subdomain of %q", pat.Host)
		}
		patterns = append(patterns, originPattern{*pat, originNodes[i], list, i, raw})
	}
	d.coveredByWildcard(patterns)
	if c.AllowCredentials && contains(c.ExposeHeaders, "*") {
		d.errorf(lists.exposeNodes[indexOf(c.ExposeHeaders, "*")], path+".expose_headers", "*", `"*" is a literal name on credentialed responses (Fetch §3.2.6); list the headers to expose`)
	}
	if c.AllowCredentials && contains(c.AllowHeaders, "*") {
		d.warnf(credNode, path+".allow_headers", "*", `with credentials, browsers read "*" literally; cors-authz therefore echoes the requested names`)
	}
	if star := indexOf(c.AllowHeaders, "*"); star >= 0 && c.AllowCredentials && !containsFold(c.AllowHeaders, "authorization") {
		// Fetch §3.2.6: the wildcard never covers Authorization, which
		// credentialed API calls are the likeliest to send.
		d.warnf(lists.headerNodes[star], elemPath(path+".allow_headers", star), "*", `"*" never covers Authorization (Fetch §3.2.6), so a preflight asking for it is refused; list Authorization explicitly: allow_headers: ["*", Authorization]`)
	}
	return c
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

func indexOf(list []string, s string) int {
	for i, e := range list {
		if e == s {
			return i
		}
	}
	return -1
}

func validClassName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return len(s) <= 64
}

// match decodes a class's match rules. A match that could select every
// request by omission (null, an empty mapping, an empty list) is an error:
// a catch-all is written out as path_prefixes: [/].
func (d *decoder) match(n *yaml.Node, path string) MatchSpec {
	var m MatchSpec
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		d.errorf(n, path, "", "empty match: list hosts, path_prefixes or paths (a catch-all is written out: path_prefixes: [/])")
		return m
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 0 {
		d.errorf(n, path, "", "empty match {}: list hosts, path_prefixes or paths (a catch-all is written out: path_prefixes: [/])")
		return m
	}
	d.fields(n, path, []string{"hosts", "path_prefixes", "paths"}, func(key string, k, v *yaml.Node) {
		p := joinPath(path, key)
		if (v.Kind == yaml.SequenceNode && len(v.Content) == 0) || (v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
			d.errorf(v, p, "", "empty list: it would match every request; list entries or remove the key (a catch-all is written out: path_prefixes: [/])")
			return
		}
		var nodes []*yaml.Node
		switch key {
		case "hosts":
			m.Hosts, nodes = d.stringList(v, p)
			for i, h := range m.Hosts {
				norm, err := hosts.Normalise(h)
				if err != nil {
					d.errorf(nodes[i], fmt.Sprintf("%s[%d]", p, i), h, "%v", err)
					continue
				}
				if norm != strings.ToLower(h) {
					d.warnf(nodes[i], fmt.Sprintf("%s[%d]", p, i), h, "normalised to %q (trailing dot dropped: requests match with or without it)", norm)
				}
				m.Hosts[i] = norm
			}
		case "path_prefixes", "paths":
			var list []string
			list, nodes = d.stringList(v, p)
			for i, s := range list {
				ep := fmt.Sprintf("%s[%d]", p, i)
				if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, "?# \t") {
					d.errorf(nodes[i], ep, s, "a path starts with '/' and has no query, fragment or whitespace")
					continue
				}
				// Requests are matched on their normal form (RFC 3986
				// §6.2.2), so an entry in another spelling never matches.
				switch norm, ambiguous := paths.Normalise(s); {
				case ambiguous:
					d.errorf(nodes[i], ep, s, `a backslash, %%2F, %%5C, a bare '%%', a ";" after a dot segment or ".." after "//" means different paths to different servers; requests with one get no grant from path rules`)
				case norm != s:
					d.errorf(nodes[i], ep, s, "requests are matched on their normal form (dot segments resolved, slashes merged, unreserved escapes decoded, hex in upper case); write %q", norm)
				}
			}
			if key == "paths" {
				m.Paths = list
			} else {
				m.PathPrefixes = list
			}
		}
	})
	return m
}

// maxAge accepts a Go duration ("10m") or whole seconds (600).
func (d *decoder) maxAge(n *yaml.Node, path string) *int {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, path, "", "expected a duration such as 10m or a number of seconds")
		return nil
	}
	var secs int
	if n.Tag == "!!int" {
		v, err := strconv.Atoi(n.Value)
		if err != nil {
			d.errorf(n, path, n.Value, "not a whole number of seconds")
			return nil
		}
		secs = v
	} else {
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			d.errorf(n, path, n.Value, "expected a duration such as 10m or a number of seconds")
			return nil
		}
		if dur%time.Second != 0 {
			d.errorf(n, path, n.Value, "max_age is sent in whole seconds")
			return nil
		}
		secs = int(dur / time.Second)
	}
	switch {
	case secs < 0 || secs > 86400:
		d.errorf(n, path, n.Value, "max_age must be between 0 and 86400 seconds (Firefox's cap)")
		return nil
	case secs > 7200:
		d.warnf(n, path, n.Value, "Chromium caps max_age at 7200 seconds; larger values act as 7200 there")
	}
	return &secs
}
