package policy

import "github.com/cors-authz/cors-authz/internal/origin"

// Class is a compiled path class: which requests it applies to, and the
// CORS grants it makes. Header values are prepared once, at compile time.
type Class struct {
	Name  string
	Index int // position in the file; -1 for the fallback class
	Spec  *ClassSpec

	match       matcher
	pathRules   bool // match has path_prefixes or paths
	credentials bool
	privateNet  bool
	denyAction  DenyAction

	// grants is the allowlist: each entry maps to what it grants (the
	// class's methods and headers, plus a fragment's additions for the
	// origins that fragment granted), with prepared header values.
	grants   origin.Map[*Grant]
	base     *Grant // the class's own grant, for its own allow_origins
	external bool   // has origins, or is delegated (fragments may add some)
	exts     []ClassExtension

	// Prepared header values.
	acma  string // Access-Control-Max-Age
	hasMA bool
	vary  bool // add "Vary: Origin" to actual responses
}

// HasOrigins reports whether the class grants cross-origin access to any
// origin (an "external" class). Classes without origins are internal.
func (c *Class) HasOrigins() bool { return c.grants.Len() > 0 }

// DenyAction is the class's deny_action.
func (c *Class) DenyAction() DenyAction { return c.denyAction }
