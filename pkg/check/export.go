package check

import (
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Response returns the CheckResponse the service sends for v: the exact
// status and header mutations Envoy applies. `cors-authz explain` and the
// admin page use it, so what they show is what Envoy gets.
func Response(v *policy.Verdict) *authv3.CheckResponse { return buildResponse(v) }
