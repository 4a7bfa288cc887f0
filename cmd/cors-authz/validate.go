package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// validateCmd checks policy files: exit 0 with warnings printed, or exit 1
// with every error, each with file:line. A Kubernetes ConfigMap manifest is
// checked too: each policy it holds, with lines of the manifest
// (validate_configmap.go).
func validateCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quiet := fs.Bool("q", false, "print errors only, no warnings or summary")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cors-authz validate [-q] FILE|DIR...   (a policy file, a ConfigMap manifest, or a policy directory)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	code := 0
	for _, file := range fs.Args() {
		if policy.IsDir(file) {
			code = max(code, validateDir(file, *quiet, stdout, stderr))
			continue
		}
		if c, handled := validateConfigMapFile(file, os.ReadFile, *quiet, stdout, stderr); handled {
			code = max(code, c)
			continue
		}
		p, warns, err := policy.Load(file)
		printWarnings(stdout, *quiet, warns)
		switch {
		case printRefusal(stderr, file, err):
			code = 1
		case !*quiet:
			fmt.Fprintf(stdout, "%s: ok, %d class(es), %d warning(s), sha256 %s\n", file, len(p.Classes()), len(warns), p.SHA256()[:12])
		}
	}
	return code
}

// printWarnings prints each warning with its file:line on stdout, unless
// quiet.
func printWarnings(stdout io.Writer, quiet bool, warns []policy.Issue) {
	if quiet {
		return
	}
	for _, w := range warns {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
}

// printRefusal prints on stderr why loading where failed: each issue of a
// *policy.Error with its file:line, then "WHERE: refused, N error(s)"; any
// other error on one line. It reports whether err refused where (false when
// err is nil).
func printRefusal(stderr io.Writer, where string, err error) bool {
	var perr *policy.Error
	switch {
	case errors.As(err, &perr):
		for _, is := range perr.Issues {
			fmt.Fprintf(stderr, "error: %s\n", is)
		}
		fmt.Fprintf(stderr, "%s: refused, %d error(s)\n", where, len(perr.Issues))
	case err != nil:
		fmt.Fprintf(stderr, "error: %v\n", err)
	default:
		return false
	}
	return true
}
