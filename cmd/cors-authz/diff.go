package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/cors-authz/cors-authz/internal/diff"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// Exit codes of diff. Without --exit-code a successful comparison exits 0
// whatever it found, like diff tools in a terminal; with it the code says
// what changed, for CI (like git diff --exit-code, and terraform plan
// -detailed-exitcode, which also keeps 1 for errors).
const (
	diffExitSame    = 0 // no change to the normalised policy
	diffExitError   = 1 // a file is unreadable or invalid
	diffExitUsage   = 2
	diffExitWidens  = 3 // --exit-code: at least one change widens access
	diffExitChanged = 4 // --exit-code: changes, none of which widens access
)

// diffCmd compares two policy files and flags the changes that widen
// cross-origin access.
func diffCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	exitCode := fs.Bool("exit-code", false, "exit 3 if a change widens access, 4 if the policies differ otherwise, 0 if they are the same")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: cors-authz diff [--json] [--exit-code] OLD NEW

Compares two policy files class by class: origins, methods and headers
added or removed, flags and match rules changed, classes added, removed or
moved, and the requests that may change class (the first class whose match
holds serves a request). Changes that widen access are marked "+ WIDENS".
When OLD or NEW is a policy directory, the comparison is file by file: the
base policy (with its delegate guardrails), then each fragment by name,
each file's widening changes marked.

Exit status: 0 when the comparison ran (with --exit-code: only when the
normalised policies are the same); 1 when a file is unreadable or invalid;
2 on a usage error; with --exit-code, 3 when a change widens access and 4
when the policies differ but nothing widens.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return diffExitUsage
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return diffExitUsage
	}
	old, ok := loadForDiff(fs.Arg(0), stderr)
	new, ok2 := loadForDiff(fs.Arg(1), stderr)
	if !ok || !ok2 {
		return diffExitError
	}

	var r diffReport = diff.Policies(old, new)
	if policy.IsDir(fs.Arg(0)) || policy.IsDir(fs.Arg(1)) {
		r = diff.Dirs(old, new) // file by file
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return diffExitError
		}
	} else {
		fmt.Fprint(stdout, r.Text())
	}
	switch {
	case !*exitCode || !r.Changed():
		return diffExitSame
	case r.Widen():
		return diffExitWidens
	default:
		return diffExitChanged
	}
}

// diffReport is a comparison of two policy files or of two directories.
type diffReport interface {
	Text() string
	Changed() bool
	Widen() bool
}

// loadForDiff loads one policy file, printing every error with its
// file:line as validate does.
func loadForDiff(file string, stderr io.Writer) (*policy.Policy, bool) {
	p, _, err := policy.Load(file)
	if printRefusal(stderr, file, err) {
		return nil, false
	}
	return p, true
}
