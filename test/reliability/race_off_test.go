//go:build linux && !race

package reliability

// raceEnabled: the test binary runs without the race detector.
const raceEnabled = false
