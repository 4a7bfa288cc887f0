package main

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// healthService implements grpc.health.v1.Health (Kubernetes gRPC probes
// and Envoy's gRPC health checker call Check; gRPC clients with health
// checking call Watch).
//
// It differs from google.golang.org/grpc/health.Server in one way that
// matters for graceful shutdown: Shutdown ends every Watch stream (after
// sending NOT_SERVING) instead of leaving it open. An open stream is an
// in-flight RPC, and GracefulStop waits for in-flight RPCs, so one
// watching client would hold every shutdown until --shutdown-timeout.
type healthService struct {
	healthpb.UnimplementedHealthServer

	mu       sync.Mutex
	statuses map[string]healthpb.HealthCheckResponse_ServingStatus
	changed  chan struct{} // closed (and replaced) on every change
	stopped  bool
}

func newHealthService() *healthService {
	return &healthService{
		statuses: map[string]healthpb.HealthCheckResponse_ServingStatus{},
		changed:  make(chan struct{}),
	}
}

func (h *healthService) register(g *grpc.Server) { healthpb.RegisterHealthServer(g, h) }

// set sets the status of the named services ("" is the whole server).
// After Shutdown it does nothing.
func (h *healthService) set(st healthpb.HealthCheckResponse_ServingStatus, services ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	for _, s := range services {
		h.statuses[s] = st
	}
	h.notifyLocked()
}

// Shutdown marks every service NOT_SERVING for good and ends Watch streams
// once they have sent it.
func (h *healthService) Shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.statuses {
		h.statuses[s] = healthpb.HealthCheckResponse_NOT_SERVING
	}
	h.stopped = true
	h.notifyLocked()
}

func (h *healthService) notifyLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// get returns a service's status, whether it is known, the channel that
// signals the next change, and whether the service has shut down.
func (h *healthService) get(service string) (healthpb.HealthCheckResponse_ServingStatus, bool, <-chan struct{}, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.statuses[service]
	return st, ok, h.changed, h.stopped
}

func (h *healthService) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	st, ok, _, _ := h.get(req.GetService())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "unknown service %q", req.GetService())
	}
	return &healthpb.HealthCheckResponse{Status: st}, nil
}

func (h *healthService) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := &healthpb.HealthListResponse{Statuses: make(map[string]*healthpb.HealthCheckResponse, len(h.statuses))}
	for s, st := range h.statuses {
		out.Statuses[s] = &healthpb.HealthCheckResponse{Status: st}
	}
	return out, nil
}

// Watch sends the service's status now and on every change. An unknown
// service is SERVICE_UNKNOWN (the stream stays open: it may appear later).
// After Shutdown the stream sends the final status and ends with OK.
func (h *healthService) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	var last healthpb.HealthCheckResponse_ServingStatus = -1
	for {
		st, ok, changed, stopped := h.get(req.GetService())
		if !ok {
			st = healthpb.HealthCheckResponse_SERVICE_UNKNOWN
			if stopped {
				st = healthpb.HealthCheckResponse_NOT_SERVING
			}
		}
		if st != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
				return status.Error(codes.Canceled, "health watch: send failed")
			}
			last = st
		}
		if stopped {
			return nil
		}
		select {
		case <-changed:
		case <-stream.Context().Done():
			return status.Error(codes.Canceled, "health watch: stream ended")
		}
	}
}
