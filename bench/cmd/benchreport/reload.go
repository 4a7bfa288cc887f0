package main

import (
	"context"
	"fmt"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cors-authz/cors-authz/bench/fixture"
	"github.com/cors-authz/cors-authz/bench/scale"
	"github.com/cors-authz/cors-authz/internal/atomicfile"
)

// largePolicy is the 100,000-origin scale policy plus marker, an origin
// that only this version of the file allows.
func largePolicy(marker string) []byte {
	exact, wild := fixture.ScaledOrigins(scale.Sizes[len(scale.Sizes)-1], scale.Wildcards)
	exact = append(exact, marker)
	return fixture.ScaledPolicyYAML(exact, wild)
}

// measureReload writes a new 100,000-origin policy to path, which a running
// cors-authz serve at addr watches, and returns the time from the rename
// until a Check from the new file's marker origin is granted: detection,
// debounce, read, parse, compile and swap, as a client sees it.
func measureReload(ctx context.Context, addr, path string, k int) (time.Duration, error) {
	marker := fmt.Sprintf("https://reload-%d.example.org", k)
	data := largePolicy(marker)
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return 0, err
	}
	defer cc.Close()
	client := authv3.NewAuthorizationClient(cc)
	c := fixture.Cases[0]
	c.Origin = marker
	req := fixture.CheckRequest(c, k)
	granted := func() (bool, error) {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		resp, err := client.Check(cctx, req, grpc.WaitForReady(true))
		if err != nil {
			return false, err
		}
		for _, h := range resp.GetOkResponse().GetResponseHeadersToAdd() {
			if h.GetHeader().GetKey() == "access-control-allow-origin" && h.GetHeader().GetValue() == marker {
				return true, nil
			}
		}
		return false, nil
	}
	if ok, err := granted(); err != nil || ok {
		return 0, fmt.Errorf("before the reload: granted=%t err=%v (want a refusal)", ok, err)
	}
	start := time.Now()
	if err := atomicfile.Write(path, data); err != nil {
		return 0, err
	}
	const limit = 30 * time.Second
	for time.Since(start) < limit { // bounded by limit
		ok, err := granted()
		if err != nil {
			return 0, err
		}
		if ok {
			return time.Since(start), nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("the new policy was not in force %v after writing it", limit)
}
