package check_test

import (
	"context"
	"fmt"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

func Example() {
	pol, _, err := policy.Parse("example.yaml", []byte(`version: 1
classes:
  - name: public-api
    match: {path_prefixes: [/api/]}
    allow_origins: [https://partner.example.org]
`))
	if err != nil {
		panic(err)
	}
	svc := check.New(check.Options{CacheSize: check.DefaultCacheSize})
	svc.SetPolicy(pol)
	// Register it on a gRPC server with svc.Register(grpcServer); here
	// we call it directly with what Envoy would send.
	resp, err := svc.Check(context.Background(), &authv3.CheckRequest{
		Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{
				Method: "GET", Scheme: "https", Host: "api.example.com", Path: "/api/items",
				Headers: map[string]string{"origin": "https://partner.example.org"},
			},
		}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("status:", resp.GetStatus().GetCode())
	for _, h := range resp.GetOkResponse().GetResponseHeadersToAdd() {
		fmt.Printf("%s: %s (%v)\n", h.GetHeader().GetKey(), h.GetHeader().GetValue(), h.GetAppendAction())
	}
	// Output:
	// status: 0
	// access-control-allow-origin: https://partner.example.org (OVERWRITE_IF_EXISTS_OR_ADD)
	// vary: Origin (APPEND_IF_EXISTS_OR_ADD)
}
