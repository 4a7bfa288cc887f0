package policy

import "github.com/cors-authz/cors-authz/internal/origin"

// Document is the policy file (version 1) after normalisation: what an
// operator wrote, with origins in canonical form. It is the public contract
// of the product; docs/policy.md documents every key.
type Document struct {
	Version     int         `json:"version"`
	SelfOrigins []string    `json:"self_origins,omitempty"`
	Classes     []ClassSpec `json:"classes"`
}

// ClassSpec is one entry of the classes list.
type ClassSpec struct {
	Name                            string     `json:"name"`
	Match                           MatchSpec  `json:"match"`
	AllowOrigins                    []string   `json:"allow_origins,omitempty"`
	AllowMethods                    []string   `json:"allow_methods,omitempty"`
	AllowHeaders                    []string   `json:"allow_headers,omitempty"`
	ExposeHeaders                   []string   `json:"expose_headers,omitempty"`
	AllowCredentials                bool       `json:"allow_credentials,omitempty"`
	MaxAge                          *int       `json:"max_age_seconds,omitempty"` // nil: no header
	AllowPrivateNetwork             bool       `json:"allow_private_network,omitempty"`
	DenyAction                      DenyAction `json:"deny_action"`
	DangerouslyAllowInsecureOrigins bool       `json:"dangerously_allow_insecure_origins,omitempty"`
	// Delegate, when set, lets fragment files extend the class within
	// these guardrails (see delegation.go and docs/policy.md, Delegation).
	Delegate *DelegateSpec `json:"delegate,omitempty"`

	Line int `json:"-"` // line of the class in the file

	patterns []origin.Pattern // AllowOrigins, parsed once while decoding
}

// MatchSpec selects the requests a class applies to. Every field given must
// hold; within a field any entry may match. An empty MatchSpec matches all.
type MatchSpec struct {
	Hosts        []string `json:"hosts,omitempty"`
	PathPrefixes []string `json:"path_prefixes,omitempty"`
	Paths        []string `json:"paths,omitempty"`
}

// DenyAction is what happens to a cross-origin request whose origin is not
// allowed.
type DenyAction string

const (
	// DenyOmit forwards the request with no CORS headers: the browser
	// refuses the page access to the response.
	DenyOmit DenyAction = "omit"
	// DenySelfOrigin forwards the request with Access-Control-Allow-Origin
	// set to the application's own origin, which the browser then rejects.
	DenySelfOrigin DenyAction = "self_origin"
	// DenyReject answers 403 at the edge.
	DenyReject DenyAction = "reject"
)
