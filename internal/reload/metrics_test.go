package reload

import (
	"fmt"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// TestFileStatesNoGap: while the file states are republished (a reload of
// a policy directory), a scrape sees every file, in exactly one state: a
// file never drops out of cors_authz_policy_file_state, and a file that
// changed state is never counted twice. Alerts on refused files and
// dashboards per file read it on every scrape.
func TestFileStatesNoGap(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	const numFiles = 50
	states := func(refused int) []policy.FileState {
		out := make([]policy.FileState, numFiles)
		for i := range out {
			out[i] = policy.FileState{File: fmt.Sprintf("/p/team-%02d.yaml", i), State: policy.FileLoaded}
			if i == refused {
				out[i].State = policy.FileRefused
			}
		}
		return out
	}
	m.fileStates(states(0))

	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range 300 {
			m.fileStates(states(i % numFiles))
		}
	}()
	for scrapes := 0; ; scrapes++ {
		select {
		case <-done:
			wg.Wait()
			return
		default:
		}
		if scrapes > 100_000 {
			t.Fatal("publisher did not finish")
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		perFile := map[string]int{}
		for _, mf := range mfs {
			if mf.GetName() != "cors_authz_policy_file_state" {
				continue
			}
			for _, s := range mf.GetMetric() {
				for _, l := range s.GetLabel() {
					if l.GetName() == "file" {
						perFile[l.GetValue()]++
					}
				}
			}
		}
		if len(perFile) != numFiles {
			t.Fatalf("a scrape saw %d of %d files", len(perFile), numFiles)
		}
		for f, n := range perFile {
			if n != 1 {
				t.Fatalf("a scrape saw %s in %d states", f, n)
			}
		}
	}
}
