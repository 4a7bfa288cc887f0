// Package policy holds cors-authz's policy: the YAML document operators
// write, its validation, the compiled lookup structures, and the CORS
// decision for one request. It knows nothing about gRPC or Envoy.
//
// The data flow is Request → Classify (class and kind) → Decide (verdict).
package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
)

// Policy is a compiled policy. It is immutable and safe for concurrent use.
type Policy struct {
	spec        Document
	classes     []*Class
	byName      map[string]*Class
	fallback    *Class // default deny for requests no class matches
	selfOrigins originSet
	selfList    []string          // normalised self_origins, in file order
	selfByHost  map[string]string // host[:port] → self origin

	source string
	digest string

	base      *Policy     // the base policy, when fragments are merged (WithFragments)
	fragments []*Fragment // merged fragments, in name order
}

// Parse validates and compiles a policy document. name is used in error
// positions (a file name, or "<embedded>"). On failure the error is an
// *Error listing every problem found, each with its line; warnings are
// returned in either case.
func Parse(name string, data []byte) (*Policy, []Issue, error) {
	doc, warns, err := decode(name, data)
	if err != nil {
		return nil, warns, err
	}
	p := compile(doc)
	p.source = name
	for _, c := range p.classes {
		c.base.files = []string{name}
	}
	sum := sha256.Sum256(data)
	p.digest = hex.EncodeToString(sum[:])
	return p, warns, nil
}

// Load reads and parses the policy file at path.
// A directory is loaded as a policy directory (LoadDir): every file in it
// must be valid.
func Load(path string) (*Policy, []Issue, error) {
	if IsDir(path) {
		p, _, warns, err := LoadDir(path)
		return p, warns, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read policy: %w", err)
	}
	return Parse(path, data)
}

// Source is the name the policy was parsed under.
func (p *Policy) Source() string { return p.source }

// SHA256 is the hex SHA-256 of the policy file's bytes.
func (p *Policy) SHA256() string { return p.digest }

// Spec returns the normalised document the policy was compiled from.
// Callers must not modify it.
func (p *Policy) Spec() *Document { return &p.spec }

// Classes returns the classes in file order. Callers must not modify it.
func (p *Policy) Classes() []*Class { return p.classes }

// Class returns the class with the given name, or nil.
func (p *Policy) Class(name string) *Class { return p.byName[name] }

// Fallback is the synthetic class applied when no class matches: default
// deny (no allowed origins, deny_action omit).
func (p *Policy) Fallback() *Class { return p.fallback }
