// Package diff compares two versions of a cors-authz policy, class by
// class, and says which changes widen cross-origin access. It is the logic
// behind `cors-authz diff OLD NEW`, meant for code review of policy
// changes: a reviewer reads the lines marked WIDENS and decides whether the
// new grants are intended.
//
// The comparison works on the normalised documents (policy.Document), so
// formatting, comments, key order and spellings that normalise alike
// (https://A.example.com:443 and https://a.example.com) are not changes.
// Classes are matched by name. Because the first class whose match holds
// serves a request, the order of classes and their match rules matter too:
// the diff reports every pair of classes between which requests may move,
// and whether the class that would now serve them grants more.
//
// The analysis is conservative: when it cannot show that a change leaves
// access the same or narrower, it flags the change as widening. The CORS
// rules it reasons with are those the service enforces, from the same
// packages: origin patterns and allowlists (internal/origin), host
// patterns (internal/hosts), request-header names (internal/headers) and
// methods (internal/methods). This package holds only the comparison.
package diff

import (
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Effect says what a change does to cross-origin access.
type Effect string

const (
	// Widens: some origin, method, header or request gets access it did
	// not have (or a refused request now reaches the upstream).
	Widens Effect = "widens"
	// Narrows: access is only taken away.
	Narrows Effect = "narrows"
	// Neutral: the change alters a response or the file but grants and
	// refuses exactly what it did (e.g. max_age, an entry already covered
	// by a wildcard).
	Neutral Effect = "neutral"
)

// Op is the kind of edit.
type Op string

const (
	Added    Op = "added"
	Removed  Op = "removed"
	Changed  Op = "changed"
	Moved    Op = "moved"    // a class's position changed relative to others
	Rerouted Op = "rerouted" // requests may now be served by another class
)

// Field names, as an operator writes them in the policy file, plus three
// for what is not a key: a whole class, the order of classes, and routing
// (which class serves a request).
const (
	FieldClass          = "class"
	FieldOrder          = "order"
	FieldRouting        = "routing"
	FieldSelfOrigins    = "self_origins"
	FieldMatch          = "match"
	FieldOrigins        = "allow_origins"
	FieldMethods        = "allow_methods"
	FieldHeaders        = "allow_headers"
	FieldExpose         = "expose_headers"
	FieldCredentials    = "allow_credentials"
	FieldMaxAge         = "max_age"
	FieldPrivateNetwork = "allow_private_network"
	FieldDenyAction     = "deny_action"
	FieldInsecure       = "dangerously_allow_insecure_origins"
)

// Change is one difference between the two policies.
type Change struct {
	// Class is the class the change belongs to; "" for policy-wide
	// changes (self_origins). For routing changes it is the class that
	// may now serve the requests.
	Class  string `json:"class,omitempty"`
	Field  string `json:"field"`
	Op     Op     `json:"op"`
	Value  string `json:"value,omitempty"` // the entry added or removed
	Old    string `json:"old,omitempty"`   // for changed, moved and rerouted
	New    string `json:"new,omitempty"`
	Effect Effect `json:"effect"`
	Note   string `json:"note,omitempty"` // why, in a few words
}

// Side describes one of the two policies compared.
type Side struct {
	Source  string `json:"source,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	Classes int    `json:"classes"`
}

// Summary counts changes by effect.
type Summary struct {
	Changes int `json:"changes"`
	Widens  int `json:"widens"`
	Narrows int `json:"narrows"`
	Neutral int `json:"neutral"`
}

// summarize counts changes by effect.
func summarize(changes []Change) Summary {
	s := Summary{Changes: len(changes)}
	for _, ch := range changes {
		switch ch.Effect {
		case Widens:
			s.Widens++
		case Narrows:
			s.Narrows++
		default:
			s.Neutral++
		}
	}
	return s
}

// Report is the result of a comparison. Changes are ordered: policy-wide
// first, then class by class in the new file's order (a removed class
// where it stood in the old file), then routing.
type Report struct {
	Old     Side     `json:"old"`
	New     Side     `json:"new"`
	Changes []Change `json:"changes"`
	Summary Summary  `json:"summary"`
	// Widens is true when at least one change widens access.
	Widens bool `json:"widens"`
}

// Changed reports whether the normalised policies differ at all.
func (r *Report) Changed() bool { return len(r.Changes) > 0 }

// Widen reports whether at least one change widens access (Widens).
func (r *Report) Widen() bool { return r.Widens }

// Policies compares two compiled policies.
func Policies(old, new *policy.Policy) *Report {
	r := Documents(old.Spec(), new.Spec())
	r.Old.Source, r.Old.SHA256 = old.Source(), old.SHA256()
	r.New.Source, r.New.SHA256 = new.Source(), new.SHA256()
	return r
}

// Documents compares two normalised policy documents (as returned by
// (*policy.Policy).Spec). It does not modify them.
func Documents(old, new *policy.Document) *Report {
	r := &Report{
		Old: Side{Classes: len(old.Classes)},
		New: Side{Classes: len(new.Classes)},
	}
	c := &comparison{old: old, new: new}
	c.index()
	c.selfOrigins()
	c.classes()
	c.routing()
	r.Changes = c.changes
	if r.Changes == nil {
		r.Changes = []Change{}
	}
	r.Summary = summarize(r.Changes)
	r.Widens = r.Summary.Widens > 0
	return r
}

// comparison holds the state of one Documents call.
type comparison struct {
	old, new       *policy.Document
	oldIdx, newIdx map[string]int // class name → position
	changes        []Change
}

func (c *comparison) index() {
	c.oldIdx = make(map[string]int, len(c.old.Classes))
	for i, cl := range c.old.Classes {
		c.oldIdx[cl.Name] = i
	}
	c.newIdx = make(map[string]int, len(c.new.Classes))
	for i, cl := range c.new.Classes {
		c.newIdx[cl.Name] = i
	}
}

func (c *comparison) add(ch Change) { c.changes = append(c.changes, ch) }

// oldClass and newClass return the class of that name, or nil.
func (c *comparison) oldClass(name string) *policy.ClassSpec {
	if i, ok := c.oldIdx[name]; ok {
		return &c.old.Classes[i]
	}
	return nil
}

func (c *comparison) newClass(name string) *policy.ClassSpec {
	if i, ok := c.newIdx[name]; ok {
		return &c.new.Classes[i]
	}
	return nil
}
