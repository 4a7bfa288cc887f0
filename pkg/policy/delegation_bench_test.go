package policy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Delegation at scale (issue 15): fragments × origins per fragment.
const (
	scaleFragments = 500
	scalePerFrag   = 200
)

const scaleClassHead = "  - name: api\n    match: {path_prefixes: [/api/]}\n" +
	"    allow_methods: [GET, POST, PUT, DELETE]\n    allow_headers: [Authorization, Content-Type, X-Request-Id]\n" +
	"    expose_headers: [X-Request-Id]\n    allow_credentials: true\n    max_age: 600\n"

// scaleOrigin is origin j of fragment i; partner is fragment 0's first.
func scaleOrigin(i, j int) string {
	if i == 0 && j == 0 {
		return partner
	}
	return fmt.Sprintf("https://site%d.team%d.example.org", j, i)
}

// scaleSingleFile is one policy file granting every origin of the
// fragments itself.
func scaleSingleFile() string {
	var b strings.Builder
	b.WriteString("version: 1\nclasses:\n" + scaleClassHead + "    allow_origins:\n")
	for i := 0; i < scaleFragments; i++ {
		for j := 0; j < scalePerFrag; j++ {
			b.WriteString("      - " + scaleOrigin(i, j) + "\n")
		}
	}
	return b.String()
}

// scaleBase delegates the class; the fragments grant every origin.
func scaleBase() string {
	return "version: 1\nclasses:\n" + scaleClassHead +
		"    delegate:\n      origin_domains: [example.org]\n      allow_methods: [PATCH]\n      max_origins: 1000\n"
}

func scaleFragment(i int, extraMethod bool) string {
	var b strings.Builder
	b.WriteString("version: 1\nextend:\n  - class: api\n    allow_origins:\n")
	for j := 0; j < scalePerFrag; j++ {
		b.WriteString("      - " + scaleOrigin(i, j) + "\n")
	}
	if extraMethod {
		b.WriteString("    allow_methods: [PATCH]\n")
	}
	return b.String()
}

// scaleDir writes the base and the fragments into a new directory.
func scaleDir(tb testing.TB) string {
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, policy.BaseFile), []byte(scaleBase()), 0o644); err != nil {
		tb.Fatal(err)
	}
	// The directory has settled: its files were written a while ago.
	old := time.Now().Add(-time.Hour)
	for i := 0; i < scaleFragments; i++ {
		name := filepath.Join(dir, fmt.Sprintf("team-%03d.yaml", i))
		if err := os.WriteFile(name, []byte(scaleFragment(i, false)), 0o644); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chtimes(name, old, old); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// BenchmarkDecideDelegated compares the decision under one file holding
// 100,000 origins with the same origins granted by 500 fragments. The
// target is ≤ 1.1x between the two in the same run, 0 allocs/op.
func BenchmarkDecideDelegated(b *testing.B) {
	single := mustParse(b, scaleSingleFile())
	merged, _, err := policy.Load(scaleDir(b))
	if err != nil {
		b.Fatal(err)
	}
	if n := len(merged.Fragments()); n != scaleFragments {
		b.Fatalf("%d fragments merged", n)
	}
	far := scaleOrigin(scaleFragments-1, scalePerFrag-1)
	cases := decideCases(far)
	for _, c := range cases {
		for _, pol := range []struct {
			name string
			p    *policy.Policy
		}{{"one-file", single}, {"500-fragments", merged}} {
			b.Run(c.name+"/"+pol.name, func(b *testing.B) {
				r := c.r
				b.ReportAllocs()
				for b.Loop() {
					v := pol.p.Decide(&r)
					if v.Status == 1 {
						b.Fatal("impossible")
					}
				}
			})
		}
	}
}

// BenchmarkDirScanOneFragment is the reload work after one fragment of
// 500 changes: read the directory, validate the changed fragment alone,
// merge. Each iteration alternates the fragment between two versions.
func BenchmarkDirScanOneFragment(b *testing.B) {
	dir := scaleDir(b)
	d := policy.OpenDir(dir)
	if _, err := d.Scan(); err != nil {
		b.Fatal(err)
	}
	name := filepath.Join(dir, "team-250.yaml")
	versions := [][]byte{[]byte(scaleFragment(250, true)), []byte(scaleFragment(250, false))}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		if err := os.WriteFile(name, versions[i%2], 0o644); err != nil {
			b.Fatal(err)
		}
		i++
		b.StartTimer()
		res, err := d.Scan()
		if err != nil || !res.Changed || len(res.Validated) != 1 {
			b.Fatalf("scan: %v changed %v validated %v", err, res.Changed, res.Validated)
		}
	}
}

// BenchmarkMergeFull is the merge of 500 fragments into a class whose base
// has a wildcard (so every entry's coverage is checked): the cost of a
// base change, or of the first load.
func BenchmarkMergeFull(b *testing.B) {
	base := mustParse(b, strings.Replace(scaleBase(), "    delegate:\n", "    allow_origins: ['https://*.example.com']\n    delegate:\n", 1))
	frags := make([]*policy.Fragment, scaleFragments)
	for i := range frags {
		frags[i] = mustFragment(b, base, fmt.Sprintf("team-%03d.yaml", i), scaleFragment(i, i%2 == 0))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := base.WithFragments(frags); err != nil {
			b.Fatal(err)
		}
	}
}
