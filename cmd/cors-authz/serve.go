package main

import (
	"context"
	"fmt"
	"io"
)

// serveCmd is being written (issue 3); this placeholder keeps the tree building.
func serveCmd(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "cors-authz serve: not built yet")
	return 1
}
