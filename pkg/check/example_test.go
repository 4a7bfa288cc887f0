package check_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/envoyauth"
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

// A Go team runs the Check service inside its own binary: a policy from a
// string, the service on a gRPC server of its own (with the codec that
// `cors-authz serve` installs, so shared answers are written from their
// stored encoding), and Envoy, here a gRPC client, asking it about a CORS
// preflight. Envoy answers a preflight itself: the service says so with
// PERMISSION_DENIED and a denied_response carrying the status (204) and
// the headers.
func Example_grpcServer() {
	pol, warnings, err := policy.Parse("embedded-policy.yaml", []byte(`version: 1
classes:
  - name: public-api
    match: {path_prefixes: [/api/]}
    allow_origins: [https://partner.example.org]
    allow_methods: [GET, PUT]
    allow_headers: [Content-Type]
    max_age: 10m
`))
	if err != nil {
		log.Fatal(err) // a *policy.Error: every problem, each with its line
	}
	for _, w := range warnings {
		log.Print(w)
	}
	svc := check.New(check.Options{CacheSize: check.DefaultCacheSize})
	svc.SetPolicy(pol)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(envoyauth.NewCodec()))
	svc.Register(srv) // as envoy.service.auth.v3.Authorization
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() {
		srv.GracefulStop()
		<-served
	}()

	// What Envoy's ext_authz filter sends for a browser's preflight.
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, &authv3.CheckRequest{
		Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{
				Method: "OPTIONS", Scheme: "https", Host: "api.example.com", Path: "/api/items/7",
				Headers: map[string]string{
					"origin":                         "https://partner.example.org",
					"access-control-request-method":  "PUT",
					"access-control-request-headers": "content-type",
				},
			},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}

	fmt.Println("gRPC status:", codes.Code(resp.GetStatus().GetCode()))
	denied := resp.GetDeniedResponse()
	fmt.Println("Envoy answers with HTTP", int(denied.GetStatus().GetCode()))
	for _, h := range denied.GetHeaders() {
		fmt.Printf("%s: %s\n", h.GetHeader().GetKey(), h.GetHeader().GetValue())
	}
	// Output:
	// gRPC status: PermissionDenied
	// Envoy answers with HTTP 204
	// access-control-allow-origin: https://partner.example.org
	// access-control-allow-methods: GET, PUT
	// access-control-allow-headers: content-type
	// access-control-max-age: 600
	// vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers
}
