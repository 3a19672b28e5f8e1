//go:build race

package console_test

// raceEnabled: the race detector slows the broker's side several times;
// the speed bound is checked in normal builds only.
const raceEnabled = true
