package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/cors-authz/cors-authz/pkg/envoyauth"
)

// gRPC server limits. Envoy keeps a few long-lived HTTP/2 connections to
// the authorization cluster and multiplexes every Check over them, so the
// settings favour keeping connections up and catching dead peers.
const (
	// maxRecvMsgSize bounds one CheckRequest. A CheckRequest is about the
	// size of the request's headers (Envoy's max_request_headers_kb defaults
	// to 60 KiB) unless with_request_body buffers a body, which a CORS
	// decision never needs. 4 MiB (gRPC's default, stated explicitly) leaves
	// room for raised header limits and hostile 1 MiB Origin values, which
	// must get a deny answer, not a RESOURCE_EXHAUSTED error.
	maxRecvMsgSize = 4 << 20

	// keepaliveTime: ping a connection idle this long to detect a peer that
	// vanished without closing it (a deleted pod, a NAT timeout).
	keepaliveTime    = time.Minute
	keepaliveTimeout = 20 * time.Second
	// keepaliveMinTime: clients (Envoy's connection_keepalive) may ping this
	// often, even without active streams, before the server answers with
	// GOAWAY "too_many_pings". Envoy intervals of 10 s and more are common.
	keepaliveMinTime = 5 * time.Second
)

// grpcServerOptions returns the options of the Check server; tlsConf nil
// means plaintext (the usual sidecar and in-cluster setup).
//
// The codec is envoyauth.NewCodec: gRPC's protobuf codec, except that the
// Check service's shared answers (cached and static) are written from the
// bytes encoded when they were built instead of being marshalled per call.
func grpcServerOptions(tlsConf *tls.Config) []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(envoyauth.NewCodec()),
		grpc.MaxRecvMsgSize(maxRecvMsgSize),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    keepaliveTime,
			Timeout: keepaliveTimeout,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             keepaliveMinTime,
			PermitWithoutStream: true,
		}),
	}
	if tlsConf != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConf)))
	}
	return opts
}

// listen opens a gRPC listener: "unix:///path" (or "unix:path") is a Unix
// socket, anything else a TCP host:port.
func listen(addr string) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix://")
	if !ok {
		path, ok = strings.CutPrefix(addr, "unix:")
	}
	if !ok {
		return net.Listen("tcp", addr)
	}
	if path == "" {
		return nil, fmt.Errorf("listen %q: empty socket path", addr)
	}
	// A socket left by a process that died without closing it would make
	// Listen fail with "address already in use". Remove only sockets.
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen %q: another process is serving on this socket", addr)
		}
		_ = os.Remove(path)
	}
	return net.Listen("unix", path)
}
