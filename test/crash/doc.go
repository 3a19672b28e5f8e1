// Package crash holds end-to-end crash tests of the journal store. They build
// the real junction binary, run it under a STOMP load of persistent messages
// sent with receipts, kill it with SIGKILL at random moments (also while the
// journal compacts), restart it on the same data folder and check that no
// message a producer was told is safe is ever lost, and that a message comes
// back after being acknowledged only when its acknowledgement may not have
// reached the disk.
//
// The package has no code of its own; everything lives in its tests:
//
//	go test ./test/crash/ -v                          # 20 kills per test
//	go test ./test/crash/ -crash.iterations 200 -v    # a longer soak
//	go test ./test/crash/ -crash.seed 42 -v           # replay a kill schedule
//	go test ./test/crash/ -crash.keep -crash.images /tmp/img -run TestKillUnderLoad
//	                                                  # keep the data and every crash image
package crash
