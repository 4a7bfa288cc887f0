package scale

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cors-authz/cors-authz/bench/fixture"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Delegated allowlists at scale (issue 15): Fragments team files granting
// PerFragment exact origins each, 100,000 in all, in the fixture's class.
const (
	Fragments   = 500
	PerFragment = 200
)

// DelegatedOrigins are the origins of fragment i. The last fragment's last
// origin is fixture.AllowedOrigin, so the fixture's cases mean the same
// under the directory as under one file holding every origin.
func DelegatedOrigins(i int) []string {
	out := make([]string, PerFragment)
	for j := range out {
		out[j] = fmt.Sprintf("https://app-%d.team-%d.example.org", j, i)
	}
	if i == Fragments-1 {
		out[PerFragment-1] = fixture.AllowedOrigin
	}
	return out
}

// OneFileYAML is the fixture policy granting every fragment's origins
// itself: the single-file equivalent of the directory.
func OneFileYAML() []byte {
	var exact []string
	for i := range Fragments {
		exact = append(exact, DelegatedOrigins(i)...)
	}
	return fixture.ScaledPolicyYAML(exact, []string{fixture.WildcardOrigin})
}

// BaseYAML is the fixture policy with no origins of its own but the
// wildcard, its class delegated to teams under example.org.
func BaseYAML() []byte {
	s := string(fixture.ScaledPolicyYAML(nil, []string{fixture.WildcardOrigin}))
	return []byte(s + "    delegate:\n      origin_domains: [example.org]\n      allow_headers: [X-Team]\n      max_origins: 1000\n")
}

// FragmentYAML is fragment i's file; marker, if not empty, is one more
// origin only this version grants.
func FragmentYAML(i int, marker string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nextend:\n  - class: %s\n    allow_origins:\n", fixture.ClassName)
	for _, o := range DelegatedOrigins(i) {
		b.WriteString("      - " + o + "\n")
	}
	if marker != "" {
		b.WriteString("      - " + marker + "\n")
	}
	b.WriteString("    allow_headers: [X-Team]\n")
	return []byte(b.String())
}

// FragmentFile is fragment i's file name in the directory.
func FragmentFile(i int) string { return fmt.Sprintf("team-%03d.yaml", i) }

// WriteDir writes the base policy and every fragment into dir, with
// modification times an hour old: a directory that has settled, as a
// mounted ConfigMap is between changes.
func WriteDir(dir string) error {
	old := time.Now().Add(-time.Hour)
	write := func(name string, data []byte) error {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		return os.Chtimes(p, old, old)
	}
	if err := write(policy.BaseFile, BaseYAML()); err != nil {
		return err
	}
	for i := range Fragments {
		if err := write(FragmentFile(i), FragmentYAML(i, "")); err != nil {
			return err
		}
	}
	return nil
}
