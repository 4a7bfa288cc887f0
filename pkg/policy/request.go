package policy

// Request is the policy engine's view of one HTTP request: the few facts a
// CORS decision depends on, already taken out of whatever carried them
// (an Envoy CheckRequest, a command line, a test table).
//
// Header values are as received. Where a header was repeated, the values
// are joined with "," (as Envoy does), which makes a repeated Origin
// invalid, as the Fetch standard requires (a browser sends one).
type Request struct {
	Method string // :method
	Scheme string // :scheme ("http" or "https"); used for the same-origin test
	Host   string // :authority, port included when present
	Path   string // :path; may carry a query string, which matching ignores

	Origin string // Origin header; "" when absent
	// HasOrigin distinguishes an empty Origin header (invalid) from none.
	HasOrigin bool

	ACRM  string // Access-Control-Request-Method
	ACRH  string // Access-Control-Request-Headers
	ACRPN string // Access-Control-Request-Private-Network

	// ClassHint names the class to use (Envoy's context_extensions
	// "cors_class"); "" means "select by the policy's match rules".
	ClassHint string
}
