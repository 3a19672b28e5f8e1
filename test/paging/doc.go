// Package paging tests address-full-policy PAGE end to end (issue 13 item
// 3): `junction serve` runs as a process with a small memory budget, a STOMP
// client queues persistent 1 KiB messages on one address with no consumer,
// the broker is killed (SIGKILL) and restarted midway, and the queue is
// drained in order; every message comes exactly once and the broker's
// resident memory stays bounded however many are queued.
//
// The count is JUNCTION_PAGING_MESSAGES (default 100,000, about a minute
// per store); issue 13's figure is 5,000,000. With -v it logs the send and
// drain rates and the peak RSS, and, with JUNCTION_PAGING_BASELINE=1, the
// same for a queue that fits in memory (docs/PERFORMANCE.md, "Paging").
package paging
