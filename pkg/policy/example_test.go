package policy_test

import (
	"fmt"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

func ExamplePolicy_Decide() {
	p, _, err := policy.Parse("example.yaml", []byte(`version: 1
classes:
  - name: public-api
    match: {path_prefixes: [/api/v1/]}
    allow_origins: [https://partner.example.org]
    allow_methods: [PUT]
    allow_headers: [Content-Type]
  - name: internal
    match: {path_prefixes: [/]}
`))
	if err != nil {
		panic(err)
	}
	r := policy.Request{
		Method: "OPTIONS", Scheme: "https", Host: "api.example.com", Path: "/api/v1/users",
		Origin: "https://partner.example.org", HasOrigin: true,
		ACRM: "PUT", ACRH: "content-type",
	}
	v := p.Decide(&r)
	fmt.Println(v.Class.Name, v.Kind, v.Status, v.ReasonText())
	for _, h := range v.Headers() {
		fmt.Printf("%s: %s\n", h.Name, h.Value)
	}

	r.Path = "/admin"
	v = p.Decide(&r)
	fmt.Println(v.Class.Name, v.Kind, v.Status, v.ReasonText())
	// Output:
	// public-api preflight 204 preflight_allowed
	// access-control-allow-origin: https://partner.example.org
	// access-control-allow-methods: PUT
	// access-control-allow-headers: content-type
	// vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers
	// internal preflight 403 cross_origin_to_internal
}

func ExampleParse_errors() {
	_, _, err := policy.Parse("bad.yaml", []byte(`version: 1
classes:
  - name: api
    allow_origins: ["*", "https://*.co.uk"]
    allow_credentials: true
    match: {path_prefixes: [/api/]}
`))
	fmt.Println(err)
	// Output:
	// policy refused (2 error(s)):
	//   bad.yaml:4:21: classes[0].allow_origins[0]: "*": "*" is not allowed: list the origins (the contract is to echo one exact origin, never "*")
	//   bad.yaml:4:26: classes[0].allow_origins[1]: "https://*.co.uk": wildcard on a public suffix: anyone can register a subdomain of "co.uk"
}
