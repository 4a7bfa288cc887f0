//go:build race

package check

// raceEnabled: the race detector's instrumentation changes allocation
// counts, so allocation assertions are skipped under it.
const raceEnabled = true
