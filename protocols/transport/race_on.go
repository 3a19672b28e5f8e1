//go:build race

package transport

// raceEnabled: built with -race (see sysRead).
const raceEnabled = true
