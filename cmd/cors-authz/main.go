// Command cors-authz is an Envoy external-authorization (ext_authz v3) gRPC
// service that enforces one CORS policy for every service behind a mesh.
//
// Usage:
//
//	cors-authz serve    [flags]            run the Check service
//	cors-authz validate FILE               check a policy file
//	cors-authz explain  --config FILE ...  show the verdict for one request
//	cors-authz diff     OLD NEW            compare two policy files
//	cors-authz check    [flags]            send one CheckRequest to a running service
//	cors-authz version                     print the build's version, revision and Go version
//
// main only wires things together: each subcommand lives in its own file.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/cors-authz/cors-authz/internal/buildinfo"
)

// command runs one subcommand and returns the process exit code.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) int

func commands() map[string]command {
	return map[string]command{
		"serve":    serveCmd,
		"validate": validateCmd,
		"explain":  explainCmd,
		"diff":     diffCmd,
		"check":    checkCmd,
		"version":  versionCmd,
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling so that a
	// second one kills the process during a slow drain.
	go func() { <-ctx.Done(); stop() }()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "cors-authz: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: cors-authz <command> [flags]

commands:
  serve      run the ext_authz gRPC service (default policy: the embedded example)
  validate   check a policy file; prints warnings, or every error with file:line
  explain    show the class, verdict and exact response for one request
  diff       compare two policy files; flags changes that widen access
  check      send one Envoy-shaped CheckRequest to a running service
  version    print the version, VCS revision and Go version of this build

Run 'cors-authz <command> -h' for a command's flags.
`)
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// versionCmd prints the build's identity, the same values serve exports as
// cors_authz_build_info: the version on the first line, then the VCS
// revision and the Go toolchain.
func versionCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" {
			fmt.Fprintln(stderr, "usage: cors-authz version\n\nPrints the version, the VCS revision and the Go version of this build.")
			return 0
		}
		fmt.Fprintf(stderr, "cors-authz version: unexpected argument %q\n", args[0])
		return 2
	}
	info := buildinfo.Read(version)
	fmt.Fprintf(stdout, "cors-authz %s\nrevision: %s\ngo: %s\n", info.Version, info.Revision, info.GoVersion)
	return 0
}
