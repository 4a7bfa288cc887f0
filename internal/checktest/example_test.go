package checktest_test

import (
	"context"
	"fmt"

	"github.com/cors-authz/cors-authz/internal/checktest"
	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// A preflight as Envoy presents it, through the Check service. In a test,
// pass the response to AssertResponse(t, resp) first.
func Example() {
	pol, _, err := policy.Parse("default", policy.DefaultYAML)
	if err != nil {
		panic(err)
	}
	svc := check.New(check.Options{})
	svc.SetPolicy(pol)

	req := checktest.Request("OPTIONS", "/api/v1/orders", "https://partner.example.org",
		checktest.Preflight("PUT", "content-type"))
	resp, err := svc.Check(context.Background(), req)
	if err != nil {
		panic(err)
	}
	acao, _ := checktest.HeaderValue(resp, "access-control-allow-origin")
	fmt.Println(resp.GetDeniedResponse().GetStatus().GetCode(), acao)
	fmt.Println(checktest.Reflects(resp, "content-type"))
	// Output:
	// NoContent https://partner.example.org
	// true
}
