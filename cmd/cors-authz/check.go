package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
)

// checkCmd sends one Envoy-shaped CheckRequest to a running service and
// prints the CheckResponse: a client for trying a deployment by hand.
func checkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "localhost:9001", "cors-authz gRPC address (host:port or unix:///path)")
	timeout := fs.Duration("timeout", 2*time.Second, "RPC timeout")
	rf := requestFlags(fs)
	asJSON := fs.Bool("json", false, "print the CheckResponse as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cors-authz check [--addr HOST:PORT] --method M --path P [--host H] [--origin O] [--header 'Name: value']... [--class NAME]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	req, err := rf.input().CheckRequest()
	if err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return 2
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return 1
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, req)
	if err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return 1
	}
	if *asJSON {
		fmt.Fprintln(stdout, protojson.MarshalOptions{Multiline: true, EmitDefaultValues: true}.Format(resp))
		return 0
	}
	printResponse(stdout, resp)
	return 0
}

// printResponse prints what Envoy does with resp, one header a line.
func printResponse(w io.Writer, resp *authv3.CheckResponse) {
	code := codes.Code(resp.GetStatus().GetCode())
	var hs []*corev3.HeaderValueOption
	if d := resp.GetDeniedResponse(); d != nil || code != codes.OK {
		status := int(d.GetStatus().GetCode())
		if status == 0 {
			status = 403
		}
		fmt.Fprintf(w, "%s: Envoy answers HTTP %d itself\n", code, status)
		hs = d.GetHeaders()
	} else {
		fmt.Fprintf(w, "%s: Envoy forwards the request and adds to the response:\n", code)
		hs = resp.GetOkResponse().GetResponseHeadersToAdd()
	}
	for _, h := range hs {
		fmt.Fprintf(w, "  %s: %s  [%s]\n", h.GetHeader().GetKey(), h.GetHeader().GetValue(), h.GetAppendAction())
	}
}
