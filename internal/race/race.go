//go:build !race

// Package race reports whether the binary was built with the race
// detector (go build -race, go test -race): tests skip allocation counts
// under it, whose instrumentation allocates, and build the cors-authz
// binary they start with it too.
package race

// Enabled is true when the binary was built with -race.
const Enabled = false
