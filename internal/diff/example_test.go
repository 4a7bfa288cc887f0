package diff_test

import (
	"fmt"

	"github.com/cors-authz/cors-authz/internal/diff"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// A policy change in code review: what does it grant that the old policy
// did not?
func ExamplePolicies() {
	old := mustParse("old.yaml", `version: 1
classes:
  - name: public-api
    match: {path_prefixes: [/api/]}
    allow_origins: [https://app.partner.example]
    allow_methods: [PUT]
    deny_action: reject
  - name: internal
    match: {path_prefixes: [/]}
`)
	new := mustParse("new.yaml", `version: 1
classes:
  - name: public-api
    match: {path_prefixes: [/api/]}
    allow_origins: ["https://*.partner.example"]
    allow_methods: [PUT, GET]
    allow_credentials: true
    max_age: 10m
  - name: uploads
    match: {path_prefixes: [/upload/]}
    allow_origins: [https://cdn.example]
  - name: internal
    match: {path_prefixes: [/]}
`)
	r := diff.Policies(old, new)
	fmt.Print(r.Text())
	fmt.Println("widens:", r.Widens)
	// Output:
	// --- old.yaml  sha256 b2aa986c1622  2 class(es)
	// +++ new.yaml  sha256 4ae6bffc2b67  3 class(es)
	//
	// class public-api
	//   + WIDENS   allow_origins: added https://*.partner.example  (wildcard: every subdomain of partner.example, including https://app.partner.example)
	//   ~ neutral  allow_origins: removed https://app.partner.example  (still allowed by https://*.partner.example)
	//   ~ neutral  allow_methods: added GET  (CORS-safelisted: always allowed; only Access-Control-Allow-Methods changes)
	//   + WIDENS   allow_credentials: false → true  (responses to allowed origins may now be read with cookies and HTTP auth)
	//   ~ neutral  max_age: none → 600s  (how long browsers cache a preflight answer)
	//   + WIDENS   deny_action: reject → omit  (refused cross-origin requests now reach the upstream: their side effects happen, though the response stays unreadable)
	//
	// class uploads
	//   + WIDENS   class added at #2  (grants origins https://cdn.example for path_prefixes [/upload/] and to routes with cors_class=uploads)
	//
	// routing (the first class whose match holds serves a request)
	//   + WIDENS   routing: internal → uploads  (requests internal served may now be served by uploads, which allows more: origins https://cdn.example)
	//
	// 8 change(s): 5 widen access, 0 narrow it, 3 neutral
	// ACCESS WIDENS: review the 5 line(s) marked "+ WIDENS"
	// widens: true
}

func mustParse(name, yaml string) *policy.Policy {
	p, _, err := policy.Parse(name, []byte(yaml))
	if err != nil {
		panic(err)
	}
	return p
}
