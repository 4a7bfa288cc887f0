package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// embeddedPolicy is one policy held in a Kubernetes ConfigMap manifest: the
// value of a data key, and where that value starts in the manifest file.
type embeddedPolicy struct {
	configMap string // metadata.name
	key       string // data key, e.g. policy.yaml
	data      []byte
	// lineOffset and indent map the value's line:column to the manifest's:
	// for a literal block scalar (key: |) line n of the value is manifest
	// line n+lineOffset, column c is c+indent. Other scalar styles (quoted,
	// folded) have no such mapping: exact is false and every position is
	// reported at the value's own line and column.
	lineOffset, indent int
	exact              bool
	line, column       int // the value's position, for inexact styles
}

// configMapPolicies reads a Kubernetes manifest stream and returns the
// policies held by its ConfigMaps: every data key named *.yaml or *.yml
// (policy.yaml, a shadow policy, ...). isManifest is false when no document
// is a ConfigMap (the file is taken for a policy file then).
func configMapPolicies(data []byte) (policies []embeddedPolicy, isManifest bool, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	lines := strings.Split(string(data), "\n")
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			if !isManifest {
				return nil, false, nil // not YAML a manifest reader can use: let the policy parser report it
			}
			return nil, true, err
		}
		if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		top := doc.Content[0]
		if scalarValue(top, "kind") != "ConfigMap" || scalarValue(top, "apiVersion") == "" {
			continue
		}
		isManifest = true
		name := scalarValue(mappingValue(top, "metadata"), "name")
		dataNode := mappingValue(top, "data")
		if dataNode == nil || dataNode.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(dataNode.Content); i += 2 {
			k, v := dataNode.Content[i], dataNode.Content[i+1]
			if !strings.HasSuffix(k.Value, ".yaml") && !strings.HasSuffix(k.Value, ".yml") || v.Kind != yaml.ScalarNode {
				continue
			}
			ep := embeddedPolicy{configMap: name, key: k.Value, data: []byte(v.Value), line: v.Line, column: v.Column}
			if v.Style&yaml.LiteralStyle != 0 {
				ep.exact = true
				ep.lineOffset = v.Line // the value's first line follows the "|" line
				ep.indent = blockIndent(lines, v.Line)
			}
			policies = append(policies, ep)
		}
	}
	if isManifest && len(policies) == 0 {
		return nil, true, errors.New("no ConfigMap in the manifest has a data key named *.yaml or *.yml (the policy)")
	}
	return policies, isManifest, nil
}

// blockIndent is the indentation of a literal block scalar whose indicator
// is on (1-based) line indicatorLine: that of its first non-blank line.
func blockIndent(lines []string, indicatorLine int) int {
	for _, l := range lines[min(indicatorLine, len(lines)):] {
		if strings.TrimSpace(l) != "" {
			return len(l) - len(strings.TrimLeft(l, " "))
		}
	}
	return 0
}

// mappingValue returns the value node of key in a mapping node, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalarValue(m *yaml.Node, key string) string {
	if v := mappingValue(m, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// position moves an issue found in the embedded policy to the manifest.
func (ep embeddedPolicy) position(is policy.Issue) policy.Issue {
	switch {
	case is.Line <= 0:
		is.Line, is.Column = ep.line, ep.column
	case ep.exact:
		is.Line += ep.lineOffset
		is.Column += ep.indent
	default:
		is.Line, is.Column = ep.line, ep.column
	}
	return is
}

// isFragment reports whether the embedded file is a team's fragment of a
// policy directory (docs/policy.md, Delegation) rather than a policy: its
// top level has extend and no classes.
func (ep embeddedPolicy) isFragment() bool {
	var top map[string]any
	if yaml.Unmarshal(ep.data, &top) != nil {
		return false
	}
	_, extend := top["extend"]
	_, classes := top["classes"]
	return extend && !classes
}

// parseFragment validates the embedded fragment against base (the same
// ConfigMap's policy.yaml, as in the mounted directory), with every issue
// at its manifest position.
func (ep embeddedPolicy) parseFragment(file string, base *policy.Policy, baseEP embeddedPolicy) (*policy.Fragment, []policy.Issue, error) {
	f, warns, err := policy.ParseFragment(base, file, ep.data)
	ep.relocate(warns, err)
	// A guardrail is named where the base writes it: "(FILE:LINE)" in the
	// base's own lines, moved to the manifest's.
	ref := regexp.MustCompile(`\(` + regexp.QuoteMeta(file) + `:(\d+)`)
	move := func(list []policy.Issue) {
		for i := range list {
			list[i].Msg = ref.ReplaceAllStringFunc(list[i].Msg, func(m string) string {
				n, _ := strconv.Atoi(m[len(file)+2:])
				return "(" + file + ":" + strconv.Itoa(baseEP.position(policy.Issue{Line: n}).Line)
			})
		}
	}
	move(warns)
	var perr *policy.Error
	if errors.As(err, &perr) {
		move(perr.Issues)
	}
	return f, warns, err
}

// relocate moves the issues of a parse to the manifest.
func (ep embeddedPolicy) relocate(warns []policy.Issue, err error) {
	for i := range warns {
		warns[i] = ep.position(warns[i])
	}
	var perr *policy.Error
	if errors.As(err, &perr) {
		for i := range perr.Issues {
			perr.Issues[i] = ep.position(perr.Issues[i])
		}
	}
}

// parse parses the embedded policy, with every issue at its manifest position.
func (ep embeddedPolicy) parse(file string) (*policy.Policy, []policy.Issue, error) {
	p, warns, err := policy.Parse(file, ep.data)
	ep.relocate(warns, err)
	return p, warns, err
}

// validateConfigMapFile validates a ConfigMap manifest the way validateCmd
// validates a policy file, one line per embedded policy. handled is false
// when file is not a ConfigMap manifest (or cannot be read: the policy
// loader reports that).
func validateConfigMapFile(file string, read func(string) ([]byte, error), quiet bool, stdout, stderr io.Writer) (code int, handled bool) {
	data, err := read(file)
	if err != nil {
		return 0, false
	}
	eps, isManifest, err := configMapPolicies(data)
	if !isManifest {
		return 0, false
	}
	if err != nil {
		fmt.Fprintf(stderr, "error: %s: %v\n", file, err)
		return 1, true
	}
	// Fragments are validated after every policy, against their ConfigMap's
	// policy.yaml: the base of the directory the ConfigMap mounts as.
	bases := map[string]*policy.Policy{}
	baseOf := map[string]embeddedPolicy{}
	var fragments []embeddedPolicy
	for _, ep := range eps {
		if ep.isFragment() {
			fragments = append(fragments, ep)
			continue
		}
		where := fmt.Sprintf("%s (ConfigMap %s, key %s)", file, ep.configMap, ep.key)
		p, warns, err := ep.parse(file)
		if err == nil && ep.key == policy.BaseFile {
			bases[ep.configMap], baseOf[ep.configMap] = p, ep
		}
		printWarnings(stdout, quiet, warns)
		switch {
		case printRefusal(stderr, where, inManifest(where, err)):
			code = 1
		case !quiet:
			fmt.Fprintf(stdout, "%s: ok, %d class(es), %d warning(s), sha256 %s\n", where, len(p.Classes()), len(warns), p.SHA256()[:12])
		}
	}
	for _, ep := range fragments {
		where := fmt.Sprintf("%s (ConfigMap %s, key %s)", file, ep.configMap, ep.key)
		base := bases[ep.configMap]
		if base == nil {
			fmt.Fprintf(stderr, "error: %s: a fragment, but ConfigMap %s has no valid %s to validate it against\n", where, ep.configMap, policy.BaseFile)
			code = 1
			continue
		}
		f, warns, err := ep.parseFragment(file, base, baseOf[ep.configMap])
		printWarnings(stdout, quiet, warns)
		switch {
		case printRefusal(stderr, where, inManifest(where, err)):
			code = 1
		case !quiet:
			n := 0
			for _, e := range f.Doc().Extend {
				n += len(e.AllowOrigins)
			}
			fmt.Fprintf(stdout, "%s: ok, fragment, %d origin(s), %d warning(s), sha256 %s\n", where, n, len(warns), f.SHA256()[:12])
		}
	}
	return code, true
}

// inManifest prefixes an error that is not a *policy.Error (whose issues
// already name their manifest lines) with where in the manifest it arose.
func inManifest(where string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", where, err)
}
