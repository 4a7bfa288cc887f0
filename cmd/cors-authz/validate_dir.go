package main

import (
	"fmt"
	"io"

	"github.com/cors-authz/cors-authz/pkg/policy"
)

// validateDir checks a policy directory file by file: the base policy,
// then each fragment against the base's guardrails. Every file's warnings
// and errors are printed with their file:line, then one line per file and
// a summary. It returns 1 when any file is refused.
func validateDir(dir string, quiet bool, stdout, stderr io.Writer) int {
	d := policy.OpenDir(dir)
	res, err := d.Scan()
	files := d.Files()
	refused := 0
	for _, st := range files {
		printWarnings(stdout, quiet, st.Warnings)
		if st.State == policy.FileRefused {
			refused++
			if len(st.Issues) == 0 {
				fmt.Fprintf(stderr, "error: %s\n", st.Error)
			}
			for _, is := range st.Issues {
				fmt.Fprintf(stderr, "error: %s\n", is)
			}
			fmt.Fprintf(stderr, "%s: refused, %d error(s)\n", st.File, max(1, len(st.Issues)))
			continue
		}
		if quiet {
			continue
		}
		switch st.Role {
		case policy.RoleBase:
			fmt.Fprintf(stdout, "%s: ok, %d class(es), %d warning(s), sha256 %s\n", st.File, len(res.Policy.Classes()), len(st.Warnings), st.SHA256[:12])
		default:
			fmt.Fprintf(stdout, "%s: ok, %d origin(s), %d warning(s), sha256 %s\n", st.File, fragmentOrigins(res.Policy, st.File), len(st.Warnings), st.SHA256[:12])
		}
	}
	switch {
	case err != nil && refused == 0:
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "%s: refused: the base policy is refused, so no fragment was validated\n", dir)
		return 1
	case refused > 0:
		fmt.Fprintf(stderr, "%s: refused, %d of %d file(s)\n", dir, refused, len(files))
		return 1
	case !quiet:
		fmt.Fprintf(stdout, "%s: ok, %d fragment(s), sha256 %s\n", dir, len(files)-1, res.Policy.SHA256()[:12])
	}
	return 0
}

// fragmentOrigins counts the origins the named fragment grants in p.
func fragmentOrigins(p *policy.Policy, file string) int {
	n := 0
	for _, f := range p.Fragments() {
		if f.Name() == file {
			for _, e := range f.Doc().Extend {
				n += len(e.AllowOrigins)
			}
		}
	}
	return n
}
