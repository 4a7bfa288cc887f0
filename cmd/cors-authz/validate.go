package main

import (
	"context"
	"fmt"
	"io"
)

func validateCmd(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "cors-authz validate: not built yet")
	return 1
}

func explainCmd(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "cors-authz explain: not built yet")
	return 1
}
