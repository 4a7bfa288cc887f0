package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/cors-authz/cors-authz/internal/explain"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// explainCmd shows the class, verdict and exact Envoy response for one
// request under a policy file.
func explainCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "policy file (default: the embedded example policy)")
	rf := requestFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cors-authz explain [--config FILE] --method M --path P [--host H] [--origin O] [--header 'Name: value']... [--class NAME] [--json]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "explain: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	p, err := loadPolicy(*config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	r, err := rf.input().Request()
	if err != nil {
		fmt.Fprintf(stderr, "explain: %v\n", err)
		return 2
	}
	e := explain.Explain(p, r)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(e); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	if n := len(p.Fragments()); n > 0 {
		fmt.Fprintf(stdout, "policy:   %s (sha256 %s; %s and %d fragment(s))\n", *config, p.SHA256()[:12], p.Source(), n)
	} else {
		fmt.Fprintf(stdout, "policy:   %s (sha256 %s)\n", p.Source(), p.SHA256()[:12])
	}
	e.WriteText(stdout)
	return 0
}

// loadPolicy loads file, or the embedded default policy when file is "".
func loadPolicy(file string) (*policy.Policy, error) {
	if file == "" {
		return policy.Default(), nil
	}
	p, _, err := policy.Load(file)
	var perr *policy.Error
	if errors.As(err, &perr) {
		return nil, fmt.Errorf("%s: refused:\n%v", file, err)
	}
	return p, err
}
