package loadgen

import (
	"context"
	"google.golang.org/protobuf/proto"
	"net"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/cors-authz/cors-authz/bench/fixture"
	"github.com/cors-authz/cors-authz/bench/noop"
	"github.com/cors-authz/cors-authz/pkg/check"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve starts srv on a loopback port and returns its address.
func serve(t *testing.T, srv authv3.AuthorizationServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(noop.ServerOptions()...)
	authv3.RegisterAuthorizationServer(g, srv)
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Serve(ln) }()
	t.Cleanup(func() { g.Stop(); <-done })
	return ln.Addr().String()
}

// TestRunAgainstCheck drives cors-authz's Check service with the bench
// policy for a moment: every answer must be what the mix expects, so a
// load run measures real decisions, not errors.
func TestRunAgainstCheck(t *testing.T) {
	p, _, err := policy.Parse("bench.yaml", fixture.PolicyYAML())
	if err != nil {
		t.Fatal(err)
	}
	for name, mix := range map[string][]Item{"small": DefaultMix(), "realistic": RealisticMix()} {
		t.Run(name, func(t *testing.T) {
			svc := check.New(check.Options{CacheSize: check.DefaultCacheSize})
			svc.SetPolicy(p)
			res := runFor(t, serve(t, svc), mix)
			if res.Outcomes[Mismatch] != 0 || res.Outcomes[RPCError] != 0 {
				t.Errorf("outcomes %v: mismatches or errors", res.Outcomes)
			}
			for _, o := range []Outcome{Forward, Answer2xx, Answer4xx} {
				if res.Outcomes[o] == 0 {
					t.Errorf("no %s answers in %v: the mix lost a case", o, res.Outcomes)
				}
			}
		})
	}
}

// TestRunAgainstNoop checks that the no-op ceiling is flagged as not
// enforcing: with the mix's expectations, its blanket OK mismatches every
// preflight.
func TestRunAgainstNoop(t *testing.T) {
	res := runFor(t, serve(t, noop.Server{}), DefaultMix())
	if res.Outcomes[Forward] != res.Requests {
		t.Errorf("noop outcomes %v, want all %d forward", res.Outcomes, res.Requests)
	}
	if res.Outcomes[Mismatch] == 0 {
		t.Error("no mismatches counted against a server that answers every preflight OK")
	}
}

func runFor(t *testing.T, addr string, mix []Item) *Result {
	t.Helper()
	res, err := Run(context.Background(), Config{
		Addr: addr, Conns: 2, Concurrency: 4,
		Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond,
		Mix: mix,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.RPS <= 0 {
		t.Fatalf("no requests measured: %+v", res)
	}
	if !(res.P50 <= res.P90 && res.P90 <= res.P99 && res.P99 <= res.P999 && res.P999 <= res.Max) {
		t.Errorf("quantiles out of order: %v %v %v %v %v", res.P50, res.P90, res.P99, res.P999, res.Max)
	}
	if res.AllCalls < res.Requests+1 {
		t.Errorf("all calls %d, want more than the %d measured (warm-up and first calls)", res.AllCalls, res.Requests)
	}
	if res.CPUShare <= 0 {
		t.Errorf("client CPU share %v, want > 0", res.CPUShare)
	}
	return res
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Addr: "127.0.0.1:1", Conns: 1, Concurrency: 0, Duration: time.Second, Mix: DefaultMix()},
		{Addr: "127.0.0.1:1", Conns: 1, Concurrency: 1, Duration: time.Second},
		{Addr: "127.0.0.1:1", Conns: 1, Concurrency: 1, Mix: DefaultMix()},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) succeeded, want an error", cfg)
		}
	}
}

// TestRealisticMix: the DefaultMix outcomes four times over, every request
// different, both header encodings, sizes as Envoy's (1.5–3.5 KiB).
func TestRealisticMix(t *testing.T) {
	mix := RealisticMix()
	count := map[Outcome]int{}
	ids, raw := map[string]bool{}, 0
	total := 0
	for _, it := range mix {
		count[it.Want]++
		ids[it.Req.GetAttributes().GetRequest().GetHttp().GetId()] = true
		if it.Req.GetAttributes().GetRequest().GetHttp().GetHeaderMap() != nil {
			raw++
		}
		n := proto.Size(it.Req)
		if n < 1500 || n > 3584 {
			t.Errorf("request %s: %d bytes, want 1.5–3.5 KiB", it.Req.GetAttributes().GetRequest().GetHttp().GetId(), n)
		}
		total += n
	}
	if count[Forward] != 48 || count[Answer2xx] != 12 || count[Answer4xx] != 4 {
		t.Errorf("mix outcomes %v, want 48 forward, 12 preflight 2xx, 4 preflight 4xx", count)
	}
	if len(ids) != len(mix) || raw != len(mix)/2 {
		t.Errorf("%d distinct requests of %d, %d in header_map: want all distinct, half header_map", len(ids), len(mix), raw)
	}
	if mean := total / len(mix); mean < 2000 || mean > 3000 {
		t.Errorf("mean size %d bytes, want about 2.5 KiB", mean)
	}
}

func TestDefaultMix(t *testing.T) {
	mix := DefaultMix()
	count := map[Outcome]int{}
	for _, it := range mix {
		count[it.Want]++
	}
	// DefaultMix: 8 allowed + 4 disallowed actual, 3 allowed + 1 refused preflight.
	if count[Forward] != 12 || count[Answer2xx] != 3 || count[Answer4xx] != 1 {
		t.Errorf("mix outcomes %v, want 12 forward, 3 preflight 2xx, 1 preflight 4xx", count)
	}
}
