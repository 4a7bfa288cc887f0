package policy

import "github.com/cors-authz/cors-authz/internal/methods"

// Class is a compiled path class: which requests it applies to, and the
// CORS grants it makes. Header values are prepared once, at compile time.
type Class struct {
	Name  string
	Index int // position in the file; -1 for the fallback class
	Spec  *ClassSpec

	match       matcher
	origins     originSet
	credentials bool
	privateNet  bool
	denyAction  DenyAction
	methods     methods.Set // allow_methods (case-sensitive)
	headers     headerSet   // allow_headers (lower case)

	// Prepared header values.
	acam  string // Access-Control-Allow-Methods
	acah  string // Access-Control-Allow-Headers (when not reflecting)
	aceh  string // Access-Control-Expose-Headers
	acma  string // Access-Control-Max-Age
	hasMA bool
	vary  bool // add "Vary: Origin" to actual responses
}

// HasOrigins reports whether the class grants cross-origin access to any
// origin (an "external" class). Classes without origins are internal.
func (c *Class) HasOrigins() bool { return c.origins.Len() > 0 }

// DenyAction is the class's deny_action.
func (c *Class) DenyAction() DenyAction { return c.denyAction }
