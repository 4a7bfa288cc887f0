package check

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cors-authz/cors-authz/internal/race"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// TestSetPolicyUnderLoad: while the policy flips between two versions,
// every answer over gRPC is exactly the old policy's or the new one's for
// that request, never a mix, and no call fails.
func TestSetPolicyUnderLoad(t *testing.T) {
	s, _ := newTestService(t, 64)
	client := serve(t, s)
	reqs := []reqSpec{
		get("/api/v1/x", "Origin", partner),
		options("/api/v1/x", "Origin", partner, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "content-type"),
		get("/api/v1/x", "Origin", tenant),
	}
	// The two acceptable answers of each request.
	valid := make([]map[answer]bool, len(reqs))
	for i, rs := range reqs {
		valid[i] = map[answer]bool{}
		for _, y := range []string{testPolicyYAML, testPolicyNoPartnerYAML} {
			one := New(Options{})
			one.SetPolicy(mustPolicy(t, y))
			resp, err := one.Check(context.Background(), rs.build())
			if err != nil {
				t.Fatal(err)
			}
			valid[i][assertResponse(t, resp)] = true
		}
	}
	if len(valid[0]) != 2 {
		t.Fatalf("the two policies must answer the partner differently: %v", valid[0])
	}
	pols := []*policy.Policy{mustPolicy(t, testPolicyNoPartnerYAML), mustPolicy(t, testPolicyYAML)}

	const workers, perWorker, reloads = 4, 300, 100
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				k := (w + i) % len(reqs)
				resp, err := client.Check(context.Background(), reqs[k].build())
				if err != nil {
					errs <- err.Error()
					return
				}
				if got := assertResponse(t, resp); !valid[k][got] {
					errs <- "mixed or unknown answer: " + got.String()
					return
				}
			}
		}()
	}
	for i := range reloads {
		s.SetPolicy(pols[i%2])
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if g := s.Current().Generation; g != reloads+1 {
		t.Errorf("generation %d, want %d", g, reloads+1)
	}
}

// TestDebugLog: at debug level each decision is logged with class, kind,
// verdict and reason; at info level nothing is logged and nothing
// allocated for logging.
func TestDebugLog(t *testing.T) {
	longName := "x-" + strings.Repeat("a", 298) // request bytes in detail are clipped
	var buf bytes.Buffer
	lvl := new(slog.LevelVar)
	s := New(Options{CacheSize: 10, Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: lvl}))})
	s.SetPolicy(mustPolicy(t, testPolicyYAML))
	buf.Reset()
	lvl.Set(slog.LevelDebug)
	ctx := context.Background()
	for _, rs := range []reqSpec{
		options("/api/v1/x", "Origin", partner, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "x-secret"),
		get("/api/v1/x", "Origin", partner),
		get("/api/v1/x", "Origin", partner),
		options("/api/v1/x", "Origin", partner, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", longName),
	} {
		if _, err := s.Check(ctx, rs.build()); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		"class=public-api kind=preflight verdict=preflight_denied reason=header_not_allowed detail=x-secret cached=false",
		"class=public-api kind=actual verdict=allowed reason=origin_allowed detail=\"\" cached=false",
		"class=public-api kind=actual verdict=allowed reason=origin_allowed detail=\"\" cached=true",
		"class=public-api kind=preflight verdict=preflight_denied reason=header_not_allowed detail=\"" + longName[:maxLogValue] + "…(300 bytes)\" cached=false",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d log lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i := range want {
		if !strings.Contains(lines[i], want[i]) {
			t.Errorf("line %d = %s\nwant it to contain %s", i, lines[i], want[i])
		}
		if strings.Contains(lines[i], "partner.example.org") {
			t.Errorf("line %d logs the origin: %s", i, lines[i])
		}
	}
	lvl.Set(slog.LevelInfo)
	buf.Reset()
	req := get("/api/v1/x", "Origin", partner).build()
	if n := testing.AllocsPerRun(50, func() { _, _ = s.Check(ctx, req) }); n != 0 && !race.Enabled {
		t.Errorf("%v allocs per cached Check with an info-level logger", n)
	}
	if buf.Len() != 0 {
		t.Errorf("logged at info level: %s", buf.String())
	}
}

// TestCheckPanicIsAnError: if the handler itself fails (here: a Policy
// that did not come from policy.Parse), Check answers codes.Internal
// instead of crashing the process.
func TestCheckPanicIsAnError(t *testing.T) {
	var buf bytes.Buffer
	reg := prometheus.NewRegistry()
	s := New(Options{Logger: slog.New(slog.NewTextHandler(&buf, nil)), Registerer: reg})
	s.SetPolicy(&policy.Policy{})
	resp, err := s.Check(context.Background(), get("/x", "Origin", partner).build())
	if resp != nil || status.Code(err) != codes.Internal {
		t.Fatalf("Check = %v, %v; want nil, Internal", resp, err)
	}
	if !strings.Contains(buf.String(), "panicked") {
		t.Errorf("panic not logged: %s", buf.String())
	}
	if n := counterValue(t, reg, metricChecks, "verdict", "error"); n != 1 {
		t.Errorf("error verdicts counted %v, want 1", n)
	}
}
