package scale

import (
	"context"
	"fmt"

	"path/filepath"
	"slices"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/cors-authz/cors-authz/bench/baseline"
	"github.com/cors-authz/cors-authz/bench/fixture"
	"github.com/cors-authz/cors-authz/internal/atomicfile"
	"github.com/cors-authz/cors-authz/internal/servetest"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// oneAndDelegated parses the one file, and writes to a temporary directory
// (dir) and loads the 500 fragments granting the same origins (merged).
func oneAndDelegated(tb testing.TB) (one, merged *policy.Policy, dir string) {
	tb.Helper()
	one, _, err := policy.Parse("one.yaml", OneFileYAML())
	if err != nil {
		tb.Fatal(err)
	}
	dir = tb.TempDir()
	if err := WriteDir(dir); err != nil {
		tb.Fatal(err)
	}
	merged, _, err = policy.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return one, merged, dir
}

// TestDelegatedEqualsOneFile: the 500-fragment directory and the one file
// holding the same origins decide every fixture case alike.
func TestDelegatedEqualsOneFile(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000-origin policies skipped with -short")
	}
	one, merged, _ := oneAndDelegated(t)
	if n := len(merged.Fragments()); n != Fragments {
		t.Fatalf("%d fragments merged, want %d", n, Fragments)
	}
	for _, c := range scaleCases() {
		r := baseline.PolicyRequest(c)
		a, b := one.Decide(&r), merged.Decide(&r)
		if a.Allowed != c.Allowed || b.Allowed != c.Allowed || a.Status != b.Status || a.ReasonText() != b.ReasonText() {
			t.Errorf("%s: one file %s %d, directory %s %d, want allowed %v", c.Name, a.ReasonText(), a.Status, b.ReasonText(), b.Status, c.Allowed)
		}
	}
}

// BenchmarkDelegation compares, in the same run, the decision under one
// file holding 100,000 origins with the decision under 500 fragments
// granting the same origins (target: ≤ 1.1x, 0 allocs/op), and measures a
// rescan of the directory after one fragment changed (validate that
// fragment alone, merge, swap).
func BenchmarkDelegation(b *testing.B) {
	one, merged, dir := oneAndDelegated(b)
	for _, c := range scaleCases() {
		for _, p := range []struct {
			name string
			pol  *policy.Policy
		}{{"one-file", one}, {"500-fragments", merged}} {
			b.Run("Decide/"+c.Name+"/"+p.name, func(b *testing.B) {
				r := baseline.PolicyRequest(c)
				b.ReportAllocs()
				for b.Loop() {
					sink = p.pol.Decide(&r)
				}
			})
		}
	}
	// Loading everything: what a start (or a base change) costs, against
	// parsing the one file with the same origins.
	b.Run("LoadOneFile", func(b *testing.B) {
		data := OneFileYAML()
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := policy.Parse("one.yaml", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("LoadDirectory", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := policy.Load(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RescanOneFragment", func(b *testing.B) {
		d := policy.OpenDir(dir)
		if _, err := d.Scan(); err != nil {
			b.Fatal(err)
		}
		name := filepath.Join(dir, FragmentFile(Fragments/2))
		k := 0
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			k++
			if err := atomicfile.Write(name, FragmentYAML(Fragments/2, fmt.Sprintf("https://marker-%d.example.org", k))); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			res, err := d.Scan()
			if err != nil || !res.Changed || len(res.Validated) != 1 {
				b.Fatalf("scan: %v changed %v validated %v", err, res.Changed, res.Validated)
			}
		}
	})
}

// BenchmarkDelegationReload measures, through a running cors-authz serve
// watching the 500-fragment directory with the default debounce, the time
// from renaming a new version of one fragment into place until a Check
// from an origin only that version grants is allowed: detection,
// debounce, read, validation of that fragment alone, merge and swap, as a
// client sees it (polled every millisecond). ns/op is the mean latency;
// median-ms and max-ms are over the iterations.
func BenchmarkDelegationReload(b *testing.B) {
	dir := b.TempDir()
	if err := WriteDir(dir); err != nil {
		b.Fatal(err)
	}
	srv := servetest.Run(b, servetest.Options{Args: []string{"--config", dir}, Ready: true})
	cc, err := srv.Dial()
	if err != nil {
		b.Fatal(err)
	}
	client := authv3.NewAuthorizationClient(cc)
	ctx := context.Background()
	name := filepath.Join(dir, FragmentFile(Fragments/2))
	k := 0
	var lat []float64
	for b.Loop() {
		b.StopTimer()
		k++
		marker := fmt.Sprintf("https://reload-%d.team-%d.example.org", k, Fragments/2)
		c := fixture.Cases[0]
		c.Origin = marker
		req := fixture.CheckRequest(c, k)
		if granted(ctx, b, client, req, marker) {
			b.Fatalf("%s granted before its fragment was written", marker)
		}
		data := FragmentYAML(Fragments/2, marker)
		b.StartTimer()
		start := time.Now()
		if err := atomicfile.Write(name, data); err != nil {
			b.Fatal(err)
		}
		for !granted(ctx, b, client, req, marker) {
			if time.Since(start) > 30*time.Second {
				b.Fatalf("%s not granted 30 s after its fragment was written", marker)
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, float64(time.Since(start))/1e6)
	}
	b.ReportMetric(median(lat), "median-ms")
	b.ReportMetric(slices.Max(lat), "max-ms")
}

func granted(ctx context.Context, b *testing.B, client authv3.AuthorizationClient, req *authv3.CheckRequest, origin string) bool {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := client.Check(cctx, req)
	if err != nil {
		b.Fatal(err)
	}
	for _, h := range resp.GetOkResponse().GetResponseHeadersToAdd() {
		if h.GetHeader().GetKey() == policy.HeaderACAO && h.GetHeader().GetValue() == origin {
			return true
		}
	}
	return false
}

// TestMain removes the cors-authz binary BenchmarkDelegationReload builds.
func TestMain(m *testing.M) { servetest.Exit(m.Run()) }

// BenchmarkDelegationRatio is the same-run ratio of the decision under 500
// fragments to the decision under one file with the same 100,000 origins,
// robust to a busy machine: each iteration times a block of decisions
// under each policy back to back (alternating which goes first) and keeps
// the block's ratio; the reported x-one-file is the median ratio (target
// ≤ 1.1), and ns-one-file / ns-fragments the median block cost per
// decision. Each policy's decision must allocate nothing.
func BenchmarkDelegationRatio(b *testing.B) {
	one, merged, _ := oneAndDelegated(b)
	const block = 2000
	for _, c := range scaleCases() {
		b.Run(c.Name, func(b *testing.B) {
			r := baseline.PolicyRequest(c)
			for _, p := range []*policy.Policy{one, merged} {
				if n := testing.AllocsPerRun(100, func() { sink = p.Decide(&r) }); n != 0 {
					b.Fatalf("%v allocs per decision", n)
				}
			}
			run := func(p *policy.Policy) time.Duration {
				start := time.Now()
				for range block {
					sink = p.Decide(&r)
				}
				return time.Since(start)
			}
			var ratios, ones, frags []float64
			k := 0
			for b.Loop() {
				var d1, d2 time.Duration
				if k++; k%2 == 0 {
					d1, d2 = run(one), run(merged)
				} else {
					d2, d1 = run(merged), run(one)
				}
				ratios = append(ratios, float64(d2)/float64(d1))
				ones = append(ones, float64(d1)/block)
				frags = append(frags, float64(d2)/block)
			}
			b.ReportMetric(median(ratios), "x-one-file")
			b.ReportMetric(median(ones), "ns-one-file")
			b.ReportMetric(median(frags), "ns-fragments")
		})
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
