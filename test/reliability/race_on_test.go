//go:build linux && race

package reliability

// raceEnabled: the test binary runs with the race detector, so the
// cors-authz binary under test is built with it too.
const raceEnabled = true
