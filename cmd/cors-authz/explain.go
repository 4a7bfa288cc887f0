package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/cors-authz/cors-authz/pkg/explain"
	"github.com/cors-authz/cors-authz/pkg/policy"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// optionalString is a string flag that records whether it was given, so
// that --origin "" (an empty Origin header) differs from no --origin.
type optionalString struct{ v *string }

func (o *optionalString) String() string {
	if o.v == nil {
		return ""
	}
	return *o.v
}
func (o *optionalString) Set(v string) error { o.v = &v; return nil }

// explainCmd shows the class, verdict and exact Envoy response for one
// request under a policy file.
func explainCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "policy file (default: the embedded example policy)")
	var in explain.Input
	var origin optionalString
	var headers stringList
	fs.StringVar(&in.Method, "method", "GET", "request method")
	fs.StringVar(&in.Path, "path", "/", "request path (query allowed)")
	fs.StringVar(&in.Host, "host", "localhost", "request host (:authority)")
	fs.StringVar(&in.Scheme, "scheme", "https", "request scheme")
	fs.Var(&origin, "origin", "Origin header (omit for a request without one)")
	fs.Var(&headers, "header", "request header 'Name: value' (repeatable), e.g. 'Access-Control-Request-Method: PUT'")
	fs.StringVar(&in.Class, "class", "", "cors_class context extension, as an Envoy route would set it")
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
	in.Origin, in.Headers = origin.v, headers

	p, err := loadPolicy(*config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	r, err := in.Request()
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
	fmt.Fprintf(stdout, "policy:   %s (sha256 %s)\n", p.Source(), p.SHA256()[:12])
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
